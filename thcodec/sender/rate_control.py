"""Rate control under --max-kbps: the ledger of what has been written, and the size of each
pivot's picture (the best quality that leaves the stream under the cap in every 10-second window,
or over the whole clip when it is shorter: format.rate.window_for).

The ledger itself and chunk timing are the format's (thcodec/format/rate.py); this module
decides. Without a cap every pivot is sent at --pivot-quality and nothing is held back."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from thcodec.format import container as C
from thcodec.format import keypoint_bits as kpq
from thcodec.format.rate import RateLedger, window_for
from thcodec.media.pivot_image import encode_pivot
from thcodec.options import EncodeOptions

KP_PRIOR_BYTES = 45  # key-point bytes per sent frame assumed before any are measured
RATE_MARGIN = 1.1  # headroom on the measured key-point + audio rate when checking the cap
PIVOT_OVERHEAD = 2 * C.CHUNK_OVERHEAD + 5 + 12  # SWCH + PIVT framing and fields
MIN_PIVOT_QUALITY = 10  # the cap may lower a pivot's quality down to this


class RateController:
    """Counts the bytes written by time and sizes pivots against the cap."""

    def __init__(self, opts: EncodeOptions, fps: Fraction, header_bytes: int, clip_s: float = 0.0) -> None:
        """clip_s: the clip's length as far as known (0: unknown); a shorter clip than the 10-s
        window is capped over its own length, so the window never holds more than the clip."""
        self._opts, self._fps = opts, fps
        self.ledger = RateLedger(window_for(clip_s))
        self._budget = opts.max_kbps * 1000 / 8 * self.ledger.window_s
        self.ledger.add(0.0, header_bytes)  # magic, version and HEAD, written before the first chunk
        self._audio = False
        # A base layer at a target rate is known ahead (one at a CRF is not: it counts once written).
        self._base_rate = opts.base_kbps * 1000 / 8 if opts.mode == "hybrid" else 0.0
        # Until 2 s of stream exist, key points + audio (+ base) are assumed to take this much (bytes/s).
        self.prior_rate = KP_PRIOR_BYTES * float(self._fps) / opts.interp + self._base_rate

    @property
    def capped(self) -> bool:
        return bool(self._opts.max_kbps)

    def add_audio(self) -> None:
        """The stream carries audio at --audio-kbps: part of the prior rate."""
        self._audio = True
        self.prior_rate += self._opts.audio_bitrate / 8

    def record(self, t: float, nbytes: int, pivot: bool) -> None:
        """nbytes written at stream time t (seconds); pivot: a PIVT or SWCH chunk."""
        self.ledger.add(t, nbytes, pivot=pivot)

    def measure_prior(self, fields: np.ndarray) -> None:
        """Replace the prior rate by what these quantized key points of the first kept frames
        (N,K,F), coded as they will be, and the audio predict."""
        if len(fields) < 2:
            return
        # The first frame is coded from zero; the steady state predicts each frame from the last.
        per_frame = len(kpq.compress_block(fields[1:], fields[0])) / (len(fields) - 1)
        audio = self._opts.audio_bitrate / 8 if self._audio else 0.0
        opts = self._opts
        self.prior_rate = (
            RATE_MARGIN * (per_frame + C.CHUNK_OVERHEAD / opts.block_frames) * float(self._fps) / opts.interp
            + audio
            + self._base_rate
        )

    def pivot_image(self, index: int, frame: np.ndarray, reason: C.SwitchReason) -> bytes | None:
        """The pivot picture at the best quality the rate cap allows, or None if none fits.

        Only a scene cut may spend the last of the room: other pivots leave enough for one
        more at the lowest quality, so a cut that follows them can still be sent."""
        q = self._opts.pivot_quality
        if not self.capped:
            return encode_pivot(frame, q, self._opts.pivot_image_codec)
        t = float(index / self._fps)
        ledger = self.ledger
        rate = self.prior_rate if ledger.covered_s < 2 else RATE_MARGIN * ledger.other_rate()
        # Key points and audio up to t not written yet will be charged before t.
        room = ledger.room(t, self._budget, rate) - rate * max(0.0, t - ledger.covered_s) - PIVOT_OVERHEAD
        worst = encode_pivot(frame, MIN_PIVOT_QUALITY, self._opts.pivot_image_codec)
        if reason != C.SwitchReason.SCENE_CUT:
            room -= len(worst) + PIVOT_OVERHEAD
        if len(worst) > room:
            return None
        best = encode_pivot(frame, q, self._opts.pivot_image_codec)
        if len(best) <= room:
            return best
        lo, hi = MIN_PIVOT_QUALITY, q  # lo fits, hi does not
        while hi - lo > 5:
            mid = (lo + hi) // 2
            data = encode_pivot(frame, mid, self._opts.pivot_image_codec)
            if len(data) <= room:
                lo, worst = mid, data
            else:
                hi = mid
        return worst

    def overrun(self) -> str | None:
        """A warning when a window of the finished stream carries more than the cap."""
        worst = self.ledger.worst_kbps()
        if self.capped and worst > self._opts.max_kbps:
            return (
                f"--max-kbps {self._opts.max_kbps:g} exceeded: a {self.ledger.window_s:g}-second window carries {worst:.1f} kbit/s "
                "(the key points or the lowest-quality pivots did not fit; try --interp 3 or a lower --audio-kbps)"
            )
        return None
