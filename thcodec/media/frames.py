"""Conversions between uint8 frames (H,W,3) and model tensors (B,3,H,W) float in [0,1]."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from thcodec.errors import ThcError


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(B,H,W,3) or (H,W,3) uint8 -> (B,3,H,W) float in [0,1]."""
    if frames.ndim == 3:
        frames = frames[None]
    frames = np.ascontiguousarray(frames)
    if not frames.flags.writeable:  # e.g. np.asarray of a PIL image: torch warns about those
        frames = frames.copy()
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B,3,H,W) float in [0,1] -> (B,H,W,3) uint8 (rounded)."""
    # In place on clamp's new tensor: the same arithmetic, two full-size temporaries fewer.
    return images.clamp(0, 1).mul_(255).add_(0.5).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def resize(frame: np.ndarray, w: int, h: int) -> np.ndarray:
    if frame.shape[1] == w and frame.shape[0] == h:
        return frame
    return np.asarray(Image.fromarray(frame).resize((w, h), Image.BICUBIC))


def jpeg_encode(frame: np.ndarray, quality: int, optimize: bool = True, restart: bool = False) -> bytes:
    """optimize=False: the same pixels in a larger file, three times faster (training).
    restart: a restart marker after every row of blocks (the same pixels, ~1% more bytes): a
    damaged byte then spoils one 16-pixel strip, not the rest of the picture (the pivots)."""
    buf = io.BytesIO()
    kw = {"restart_marker_rows": 1} if restart else {}
    Image.fromarray(frame).save(buf, format="JPEG", quality=quality, optimize=optimize, progressive=False, **kw)
    return buf.getvalue()


def jpeg_decode(data: bytes, width: int, height: int) -> np.ndarray:
    """JPEG bytes -> (H,W,3) uint8, refusing anything that is not a baseline JPEG of that size
    (both checked from the header, before any pixel is decoded)."""
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as im:
            if im.size != (width, height):
                raise ThcError(f"damaged file: pivot image is {im.size[0]}x{im.size[1]}, expected {width}x{height}")
            if im.info.get("progressive") or im.info.get("progression"):
                # The sender writes baseline JPEGs only; a progressive one may hold thousands of
                # scans, each a pass over the whole picture (seconds a frame for a few kB).
                raise ThcError("damaged file: pivot image is a progressive JPEG (pivots are baseline)")
            return np.array(im.convert("RGB"))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise ThcError(f"damaged file: pivot image cannot be decoded ({e})") from None
