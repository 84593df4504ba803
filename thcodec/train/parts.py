"""The parts `python -m thcodec.train.train --part NAME` trains: NAME -> (config, Part class).

A new part is one entry here and one module with its config dataclass and Part subclass
(thcodec/train/part.py says what the loop asks of it)."""

from __future__ import annotations

from thcodec.train.fusion import FusionConfig, FusionPart
from thcodec.train.interp import InterpConfig, InterpPart
from thcodec.train.keypoints import KeypointsConfig, KeypointsPart
from thcodec.train.light import LightConfig, LightPart
from thcodec.train.motion import MotionConfig, MotionPart
from thcodec.train.sr import SrConfig, SrPart

PARTS: dict[str, tuple[type, type]] = {
    "keypoints": (KeypointsConfig, KeypointsPart),
    "motion": (MotionConfig, MotionPart),
    "light": (LightConfig, LightPart),
    "interp": (InterpConfig, InterpPart),
    "sr": (SrConfig, SrPart),
    "fusion": (FusionConfig, FusionPart),
}
