"""Reading a weights folder's manifest.json (its files, their sha256): shared by the loader
(thcodec/models/weights.py) and the ONNX backend, which checks its exports against it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from thcodec.errors import ThcError


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest(root: Path) -> dict:
    try:
        return json.loads((root / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ThcError(f"cannot read {root / 'manifest.json'}: {e}") from e
