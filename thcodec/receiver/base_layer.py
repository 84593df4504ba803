"""The hybrid mode's base layer on the receiver: BASE (and SCNE) packets decoded (dav1d) as they
arrive, and for each frame to render its base picture (the newest at or before it, blended
with the next when the frame lies between two): the face's
up-scaled to the model size (what the fusion network was trained on:
thcodec/train/fusion_cache.py), the scene layer's as decoded (thcodec/receiver/scene.py
composes it with the pivot's background).

A pivot restarts the base stream (`restart`, after the old segment's last frames are drawn).
Only the pictures still needed are kept: memory stays flat over a long call.
"""

from __future__ import annotations

import bisect

import av
import numpy as np
import torch

from thcodec.errors import ThcError
from thcodec.format import container as C
from thcodec.media.base_stream import BaseDecoder, upscale
from thcodec.media.frames import to_tensor


class LayerReceiver:
    """One stream of the base layer (BASH/BASE or SCNH/SCNE), its pictures as they decode."""

    def __init__(self, header: C.BaseHeader | C.SceneHeader, size: tuple[int, int]) -> None:
        self.header, self._picture_size = header, size  # (width, height)
        self._decoder = BaseDecoder()
        self._frames: list[int] = []  # decoded pictures of the current segment, in frame order
        self._pictures: list[np.ndarray] = []
        self._pending: list[int] = []  # frames of packets given to the decoder whose pictures are not out (none: see BaseDecoder)
        self._start = 0
        self._last = -1  # frame of the last packet given to the decoder this segment
        self.broken = False  # a packet of this segment was lost: the rest of it waits for the next key frame

    def receive(self, chunk: C.BasePackets, strict: bool) -> bool:
        """Add chunk's packets -> False when they are lost to damage (concealed: the segment's
        later packets wait for the next key frame); strict: damage raises instead."""
        if strict:
            self.add(chunk)
            return True
        if self.broken or not self.follows(chunk):
            self.broken = True  # a packet before this one was lost
            return False
        try:
            self.add(chunk)
        except (ThcError, av.error.FFmpegError, ValueError):
            self.broken = True
            return False
        return True

    def restart(self, start: int) -> None:
        """A new segment begins at frame start: a new base stream."""
        self._decoder = BaseDecoder()
        self._frames, self._pictures, self._pending = [], [], []
        self._start, self._last, self.broken = start, -1, False

    def add(self, chunk: C.BasePackets) -> None:
        for index, packet in zip(chunk.frames, chunk.packets):
            if index < self._start or (self._frames and index <= self._frames[-1]):
                raise ThcError(f"damaged file: base picture for frame {index} out of order")
            self._pending.append(index)
            self._last = index
            self._keep(self._decoder.decode(packet))

    def follows(self, chunk: C.BasePackets) -> bool:
        """Whether chunk continues this segment's base stream with no packet missing before it:
        its first frame is the segment's first, or at most a step after the last packet."""
        if self._last < 0:
            return chunk.first_frame == self._start
        return 0 < chunk.first_frame - self._last <= self.header.step

    def _keep(self, pictures: list[np.ndarray]) -> None:
        width, height = self._picture_size
        name = self.header.CHUNK_TYPE.decode()
        for pic in pictures:
            if not self._pending:
                raise ThcError(f"damaged file: the {name} stream decodes more pictures than it has packets")
            if pic.shape[:2] != (height, width):
                raise ThcError(f"damaged file: base picture of {pic.shape[1]}x{pic.shape[0]}, {name} says {width}x{height}")
            self._frames.append(self._pending.pop(0))
            self._pictures.append(pic)

    def _newest(self, indices: list[int]) -> list[np.ndarray] | None:
        """The newest picture at or before each of frames `indices` (increasing), or None when
        the first of them has none yet."""
        picks = [bisect.bisect_right(self._frames, i) - 1 for i in indices]
        if not picks or picks[0] < 0:
            return None
        # The pictures before the first one used here will not be needed again.
        drop = picks[0]
        if drop > 0:
            del self._frames[:drop], self._pictures[:drop]
            picks = [p - drop for p in picks]
        return [self._pictures[p] for p in picks]

    def at(self, indices: list[int]) -> list[np.ndarray] | None:
        """The picture for each of frames `indices` (increasing), or None when the first has none
        yet. A frame between two pictures (a layer of every n-th frame) gets the two blended by
        its distance to each: nearer to it than the older one alone, and the blend averages out
        some of the coding noise (docs/hybrid.md, "Between two base pictures"). The next picture
        is there when the frame is drawn: its packet comes before the key points that end the
        frame's interval. A frame with no next picture yet, or one a lost packet left too far
        away, keeps the newest at or before it."""
        newest = self._newest(indices)
        if newest is None:
            return None
        out = []
        for index, before in zip(indices, newest):
            n = bisect.bisect_right(self._frames, index)
            a = self._frames[n - 1]
            if n < len(self._frames) and a < index and self._frames[n] - a <= self.header.step:
                w = (index - a) / (self._frames[n] - a)
                before = (before * (1 - w) + self._pictures[n] * w + 0.5).astype(np.uint8)
            out.append(before)
        return out


class BaseLayerReceiver(LayerReceiver):
    """The face's stream: its pictures up-scaled to the model size, for the fusion network."""

    def __init__(self, header: C.BaseHeader, model_size: int) -> None:
        super().__init__(header, (header.size, header.size))
        self._model_size = model_size

    @classmethod
    def open(cls, header: C.BaseHeader, fusion_sha256: bytes | None, model_size: int) -> BaseLayerReceiver:
        """The base layer a BASH chunk opens, if this receiver has the fusion weights it names."""
        if fusion_sha256 != header.fusion_sha256:
            have = fusion_sha256.hex()[:12] if fusion_sha256 else "none"
            raise ThcError(f"a hybrid stream made for fusion weights {header.fusion_sha256.hex()[:12]}, this thcodec has {have}")
        return cls(header, model_size)

    def pictures(self, indices: list[int]) -> torch.Tensor | None:
        """(B,3,S,S) up-scaled base pictures for frames `indices` (increasing), or None when the
        first of them has none yet (the receiver then shows the animated pivot alone)."""
        small = self.at(indices)
        return None if small is None else upscale(to_tensor(np.stack(small)), self._model_size)
