"""Encoder options and their defaults, and the decoder's output presets (no heavy imports: the CLI
reads them at start-up)."""

from __future__ import annotations

from dataclasses import dataclass

from thcodec.errors import UsageError

MODEL_SIZE = 256  # side of the square face region the networks see
MOTION_SOURCES = ("landmarks", "detector")
MODES = ("keypoints", "hybrid")
PIVOT_CODECS = ("auto", "jpeg", "av1")
BASE_SIZES = (48, 64, 80, 96, 112, 128)  # the base layer's sizes the fusion network was trained around (64-128)
MIN_BASE_KBPS, MAX_BASE_KBPS = 1.0, 1000.0  # --base-kbps
MIN_KBPS, MAX_KBPS = 1.0, 10000.0  # --kbps
SCENE_SIZES = (0, 72, 96, 144)  # the scene layer's short side (0: none; SVT-AV1's CBR refuses pictures under 64 high)
SCENE_SHARE = 0.25  # of --base-kbps, the scene layer's (the face keeps the rest)
MIN_SCENE_KBPS = 2.0  # a scene layer's rate below this is too coarse to help (docs/hybrid.md): none is sent
# x264's speed presets for `thc decode`'s H.264 output, fastest first. The output is written beside
# the networks on a 2-core machine, so the default is faster than x264's own (medium):
# docs/speed.md, "x264's preset".
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
DEFAULT_X264_PRESET = "veryfast"
HYBRID_ONLY = frozenset(
    {"base_size", "base_crf", "base_step", "base_kbps", "scene_size"}
)  # options that only the hybrid mode uses


@dataclass(frozen=True)
class EncodeOptions:
    interp: int = 2  # key points for every interp-th frame of a segment (and its last); 2: -15% rate for +1% AKD (issue 4)
    # "jpeg", "av1" (format 2: about half the bytes at the same PSNR), or "auto": pivot_image_codec
    pivot_codec: str = "auto"
    pivot_quality: int = 50  # JPEG quality of pivot frames: ~4.5 kB at 256x256; 80 (~7.5 kB) adds ~37% to a 10 s call for AED -0.01 (docs/results.md)
    audio: bool = True
    audio_bitrate: int = 12000
    block_frames: int = 25  # sent frames per key-point block (1 s at 25 fps)
    independent_every: int = 2  # every n-th key-point block of a segment coded on its own, so a lost block stops there (0: only a segment's first; 2 chosen by measurement: docs/robustness.md)
    # Pivot policy (see thcodec/sender/pivot_policy.py). adaptive=False: one pivot, at frame 0.
    adaptive: bool = True
    max_motion_error_px: float = 5.0  # new pivot when the predicted frames' key points stray this far (px at 256)
    min_pivot_interval_s: float = 2.0  # quality and face triggers wait this long after a pivot
    max_pivot_interval_s: float = 0.0  # a pivot at least this often (0: no limit)
    max_kbps: float = 0.0  # cap on any 10-second window of the whole stream (0: no cap)
    xy_step: int = 4  # key-point positions sent as multiples of this many codes (1 code: 1/16 px at 256; keypoints.coarsen):
    jac_step: int = 8  # and Jacobians of this many (1 code: 1/256): 4 and 8 send ~37% fewer key-point bytes for the same AKD (docs/keypoint_steps.md)
    motion: str = "landmarks"  # how the sender measures motion: "landmarks" (dlib's, relative to the pivot; thcodec/sender/landmark_motion.py) or "detector"
    refine_steps: int = 0  # analysis-by-synthesis steps on each sent frame's key points (thcodec/sender/refine.py); 0: off
    # Hybrid mode (docs/hybrid.md): a small AV1 stream of the face region under the animated pivot.
    mode: str = "keypoints"  # "keypoints" (format 1) or "hybrid" (format 2: + the base layer)
    base_size: int = 64  # side of the base layer's square picture (the 256x256 face region down-scaled)
    base_crf: int = 63  # SVT-AV1's CRF for the base layer (higher: fewer bytes)
    base_step: int = 2  # a base frame every base_step frames of a segment (2: half the frame rate)
    base_kbps: float = 0.0  # the base layer at this target rate, kbit/s (SVT-AV1's CBR) instead of base_crf; 0: CRF
    scene_size: int = 72  # short side of the scene layer, the whole frame down-scaled, on whole-frame calls (0: none)
    # Target rate (thcodec/sender/ladder.py): the mode and its settings are picked for it when the
    # input is opened (its audio and length count); fields named in `given` are the user's and stay.
    kbps: float = 0.0
    given: frozenset[str] = frozenset()

    @property
    def pivot_image_codec(self) -> str:
        """The pivot codec used: pivot_codec, with "auto" read from the mode (so a copy made
        with dataclasses.replace(mode=...) follows its new mode)."""
        if self.pivot_codec != "auto":
            return self.pivot_codec
        return "av1" if self.mode == "hybrid" else "jpeg"

    @property
    def motion_trigger_px(self) -> float:
        """The motion error that sends a new pivot. In hybrid mode none does: the base layer
        already shows what the key points get wrong (docs/hybrid.md: on a zoom-in clip the
        trigger's pivots cost 42% more rate for the same picture)."""
        return self.max_motion_error_px if self.mode == "keypoints" else float("inf")

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"unknown mode {self.mode!r}: choose one of {', '.join(MODES)}")
        if self.pivot_codec not in PIVOT_CODECS:
            raise UsageError(f"unknown pivot codec {self.pivot_codec!r}: choose one of {', '.join(PIVOT_CODECS)}")
        if self.base_size not in BASE_SIZES:
            raise UsageError(f"--base-size {self.base_size}: choose one of {', '.join(map(str, BASE_SIZES))}")
        if not 1 <= self.base_crf <= 63:
            raise UsageError(f"--base-crf {self.base_crf}: SVT-AV1 takes 1-63")
        if self.scene_size not in SCENE_SIZES:
            raise UsageError(f"--scene-size {self.scene_size}: choose one of {', '.join(map(str, SCENE_SIZES))}")
        if not 1 <= self.base_step <= 8:
            raise UsageError(f"--base-step {self.base_step}: 1-8 frames")
        self._check_rates()
        if not 0 <= self.independent_every <= 1000:
            raise UsageError(f"--kpts-refresh {self.independent_every}: 0-1000 blocks")
        if self.motion not in MOTION_SOURCES:
            raise UsageError(f"unknown motion source {self.motion!r}: choose one of {', '.join(MOTION_SOURCES)}")
        if self.max_pivot_interval_s and self.max_pivot_interval_s < self.min_pivot_interval_s:
            raise UsageError("--max-pivot-interval is shorter than --min-pivot-interval")

    def _check_rates(self) -> None:
        if self.base_kbps and not MIN_BASE_KBPS <= self.base_kbps <= MAX_BASE_KBPS:
            raise UsageError(f"--base-kbps {self.base_kbps:g}: {MIN_BASE_KBPS:g}-{MAX_BASE_KBPS:g} kbit/s (0: --base-crf)")
        if self.base_kbps and "base_crf" in self.given:
            raise UsageError("give --base-crf or --base-kbps, not both: the base layer has one rate setting")
        if self.kbps and not MIN_KBPS <= self.kbps <= MAX_KBPS:
            raise UsageError(f"--kbps {self.kbps:g}: {MIN_KBPS:g}-{MAX_KBPS:g} kbit/s (0: no target)")
        # Without a target the mode is the user's: base-layer rates in keypoint mode would do nothing.
        if not self.kbps and self.mode != "hybrid" and self.base_kbps:
            raise UsageError("--base-kbps sets the hybrid mode's base layer: add --mode hybrid")
        if not self.kbps and self.mode != "hybrid" and self.given & HYBRID_ONLY:
            name = "--" + min(self.given & HYBRID_ONLY).replace("_", "-")
            raise UsageError(f"{name} is a hybrid-mode option: add --mode hybrid (or --kbps, which picks the mode)")
        if self.kbps and self.mode == "keypoints" and "mode" in self.given and self.given & HYBRID_ONLY:
            raise UsageError("--mode keypoints has no base layer: drop the --base-* options or the --mode")
