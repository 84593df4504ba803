"""thcodec itself as a benchmark codec: `thc encode` / `thc decode` on the reference, no audio."""

from __future__ import annotations

from pathlib import Path

from thcodec.bench.codec import Coded, Setting, encode_thc
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
        coded = encode_thc(ref.path, out, self.sender, self.options(setting))
        frames, decode_s = coded.decode(self.loaded)
        if len(frames) != ref.count:
            raise ThcError(f"thc decoded {len(frames)} frames of {ref.count}")
        s = coded.stats
        parts = {k: v for k, v in s.bytes_by_category.items() if k in ("pivot", "keypoints", "base", "container")}
        return Coded(out, s.bytes_total, frames, coded.encode_s, decode_s, bitstream_vmaf=False, parts=parts)


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
