"""Reading a training checkpoint of ours (RUN/best.pt, last.pt, snap_<step>.pt): the export of the
shipped weights and the training runs both read them; the format is a dict of tensors and plain
metadata, loaded with weights_only=True."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict:
    """A training checkpoint of ours; early ones hold numpy scalars in their metadata."""
    with torch.serialization.safe_globals([np._core.multiarray.scalar, np.dtype, np.dtypes.Float64DType]):
        return torch.load(path, map_location=device, weights_only=True)


def network_weights(path: Path) -> dict:
    """One network's weights from a run's checkpoint (its EMA) or from an exported weights file
    (weights/NAME.pt, the state dict itself)."""
    state = load_checkpoint(path)
    return state.get("ema", state)
