"""Carry the frame cache to a lent GPU machine: 2.3 GB of raw crops packed as near-lossless video.

The GPU machine takes 64 MiB of files and has OpenCV but not PyAV, so `pack` (here, PyAV)
writes each split's frames.u8 as one H.264 4:4:4 stream (CRF 16: about 41.5 dB PSNR against
the crops, far below what training can tell apart) beside its index.json and landmarks.npy,
and `unpack` (there, OpenCV) decodes it back into the cache layout thcodec.data.frame_cache reads.
Usage:  python -m thcodec.train.portable_cache pack   --cache .cache/frames --out .cache/portable
        python -m thcodec.train.portable_cache unpack --src .cache/portable --cache .cache/frames
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from thcodec.data.frame_cache import FrameCache
from thcodec.media.atomic import atomic_output

SPLITS = ("train", "val")
CRF = 16


def pack(cache: Path, out: Path) -> None:
    import av  # the sender's machine only

    for split in SPLITS:
        src, dst = cache / split, out / split
        dst.mkdir(parents=True, exist_ok=True)
        frames = FrameCache(src).frames
        n, s = frames.shape[:2]
        with atomic_output(dst / "frames.mp4", force=True) as tmp, av.open(str(tmp), "w", format="mp4") as c:
            stream = c.add_stream("libx264", rate=25)
            stream.width = stream.height = s
            stream.pix_fmt = "yuv444p"
            stream.options = {"crf": str(CRF), "preset": "medium"}
            for i in range(n):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frames[i]), format="rgb24")
                c.mux(stream.encode(frame))
            c.mux(stream.encode(None))
        for name in ("index.json", "landmarks.npy"):
            shutil.copy(src / name, dst / name)
        print(f"{split}: {n} frames, {(dst / 'frames.mp4').stat().st_size / 2**20:.1f} MiB", flush=True)


def unpack(src: Path, cache: Path) -> None:
    import cv2  # the GPU machine has OpenCV, not PyAV

    for split in SPLITS:
        dst = cache / split
        dst.mkdir(parents=True, exist_ok=True)
        index = json.loads((src / split / "index.json").read_text())
        cap = cv2.VideoCapture(str(src / split / "frames.mp4"))
        n = 0
        with atomic_output(dst / "frames.u8", force=True) as tmp, open(tmp, "wb") as f:
            while True:
                ok, bgr = cap.read()
                if not ok:
                    break
                f.write(np.ascontiguousarray(bgr[..., ::-1]).tobytes())
                n += 1
            if n != index["count"]:  # inside: the incomplete file is not kept
                raise SystemExit(f"{split}: decoded {n} frames, the index says {index['count']}")
        for name in ("index.json", "landmarks.npy"):
            shutil.copy(src / split / name, dst / name)
        print(f"{split}: {n} frames unpacked", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("pack", "unpack"))
    p.add_argument("--cache", type=Path, default=Path(".cache/frames"), help="the frame cache (read by pack, written by unpack)")
    p.add_argument("--out", type=Path, default=Path(".cache/portable"), help="pack: where the portable copy goes")
    p.add_argument("--src", type=Path, default=Path(".cache/portable"), help="unpack: the portable copy")
    a = p.parse_args()
    if a.action == "pack":
        pack(a.cache, a.out)
    else:
        unpack(a.src, a.cache)


if __name__ == "__main__":
    main()
