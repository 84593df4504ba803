"""`thc encode --kbps R`: the mode and its settings for a target rate, from a ladder the bench
measured (docs/hybrid.md, "Rate: --kbps and --base-kbps"; the points in docs/hybrid_points.csv).

The ladder is read at the rate left for the picture (R less the audio). Below the hybrid mode's
lowest rung the keypoint mode is chosen (it has no rate setting of its own: its pivot quality is
its only lever). In hybrid mode the base layer is coded at a target rate: what is left of R after
the audio, the key points and the pivot, the pivot's bytes spread over the call's length. Options
the user gave (EncodeOptions.given) are never changed: --mode, --pivot-quality, --interp,
--xy-step, --jac-step, --base-size, --base-step, and --base-crf or --base-kbps (either keeps the
base layer's rate the user's)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from thcodec.errors import ThcError
from thcodec.options import HYBRID_ONLY, MODEL_SIZE, EncodeOptions


@dataclass(frozen=True)
class Rung:
    kbps: float  # the lowest picture rate (R less the audio) this rung is for
    mode: str
    pivot_quality: int
    interp: int = 2  # key points for every interp-th frame
    xy_step: int = 4  # and their precision (EncodeOptions.xy_step, jac_step)
    jac_step: int = 8


# Measured on th256 val clips (docs/hybrid.md): the keypoint mode at pivot quality 30 for the
# lowest targets, at its default above; the hybrid mode from where its picture beats the keypoint
# mode's in PSNR and VMAF (not in landmark error: the doc says by how much), with fewer and
# coarser key points: the bytes they save do more for the base layer than for the motion (the
# base picture shows where the face is; the fusion network re-aligns the animation with it), at
# every hybrid rate since the fusion takes less of the animation's low band ("Fewer, coarser key
# points" and "The animation's low band" there).
LADDER = (
    Rung(0, "keypoints", 30),
    Rung(8, "keypoints", 50),
    Rung(10, "hybrid", 50, interp=4, xy_step=16, jac_step=32),
)
# The base picture's size by the base layer's rate (kbit/s, at its lowest): at the same rate a
# larger picture gave the better base and fused picture, except at the lowest rates.
BASE_SIZE_BY_KBPS = ((0, 96), (4, 128))
# Estimates of what the hybrid stream spends before its base layer, measured on train clips
# (docs/hybrid.md), so the val clips that measure the ladder did not set them.
# Key points and the stream's framing, kbit/s, by (--interp, --xy-step, --jac-step): fewer sent
# frames cost more each (a longer step between them to code). Another precision is counted at
# the default one's rate for its --interp.
KEYPOINT_KBPS = {(1, 4, 8): 5.2, (2, 4, 8): 3.3, (3, 4, 8): 2.5, (4, 4, 8): 2.1, (4, 16, 32): 1.4}
PIVOT_BYTES = 2750  # one pivot picture at quality 50 (AV1), 256x256
# A larger frame's pivot: PIVOT_BYTES x (its pixels / 256x256) to this power (whole first frames
# of 8 train clips, 720x720 to 1920x1080, against their 256x256 face crops: 0.46-0.81, mean 0.57).
PIVOT_AREA_EXPONENT = 0.55
PIVOT_SPREAD_S = 10.0  # a call of unknown length (a pipe) counts its pivot over this long
MIN_BASE_KBPS = 3.0  # under this SVT-AV1's CBR overshoots its target (docs/hybrid.md): the keypoint mode


def pick(kbps: float, mode: str | None = None) -> Rung:
    """The highest rung at or under kbps, of `mode` when given (else the lowest of that mode)."""
    rungs = [r for r in LADDER if mode is None or r.mode == mode]
    fitting = [r for r in rungs if r.kbps <= kbps]
    return fitting[-1] if fitting else rungs[0]


def base_size_for(base_kbps: float) -> int:
    """The base picture's side for a base layer at base_kbps."""
    size = BASE_SIZE_BY_KBPS[0][1]
    for floor, side in BASE_SIZE_BY_KBPS:
        size = side if floor <= base_kbps else size
    return size


def pivot_bytes(pixels: int) -> float:
    """The estimated size of one pivot picture of `pixels` pixels at quality 50."""
    return PIVOT_BYTES * max(1.0, pixels / MODEL_SIZE**2) ** PIVOT_AREA_EXPONENT


def keypoint_kbps(interp: int, xy_step: int = 4, jac_step: int = 8) -> float:
    """The estimated rate of the key points and the stream's framing at these settings."""
    return KEYPOINT_KBPS.get((interp, xy_step, jac_step), KEYPOINT_KBPS[(interp, 4, 8)])


def base_budget(kbps: float, keypoints_kbps: float, duration_s: float, pixels: int = MODEL_SIZE**2) -> float:
    """What is left of a picture rate (kbit/s) for the base layer after the key points and the
    pivot (a frame of `pixels` pixels)."""
    spread = duration_s if duration_s > 0 else PIVOT_SPREAD_S
    return kbps - keypoints_kbps - pivot_bytes(pixels) * 8 / 1000 / spread


def _keypoint_settings(opts: EncodeOptions, rung: Rung) -> dict[str, int]:
    """--interp, --xy-step and --jac-step: the user's where given, else the rung's."""
    return {k: getattr(opts if k in opts.given else rung, k) for k in ("interp", "xy_step", "jac_step")}


def for_target(opts: EncodeOptions, audio_kbps: float, duration_s: float, pixels: int = MODEL_SIZE**2) -> EncodeOptions:
    """opts with the mode and settings for opts.kbps (opts itself without a target).

    audio_kbps: the audio's share of the target (0 without audio); duration_s: the call's length
    (0: unknown); pixels: the frame's (its pivots cost more on a larger frame)."""
    if not opts.kbps:
        return opts
    picture = opts.kbps - audio_kbps
    if picture <= 0:
        raise ThcError(
            f"--kbps {opts.kbps:g} leaves nothing for the picture: the audio alone takes {audio_kbps:g} kbit/s "
            "(lower --audio-kbps, or --no-audio)"
        )
    given = opts.given
    mode = opts.mode if "mode" in given else ("hybrid" if given & HYBRID_ONLY else None)
    rung = pick(picture, mode)
    budget = base_budget(picture, keypoint_kbps(**_keypoint_settings(opts, rung)), duration_s, pixels)
    if rung.mode == "hybrid" and budget < MIN_BASE_KBPS and not given & {"base_crf", "base_kbps"}:
        if mode == "hybrid":
            raise ThcError(
                f"--kbps {opts.kbps:g} leaves {max(budget, 0):.1f} kbit/s for the base layer after the audio, key points "
                f"and pivot (it needs {MIN_BASE_KBPS:g}): raise --kbps, or leave the mode and the --base-* options to it"
            )
        rung = pick(picture, "keypoints")
    return _apply(opts, rung, budget)


def _apply(opts: EncodeOptions, rung: Rung, budget: float) -> EncodeOptions:
    """opts with the rung's settings, except those the user gave."""
    given = opts.given
    change: dict = {"mode": rung.mode, "pivot_quality": rung.pivot_quality, **_keypoint_settings(opts, rung)}
    if rung.mode == "hybrid":
        own = opts.base_kbps if "base_kbps" in given else budget  # a --base-crf user's base: sized as ours
        change["base_size"] = base_size_for(own)
        if not given & {"base_crf", "base_kbps"}:
            change["base_kbps"] = round(budget, 1)
    return dataclasses.replace(opts, **{k: v for k, v in change.items() if k not in given})


def describe(opts: EncodeOptions) -> str:
    """The settings a target chose, for the summary line: "hybrid, base 96 px at 5.2 kbit/s"."""
    if opts.mode != "hybrid":
        return f"{opts.mode}, pivot quality {opts.pivot_quality}"
    rate = f"{opts.base_kbps:g} kbit/s" if opts.base_kbps else f"CRF {opts.base_crf}"
    keypoints = f"key points every {opts.interp} frames at steps {opts.xy_step}/{opts.jac_step}"
    base = f"base {opts.base_size} px every {opts.base_step} frames at {rate}"
    return f"hybrid, pivot quality {opts.pivot_quality}, {keypoints}, {base}"
