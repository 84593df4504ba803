"""The training options: one parser for every part, built from the parts' config dataclasses.

A config is a frozen dataclass whose fields carry their command-line help (`option`); the
parser gets one `--flag` per field (`--field-name`), shared fields (e.g. --rotate) once.
`RunConfig` holds what every part's run takes (folder, steps, learning rate, ...); each part
adds its own config (thcodec/train/parts.py lists them)."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def option(default: Any, help: str, **argparse_kwargs: Any) -> Any:
    """A config field with its command-line help; argparse_kwargs (type, choices, metavar, ...) go to add_argument."""
    return field(default=default, metadata={"help": help, **argparse_kwargs})


@dataclass(frozen=True)
class RunConfig:
    """What every training run takes, whatever its part."""

    part: str = option(None, "the part to train", choices=())
    run: Path = option(
        None,
        "folder for last.pt, best.pt and log.jsonl (--run-dir under torchrun, whose own --run-path would swallow --run)",
        type=Path,
        required=True,
        aliases=("--run-dir",),
    )
    steps: int = option(4000, "training steps")
    minutes: float | None = option(
        None, "end after this many minutes of training (a lent GPU's time), validating and saving first", type=float
    )
    batch: int = option(4, "pairs (samples) per step and process")
    lr: float = option(2e-4, "peak learning rate")
    val_every: int = option(250, "validate (and save) every this many steps")
    threads: int = option(1, "torch CPU threads")
    seed: int = option(0, "seed of the sampling")
    keep_all: bool = option(
        False,
        "also keep the trained networks' EMA weights at every validation as snap_<step>.pt "
        "(a discriminator works against validation PSNR: let the bench pick)",
    )


def _flag(f: dataclasses.Field) -> tuple[list[str], dict]:
    meta = dict(f.metadata)
    names = [f"--{f.name.replace('_', '-')}", *meta.pop("aliases", ())]
    if f.type in (bool, "bool"):
        return names, {"action": "store_true", "help": meta["help"]}
    kw = {"default": f.default, **meta}
    if "type" not in kw and f.default is not None and not isinstance(f.default, tuple):
        kw["type"] = type(f.default)
    return names, kw


def parser(parts: dict[str, type], description: str = "") -> argparse.ArgumentParser:
    """One parser: RunConfig's options, then each part's (a field two parts share, once)."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    seen: set[str] = set()
    groups = [("run", RunConfig), *((f"--part {name}", cfg) for name, cfg in parts.items())]
    for title, cfg in groups:
        group = p.add_argument_group(title)
        for f in dataclasses.fields(cfg):
            if f.name in seen:
                continue
            seen.add(f.name)
            names, kw = _flag(f)
            if f.name == "part":
                kw.update(choices=tuple(parts), required=True)
            group.add_argument(*names, dest=f.name, **kw)
    return p


def configs(ns: argparse.Namespace, part_config: type) -> tuple[RunConfig, Any]:
    """Parsed options -> (RunConfig, the part's config)."""
    pick = lambda cfg: cfg(**{f.name: getattr(ns, f.name) for f in dataclasses.fields(cfg)})
    return pick(RunConfig), pick(part_config)
