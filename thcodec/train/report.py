"""A training log a person can read: loss curves and validation per checkpoint, as PNG + Markdown.

    python -m thcodec.train.report --run keypoints=runs/kp --run motion=runs/motion --out weights/log

Reads each run's log.jsonl (written by thcodec.train.train) and writes, per run, NAME_loss.png
(training loss, raw and smoothed), NAME_val.png (the validation score that picks the best
checkpoint) and one README.md with every validation row.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from thcodec.media.plot import BLACK, BLUE, GREEN, GREY, RED, Series, line_chart

# The validation score each part keeps its best checkpoint by (see train.py / interp.py / sr.py).
SCORE = {
    "keypoints": ("kp_err_px", "key-point error vs the dlib teacher (px at 256, lower is better)"),
    "motion": ("psnr", "PSNR of animated val frames (dB, higher is better)"),
    "motion_gan": ("psnr", "PSNR of animated val frames from the detector's key points (dB, higher is better)"),
    "motion_gpu": ("psnr", "PSNR of animated val frames from the landmark motion's key points (dB, higher is better)"),
    "motion_v4": ("psnr", "the same, v4 (shipped: picked by thc bench, not by this score; dB, higher is better)"),
    "interp": ("net_px", "interpolated key-point error (px at 256, lower is better)"),
    "sr": ("psnr", "super-resolution PSNR at 512, mean of x2 and x4 (dB, higher is better)"),
    "sr_nopivot": ("psnr", "the same network without the pivot input (ablation; dB, higher is better)"),
    "fusion": ("psnr", "hybrid mode: PSNR of the fused val faces against the originals (dB, higher is better)"),
    "fusion_v2": (
        "psnr",
        "the same, v2: landmark-driven pairs, detail-energy term (shipped: picked by VMAF on the hybrid bench; dB)",
    ),
    "light": (
        "psnr_teacher",
        "the light generator: PSNR of its val frames against the shipped generator's (dB, higher is better)",
    ),
    "fusion_v2_l1": ("psnr", "the same pairs without the detail-energy term (ablation; dB, higher is better)"),
}


def read_log(path: Path) -> tuple[list[dict], list[dict]]:
    train, val = [], []
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        (val if "val" in rec else train).append(rec.get("val", rec))
    return train, val


def smooth(y: list[float], n: int = 10) -> list[float]:
    y = np.asarray(y, float)
    return [float(y[max(0, i - n + 1) : i + 1].mean()) for i in range(len(y))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", action="append", required=True, help="PART=FOLDER, PART one of " + ", ".join(SCORE))
    p.add_argument("--out", type=Path, default=Path("weights/log"))
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    md = ["# Training log", "", "Written by `python -m thcodec.train.report` from the runs' log.jsonl files.", ""]
    for spec in a.run:
        part, folder = spec.split("=", 1)
        key, meaning = SCORE[part]
        train, val = read_log(Path(folder) / "log.jsonl")
        steps, loss = [r["step"] for r in train], [r["loss"] for r in train]
        line_chart(
            [Series("loss", steps, loss, GREY, 1), Series("mean of 10", steps, smooth(loss), BLUE, 2)],
            f"{part}: training loss",
            "step",
            "loss",
            a.out / f"{part}_loss.png",
        )
        if val:
            line_chart(
                [Series(key, [v["step"] for v in val], [v[key] for v in val], GREEN, 2)],
                f"{part}: {meaning}",
                "step",
                key,
                a.out / f"{part}_val.png",
            )
        cols = [k for k in val[0] if k != "step"] if val else []
        md += [f"## {part} ({folder})", "", f"![loss]({part}_loss.png)", ""]
        gan = [r for r in train if "d_loss" in r]  # trained with the discriminator (--gan): its terms too
        if gan:
            at = [r["step"] for r in gan]
            line_chart(
                [Series(k, at, smooth([r[k] for r in gan]), c, 2) for k, c in (("adv", RED), ("fm", BLUE), ("d_loss", BLACK))],
                f"{part}: adversarial, feature matching, discriminator (mean of 10)",
                "step",
                "loss",
                a.out / f"{part}_gan.png",
            )
            md += ["The loss above is the pixel loss; the discriminator's terms:", "", f"![gan]({part}_gan.png)", ""]
        if val:
            best = (min if "lower" in meaning else max)(val, key=lambda v: v[key])
            md += [
                f"![validation]({part}_val.png)",
                "",
                f"Best by this score: step {best['step']} ({key} {best[key]:.3f}).",
                "",
                "| step | " + " | ".join(cols) + " |",
                "|---" * (len(cols) + 1) + "|",
            ]
            md += [
                f"| {v['step']} | " + " | ".join(f"{v[c]:.3f}" if isinstance(v[c], float) else str(v[c]) for c in cols) + " |"
                for v in val
            ]
        md.append("")
    (a.out / "README.md").write_text("\n".join(md))
    print(f"wrote {a.out}/README.md")


if __name__ == "__main__":
    main()
