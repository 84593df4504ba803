"""thcodec itself as a benchmark codec: `thc encode` / `thc decode` on the reference, no audio.

Thc and ThcHybrid are `thc bench`'s sweeps; ThcSweep is thcodec at the points a one-off sweep
names (encode options and receiver variants: bench/interp.py, keypoint_steps.py, pivots.py, native.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from thcodec.bench.codec import Coded, Setting, ThcCoded, encode_thc
from thcodec.data.reference import Reference
from thcodec.errors import ThcError
from thcodec.models.weights import LoadedModel, load_model
from thcodec.options import EncodeOptions

REFINE = 5  # the slow sender's analysis-by-synthesis steps per sent frame
FULL, COARSE = (1, 1), (4, 8)  # key-point code steps (positions, Jacobians): full precision, the default's


def setting(
    pivot_quality: int,
    interp: int,
    refine: int = 0,
    steps: tuple[int, int] = FULL,
    motion: str = "detector",
    pivot_every: int = 0,
) -> Setting:
    """steps: (positions, Jacobians) key-point code steps; motion: the sender's motion source;
    pivot_every: a pivot at least every so many seconds (--max-pivot-interval).
    Refinement, coarser steps, landmark motion and pivot refreshes are named only when used, so
    earlier points (full precision, no refinement, the detector's motion) still match their names."""
    extra = {}
    if motion != "detector":
        extra["motion"] = motion
    if refine:
        extra["refine"] = refine
    if steps != FULL:
        extra["xy_step"], extra["jac_step"] = steps
    if pivot_every:
        extra["pivot_every"] = pivot_every
    return Setting.of(pivot_quality=pivot_quality, interp=interp, **extra)


def default_setting() -> Setting:
    """What thc encode does without options."""
    o = EncodeOptions()
    return setting(o.pivot_quality, o.interp, o.refine_steps, (o.xy_step, o.jac_step), o.motion)


class Thc:
    name = "thc"
    label = "thcodec (ours)"
    # (pivot JPEG quality, interp, refine steps, key-point steps, motion); the default is
    # 50/2/0/(4, 8)/landmarks. Landmark points (L) are the default sender; the detector's points
    # (its motion, the default before landmark motion) and refined points (the slow sender,
    # analysis by synthesis, thcodec/sender/refine.py) show the other senders: the same receiver, other
    # key points. Full-precision points (1, 1) show what the steps save; the full sweep also spends
    # rate on pivots every 3 and 1 seconds instead (what more pictures buy).
    landmark_points = (
        *((q, 2, 0, COARSE, "landmarks") for q in (30, 50, 80)),
        (80, 1, 0, FULL, "landmarks"),
        (50, 2, REFINE, COARSE, "landmarks"),
    )
    sweep = (
        *((q, k, 0, FULL) for q in (30, 55, 80) for k in (1, 2)),
        (30, 2, REFINE, FULL),
        (80, 2, REFINE, FULL),
        *((q, 2, 0, COARSE) for q in (30, 50, 80)),
        (50, 2, REFINE, COARSE),
        *landmark_points,
        *((30, 2, 0, COARSE, "landmarks", s) for s in (3, 1)),
    )
    quick_sweep = (
        (30, 1, 0, FULL),
        (80, 1, 0, FULL),
        (30, 2, 0, FULL),
        (80, 2, 0, FULL),
        (30, 2, REFINE, FULL),
        (80, 2, REFINE, FULL),
        *((q, 2, 0, COARSE) for q in (30, 50, 80)),
        (50, 2, REFINE, COARSE),
        *landmark_points,
    )

    def __init__(self, weights: Path | None = None) -> None:
        self._weights = weights  # None: the shipped weights/
        self._loaded: LoadedModel | None = None
        self._sender: LoadedModel | None = None

    @property
    def loaded(self) -> LoadedModel:
        """The receiver's networks (the default backend, as thc decode)."""
        if self._loaded is None:
            self._loaded = load_model(self._weights)
        return self._loaded

    @property
    def sender(self) -> LoadedModel:
        """The sender's networks: eager PyTorch, as thc encode."""
        if self._sender is None:
            self._sender = load_model(self._weights, backend="torch")
        return self._sender

    def settings(self, quick: bool) -> list[Setting]:
        return [setting(*p) for p in (self.quick_sweep if quick else self.sweep)]

    def options(self, setting: Setting) -> EncodeOptions:
        given = dict(setting.values)
        every = given.get("pivot_every", 0)  # the other pivot triggers may not wait longer than that
        refresh = (
            {"max_pivot_interval_s": every, "min_pivot_interval_s": min(every, EncodeOptions.min_pivot_interval_s)}
            if every
            else {}
        )
        return EncodeOptions(
            interp=given["interp"],
            pivot_quality=given["pivot_quality"],
            audio=False,
            refine_steps=given.get("refine", 0),
            xy_step=given.get("xy_step", 1),
            jac_step=given.get("jac_step", 1),
            motion=given.get("motion", "detector"),
            **refresh,
        )

    def run(self, ref: Reference, setting: Setting, out_dir: Path) -> Coded:
        out = out_dir / f"{self.name}_{setting.slug}.thc"
        return decoded(encode_thc(ref.path, out, self.sender, self.options(setting)), ref, Receiver(self.loaded))


@dataclass(frozen=True)
class Receiver:
    """One way to decode a stream: the networks and thc decode's --interp-method and --sr."""

    loaded: LoadedModel
    interp_method: str = "net"
    sr: str = "net"


def decoded(coded: ThcCoded, ref: Reference, receiver: Receiver) -> Coded:
    """A thcodec stream of ref decoded to frames (bench.codec.decode_frames), as a benchmark result."""
    frames, decode_s = coded.decode(receiver.loaded, receiver.interp_method, receiver.sr)
    if len(frames) != ref.count:
        raise ThcError(f"thc decoded {len(frames)} frames of {ref.count}")
    s = coded.stats
    parts = {k: v for k, v in s.bytes_by_category.items() if k in ("pivot", "keypoints", "base", "container")}
    info = {"pivots": [[p.frame, p.reason, p.bytes] for p in s.pivots], "worst_window_kbps": s.worst_window_kbps}
    return Coded(coded.stream, s.bytes_total, frames, coded.encode_s, decode_s, bitstream_vmaf=False, parts=parts, info=info)


class ThcSweep:
    """thcodec at the points a sweep names, encoded and decoded with the networks it is given.

    A point's values are EncodeOptions fields on top of `base` (interp=2, xy_step=4, ...), plus
    optionally mode=NAME (the fields modes[NAME] sets) and decoder=NAME (one of `receivers`; the
    first by default). A point that differs from the one before only in its decoder decodes the
    same stream again instead of encoding it anew."""

    label = "thcodec"

    def __init__(
        self,
        points: list[Setting],
        loaded: LoadedModel,
        receivers: dict[str, Receiver] | None = None,
        modes: dict[str, dict] | None = None,
        base: EncodeOptions | None = None,
        name: str = "thc",
    ) -> None:
        self.points, self.loaded, self.name = points, loaded, name
        self.receivers = receivers or {"net": Receiver(loaded)}
        self.modes = modes or {}
        self.base = base or EncodeOptions(audio=False)
        self._last: tuple[tuple, ThcCoded] | None = None  # (reference, encoding) -> its stream

    def settings(self, quick: bool) -> list[Setting]:
        return self.points

    def options(self, encoding: Setting) -> EncodeOptions:
        given = dict(encoding.values)
        mode = self.modes[given.pop("mode")] if "mode" in given else {}
        return dataclasses.replace(self.base, **mode, **given)

    def run(self, ref: Reference, setting: Setting, out_dir: Path) -> Coded:
        receiver = self.receivers[dict(setting.values).get("decoder", next(iter(self.receivers)))]
        encoding = Setting(tuple((k, v) for k, v in setting.values if k != "decoder"))
        key = (ref.path, encoding)
        if self._last is None or self._last[0] != key:
            stream = out_dir / f"{ref.name}_{self.name}_{encoding.slug or 'default'}.thc"
            self._last = (key, encode_thc(ref.path, stream, self.loaded, self.options(encoding)))
        return decoded(self._last[1], ref, receiver)


class ThcHybrid(Thc):
    """The hybrid mode (thc encode --mode hybrid): the keypoint stream plus a small AV1 base layer
    of the face. Settings: (pivot JPEG quality, interp, base size, base CRF, base step)."""

    name = "thc_hybrid"
    label = "thcodec hybrid (ours)"
    sweep = (
        (30, 3, 64, 63, 4),
        (30, 3, 64, 63, 2),
        (30, 2, 64, 55, 2),
        (50, 2, 96, 63, 2),
        (50, 2, 96, 55, 2),
        (50, 2, 128, 55, 2),
        (50, 2, 128, 47, 2),
    )
    quick_sweep = ((30, 3, 64, 63, 4), (30, 2, 64, 55, 2), (50, 2, 96, 55, 2), (50, 2, 128, 47, 2))

    def settings(self, quick: bool) -> list[Setting]:
        return [
            Setting.of(pivot_quality=q, interp=k, base_size=s, base_crf=c, base_step=m)
            for q, k, s, c, m in (self.quick_sweep if quick else self.sweep)
        ]

    def options(self, setting: Setting) -> EncodeOptions:
        g = dict(setting.values)
        return EncodeOptions(
            mode="hybrid",
            interp=g["interp"],
            pivot_quality=g["pivot_quality"],
            audio=False,
            base_size=g["base_size"],
            base_crf=g["base_crf"],
            base_step=g["base_step"],
        )
