"""The .thc container, format 1: a magic, a version, then typed chunks in time order.

    file  = MAGIC (8) | u16 version | chunk*        (all integers big-endian)
    chunk = type (4 ASCII) | u32 length | payload (length bytes) | u32 CRC-32(type + payload)

The first chunk is HEAD and the last is END. Unknown chunk types whose first letter is
lowercase are ancillary and skipped (the PNG rule); other unknown types are refused.
docs/FORMAT.md is the full specification.

read_chunks(f) yields (chunk, nbytes) pairs, nbytes being the chunk's size on disk
(12 + payload length); the FILE_HEADER_SIZE bytes before the first chunk belong to no chunk.
Skipped ancillary chunks are not yielded.

Encode-side mistakes (a field out of range, writing out of order) raise ValueError or
RuntimeError; a payload over the 16 MiB limit and anything wrong with bytes being read
raise ThcError.
"""

from __future__ import annotations

import enum
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, ClassVar

from thcodec.errors import ThcError

MAGIC = b"\x89THC\r\n\x1a\n"
FORMAT_VERSION = 3  # the newest this reader knows
KEYPOINT_FORMAT = 1  # keypoint-mode streams: no base layer, readable by format-1 decoders
HYBRID_FORMAT = 2  # adds the base layer (BASH, BASE) and AV1 pivots
SCENE_FORMAT = 3  # adds the scene layer (SCNH, SCNE): the whole frame, small, under the face
FILE_HEADER_SIZE = len(MAGIC) + 2
CHUNK_OVERHEAD = 12  # type + length + CRC
MAX_PAYLOAD = 16 * 1024 * 1024
_READ_PIECE = 1 << 20  # payloads are read in pieces so a lying length cannot allocate 16 MiB


# What a receiver agrees to decode (docs/FORMAT.md, "Bounds"): checked before any work starts,
# so no stream, however its fields are set, asks for more memory or time than these allow.
MAX_SIDE = 8192  # pixels, either side of a frame (--size too)
MAX_PIXELS = 4096 * 4096  # width x height
MAX_FRAMES = 1 << 22  # frames in a stream (46 hours at 25 fps): HEAD's and END's counts
MIN_FPS, MAX_FPS = 1, 1000
MAX_TIME_BASE_DEN = 1_000_000  # audio time base: at least 1/1,000,000 s (Opus uses 1/48000)
_I32 = (1 << 31) - 1


def check_bounds(header: StreamHeader) -> None:
    """Refuse (ThcError) a stream header whose sizes, rate or frame count are past the bounds."""
    w, h = header.width, header.height
    if w > MAX_SIDE or h > MAX_SIDE or w * h > MAX_PIXELS:
        raise ThcError(f"unsupported stream: {w}x{h} frames (at most {MAX_SIDE} a side and {MAX_PIXELS // 1000000} Mpixel)")
    if header.fps_num > _I32 or header.fps_den > _I32 or not MIN_FPS <= header.fps_num / header.fps_den <= MAX_FPS:
        raise ThcError(f"unsupported stream: {header.fps_num}/{header.fps_den} fps ({MIN_FPS} to {MAX_FPS})")
    if header.frame_count > MAX_FRAMES:
        raise ThcError(f"unsupported stream: {header.frame_count} frames (at most {MAX_FRAMES})")


def check_audio_bounds(header: AudioHeader) -> None:
    """Refuse (ThcError) an audio time base PyAV cannot carry or finer than 1/1,000,000 s."""
    num, den = header.time_base_num, header.time_base_den
    if num > _I32 or den > _I32 or num * MAX_TIME_BASE_DEN < den or num > den:
        raise ThcError(f"unsupported audio time base {num}/{den} (1/{MAX_TIME_BASE_DEN} s to 1 s)")


def check_size(width: int, height: int) -> None:
    """Refuse an output size past the bounds (thc decode --size)."""
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE) or width * height > MAX_PIXELS:
        raise ThcError(f"output size {width}x{height}: at most {MAX_SIDE} a side and {MAX_PIXELS // 1000000} Mpixel")


class SwitchReason(enum.IntEnum):
    START = 0
    QUALITY = 1
    FACE_LEFT = 2
    SCENE_CUT = 3
    MAX_INTERVAL = 4


class AudioCodec(enum.IntEnum):
    OPUS = 1


class BaseCodec(enum.IntEnum):
    AV1 = 1  # low-overhead OBUs, one temporal unit per packet


KPTS_FLAG_PREDICTED = 0x01  # block is predicted from the previous KPTS block's last frame
_KPTS_KNOWN_FLAGS = KPTS_FLAG_PREDICTED


def _check_range(name: str, value: int, lo: int, hi: int) -> None:
    if not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name}={value!r} outside [{lo}, {hi}]")


_U8, _U16, _U32 = 0xFF, 0xFFFF, 0xFFFFFFFF
_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1


class _Reader:
    """Cursor over one payload; every shortfall or leftover is a ThcError."""

    def __init__(self, ctype: bytes, payload: bytes):
        self.name = ctype.decode("ascii")
        self.buf = payload
        self.pos = 0

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            raise ThcError(f"damaged file: {self.name} chunk payload too short ({len(self.buf)} bytes)")
        out = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return out

    def bytes(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            raise ThcError(f"damaged file: {self.name} chunk payload too short ({len(self.buf)} bytes)")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def rest(self) -> bytes:
        out = self.buf[self.pos :]
        self.pos = len(self.buf)
        return out

    def done(self) -> None:
        if self.pos != len(self.buf):
            raise ThcError(f"damaged file: {self.name} chunk has {len(self.buf) - self.pos} unexpected trailing bytes")


def _build(cls, ctype: bytes, **kw):
    """Construct a chunk from parsed values; field validation failures become ThcError."""
    try:
        return cls(**kw)
    except ValueError as e:
        raise ThcError(f"damaged file: bad {ctype.decode('ascii')} chunk: {e}") from None


# --- Chunk types ------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamHeader:
    CHUNK_TYPE: ClassVar[bytes] = b"HEAD"
    width: int  # output frame size in pixels
    height: int
    fps_num: int
    fps_den: int
    frame_count: int  # estimate at write time; 0 = unknown. END is authoritative.
    model_size: int  # side of the square model image (256)
    num_kp: int
    interp: int
    model_id: str  # ASCII, at most 255 characters
    weights_sha256: bytes  # 32 bytes

    def __post_init__(self):
        for name in ("width", "height", "model_size"):
            _check_range(name, getattr(self, name), 1, _U16)
        _check_range("fps_num", self.fps_num, 1, _U32)
        _check_range("fps_den", self.fps_den, 1, _U32)
        _check_range("frame_count", self.frame_count, 0, _U32)
        _check_range("num_kp", self.num_kp, 1, _U8)
        _check_range("interp", self.interp, 0, _U8)
        if not isinstance(self.model_id, str) or not self.model_id.isascii() or len(self.model_id) > 255:
            raise ValueError(f"model_id must be ASCII of at most 255 characters, got {self.model_id!r}")
        if not isinstance(self.weights_sha256, bytes) or len(self.weights_sha256) != 32:
            raise ValueError("weights_sha256 must be 32 bytes")

    def to_payload(self) -> bytes:
        mid = self.model_id.encode("ascii")
        return (
            struct.pack(
                ">HHIIIHBBB",
                self.width,
                self.height,
                self.fps_num,
                self.fps_den,
                self.frame_count,
                self.model_size,
                self.num_kp,
                self.interp,
                len(mid),
            )
            + mid
            + self.weights_sha256
        )

    @classmethod
    def from_payload(cls, payload: bytes) -> StreamHeader:
        r = _Reader(cls.CHUNK_TYPE, payload)
        w, h, fn, fd, fc, ms, nk, it, mlen = r.take(">HHIIIHBBB")
        mid = r.bytes(mlen)
        sha = r.bytes(32)
        r.done()
        try:
            model_id = mid.decode("ascii")
        except UnicodeDecodeError:
            raise ThcError("damaged file: HEAD model id is not ASCII") from None
        return _build(
            cls,
            cls.CHUNK_TYPE,
            width=w,
            height=h,
            fps_num=fn,
            fps_den=fd,
            frame_count=fc,
            model_size=ms,
            num_kp=nk,
            interp=it,
            model_id=model_id,
            weights_sha256=sha,
        )


# A pivot image's first bytes -> its codec: a JPEG's SOI marker; an AV1 temporal unit's
# temporal-delimiter OBU (type 2, with a size field, size 0). AV1 pivots need format 2.
PIVOT_CODECS = {b"\xff\xd8": "jpeg", b"\x12\x00": "av1"}
_AV1_PIVOT_SINCE = HYBRID_FORMAT


@dataclass(frozen=True)
class Pivot:
    CHUNK_TYPE: ClassVar[bytes] = b"PIVT"
    frame_index: int
    x: int  # face region in output pixels
    y: int
    w: int
    h: int
    image: bytes  # a baseline JPEG, or (format 2) one AV1 key frame: PIVOT_CODECS tells them apart

    def __post_init__(self):
        _check_range("frame_index", self.frame_index, 0, _U32)
        for name in ("x", "y"):
            _check_range(name, getattr(self, name), 0, _U16)
        for name in ("w", "h"):
            _check_range(name, getattr(self, name), 1, _U16)
        if not isinstance(self.image, bytes) or self.codec is None:
            raise ValueError("pivot image is neither a JPEG (FF D8 start) nor an AV1 temporal unit (12 00 start)")

    @property
    def codec(self) -> str | None:
        """ "jpeg" or "av1", from the image's first bytes."""
        return next((name for start, name in PIVOT_CODECS.items() if self.image.startswith(start)), None)

    def to_payload(self) -> bytes:
        return struct.pack(">IHHHH", self.frame_index, self.x, self.y, self.w, self.h) + self.image

    @classmethod
    def from_payload(cls, payload: bytes) -> Pivot:
        r = _Reader(cls.CHUNK_TYPE, payload)
        fi, x, y, w, h = r.take(">IHHHH")
        return _build(cls, cls.CHUNK_TYPE, frame_index=fi, x=x, y=y, w=w, h=h, image=r.rest())


@dataclass(frozen=True)
class PivotSwitch:
    CHUNK_TYPE: ClassVar[bytes] = b"SWCH"
    frame_index: int
    reason: SwitchReason

    def __post_init__(self):
        _check_range("frame_index", self.frame_index, 0, _U32)
        try:
            object.__setattr__(self, "reason", SwitchReason(self.reason))
        except ValueError:
            raise ValueError(f"unknown pivot switch reason {self.reason!r}") from None

    def to_payload(self) -> bytes:
        return struct.pack(">IB", self.frame_index, self.reason)

    @classmethod
    def from_payload(cls, payload: bytes) -> PivotSwitch:
        r = _Reader(cls.CHUNK_TYPE, payload)
        fi, reason = r.take(">IB")
        r.done()
        return _build(cls, cls.CHUNK_TYPE, frame_index=fi, reason=reason)


@dataclass(frozen=True)
class KeypointBlock:
    CHUNK_TYPE: ClassVar[bytes] = b"KPTS"
    first_frame: int
    count: int  # frames first_frame + i*step, i < count
    step: int
    flags: int  # KPTS_FLAG_*
    data: bytes  # keypoints.compress_block output

    def __post_init__(self):
        _check_range("first_frame", self.first_frame, 0, _U32)
        _check_range("count", self.count, 0, _U16)
        _check_range("step", self.step, 1, _U8)
        _check_range("flags", self.flags, 0, _U8)
        if self.flags & ~_KPTS_KNOWN_FLAGS:
            raise ValueError(f"reserved KPTS flag bits set ({self.flags:#04x})")
        if not isinstance(self.data, bytes):
            raise ValueError("data must be bytes")

    @property
    def predicted(self) -> bool:
        return bool(self.flags & KPTS_FLAG_PREDICTED)

    def to_payload(self) -> bytes:
        return struct.pack(">IHBB", self.first_frame, self.count, self.step, self.flags) + self.data

    @classmethod
    def from_payload(cls, payload: bytes) -> KeypointBlock:
        r = _Reader(cls.CHUNK_TYPE, payload)
        ff, count, step, flags = r.take(">IHBB")
        return _build(cls, cls.CHUNK_TYPE, first_frame=ff, count=count, step=step, flags=flags, data=r.rest())


@dataclass(frozen=True)
class AudioHeader:
    CHUNK_TYPE: ClassVar[bytes] = b"AUDH"
    codec: AudioCodec
    sample_rate: int
    channels: int
    time_base_num: int  # AUDI pts and durations are in these units of seconds
    time_base_den: int
    extradata: bytes  # at most 65535 bytes

    def __post_init__(self):
        try:
            object.__setattr__(self, "codec", AudioCodec(self.codec))
        except ValueError:
            raise ValueError(f"unknown audio codec {self.codec!r}") from None
        _check_range("sample_rate", self.sample_rate, 1, _U32)
        _check_range("channels", self.channels, 1, _U8)
        _check_range("time_base_num", self.time_base_num, 1, _U32)
        _check_range("time_base_den", self.time_base_den, 1, _U32)
        if not isinstance(self.extradata, bytes) or len(self.extradata) > _U16:
            raise ValueError("extradata must be bytes of at most 65535")

    def to_payload(self) -> bytes:
        return (
            struct.pack(
                ">BIBIIH",
                self.codec,
                self.sample_rate,
                self.channels,
                self.time_base_num,
                self.time_base_den,
                len(self.extradata),
            )
            + self.extradata
        )

    @classmethod
    def from_payload(cls, payload: bytes) -> AudioHeader:
        r = _Reader(cls.CHUNK_TYPE, payload)
        codec, sr, ch, tbn, tbd, elen = r.take(">BIBIIH")
        extra = r.bytes(elen)
        r.done()
        return _build(
            cls,
            cls.CHUNK_TYPE,
            codec=codec,
            sample_rate=sr,
            channels=ch,
            time_base_num=tbn,
            time_base_den=tbd,
            extradata=extra,
        )


@dataclass(frozen=True)
class AudioPackets:
    """A run of consecutive audio packets: packet i+1 starts where packet i ends."""

    CHUNK_TYPE: ClassVar[bytes] = b"AUDI"
    pts: int  # of the first packet, in AudioHeader time-base units; may be negative (encoder delay)
    packets: tuple[tuple[int, bytes], ...]  # (duration, data) per packet, in order

    def __post_init__(self):
        _check_range("pts", self.pts, _I64_MIN, _I64_MAX)
        packets = self.packets
        if isinstance(packets, (list, tuple)):
            packets = tuple(tuple(p) if isinstance(p, list) else p for p in packets)
        if not isinstance(packets, tuple) or not 1 <= len(packets) <= _U16:
            raise ValueError(f"an AUDI chunk holds 1 to {_U16} packets")
        end = self.pts
        for i, p in enumerate(packets):
            if not isinstance(p, tuple) or len(p) != 2:
                raise ValueError(f"packet {i} must be a (duration, data) pair")
            duration, data = p
            _check_range(f"packet {i} duration", duration, 0, _U16)
            if not isinstance(data, bytes) or len(data) > _U16:
                raise ValueError(f"packet {i} data must be bytes of at most {_U16}")
            end += duration
        _check_range("end pts", end, _I64_MIN, _I64_MAX)
        object.__setattr__(self, "packets", packets)

    def with_pts(self) -> list[tuple[int, int, bytes]]:
        """(pts, duration, data) of every packet, in order."""
        out, t = [], self.pts
        for duration, data in self.packets:
            out.append((t, duration, data))
            t += duration
        return out

    def to_payload(self) -> bytes:
        parts = [struct.pack(">qH", self.pts, len(self.packets))]
        for duration, data in self.packets:
            parts.append(struct.pack(">HH", duration, len(data)))
            parts.append(data)
        return b"".join(parts)

    @classmethod
    def from_payload(cls, payload: bytes) -> AudioPackets:
        r = _Reader(cls.CHUNK_TYPE, payload)
        pts, count = r.take(">qH")
        if count == 0:
            raise ThcError("damaged file: AUDI chunk with no packets")
        packets = []
        for _ in range(count):
            duration, size = r.take(">HH")
            packets.append((duration, r.bytes(size)))
        r.done()
        return _build(cls, cls.CHUNK_TYPE, pts=pts, packets=tuple(packets))


@dataclass(frozen=True)
class End:
    CHUNK_TYPE: ClassVar[bytes] = b"END "
    frame_count: int  # authoritative

    def __post_init__(self):
        _check_range("frame_count", self.frame_count, 0, _U32)

    def to_payload(self) -> bytes:
        return struct.pack(">I", self.frame_count)

    @classmethod
    def from_payload(cls, payload: bytes) -> End:
        r = _Reader(cls.CHUNK_TYPE, payload)
        (fc,) = r.take(">I")
        r.done()
        return _build(cls, cls.CHUNK_TYPE, frame_count=fc)


def _check_layer(header, what: str, sides: tuple[tuple[str, int], ...]) -> None:
    """The fields BASH and SCNH share: codec, picture sides (16-1024), step and CRF."""
    try:
        object.__setattr__(header, "codec", BaseCodec(header.codec))
    except ValueError:
        raise ValueError(f"unknown {what} codec {header.codec!r}") from None
    for name, side in sides:
        _check_range(name, side, 16, 1024)
    _check_range("step", header.step, 1, _U8)
    _check_range("crf", header.crf, 0, _U8)


@dataclass(frozen=True)
class BaseHeader:
    """The hybrid mode's base layer: a small classical stream of the face region (format 2)."""

    CHUNK_TYPE: ClassVar[bytes] = b"BASH"
    codec: BaseCodec
    size: int  # side of the square base picture: the face region down-scaled
    step: int  # a base frame every `step` frames of a segment, from its pivot on (and its last frame)
    crf: int  # the sender's rate setting (informational): its CRF, 0 when coded at a target rate
    fusion_sha256: bytes  # 32 bytes: the fusion weights the receiver must have (weights/fusion.pt)

    def __post_init__(self):
        _check_layer(self, "base", (("size", self.size),))
        if not isinstance(self.fusion_sha256, bytes) or len(self.fusion_sha256) != 32:
            raise ValueError("fusion_sha256 must be 32 bytes")

    def to_payload(self) -> bytes:
        return struct.pack(">BHBB", self.codec, self.size, self.step, self.crf) + self.fusion_sha256

    @classmethod
    def from_payload(cls, payload: bytes) -> BaseHeader:
        r = _Reader(cls.CHUNK_TYPE, payload)
        codec, size, step, crf = r.take(">BHBB")
        digest = r.bytes(32)
        r.done()
        return _build(cls, cls.CHUNK_TYPE, codec=codec, size=size, step=step, crf=crf, fusion_sha256=digest)


@dataclass(frozen=True)
class BasePackets:
    """Base-layer packets of frames first_frame + i*step, one packet a frame, in decoding order.
    The first BASE chunk of a segment starts with a key frame: a pivot restarts the base decoder."""

    CHUNK_TYPE: ClassVar[bytes] = b"BASE"
    first_frame: int
    step: int
    packets: tuple[bytes, ...]

    def __post_init__(self):
        _check_range("first_frame", self.first_frame, 0, _U32)
        _check_range("step", self.step, 1, _U8)
        packets = tuple(self.packets) if isinstance(self.packets, list) else self.packets
        if not isinstance(packets, tuple) or not 1 <= len(packets) <= _U16:
            raise ValueError(f"a {self.CHUNK_TYPE.decode()} chunk holds 1 to {_U16} packets")
        for i, p in enumerate(packets):
            if not isinstance(p, bytes) or len(p) > _U16:
                raise ValueError(f"packet {i} must be bytes of at most {_U16}")
        _check_range("last frame", self.first_frame + (len(packets) - 1) * self.step, 0, _U32)
        object.__setattr__(self, "packets", packets)

    @property
    def frames(self) -> list[int]:
        return [self.first_frame + i * self.step for i in range(len(self.packets))]

    def to_payload(self) -> bytes:
        parts = [struct.pack(">IBH", self.first_frame, self.step, len(self.packets))]
        for data in self.packets:
            parts += [struct.pack(">H", len(data)), data]
        return b"".join(parts)

    @classmethod
    def from_payload(cls, payload: bytes) -> BasePackets:
        r = _Reader(cls.CHUNK_TYPE, payload)
        first, step, count = r.take(">IBH")
        packets = []
        for _ in range(count):
            (size,) = r.take(">H")
            packets.append(r.bytes(size))
        r.done()
        return _build(cls, cls.CHUNK_TYPE, first_frame=first, step=step, packets=tuple(packets))


@dataclass(frozen=True)
class SceneHeader:
    """The hybrid mode's scene layer: the whole frame, down-scaled, as a small classical stream
    (format 3): what moves outside the face region (the body, a speaker shifting in the frame)."""

    CHUNK_TYPE: ClassVar[bytes] = b"SCNH"
    codec: BaseCodec
    width: int  # the down-scaled whole frame
    height: int
    step: int  # a scene frame every `step` frames of a segment, from its pivot on
    crf: int  # informational, as BaseHeader's

    def __post_init__(self):
        _check_layer(self, "scene", (("width", self.width), ("height", self.height)))

    def to_payload(self) -> bytes:
        return struct.pack(">BHHBB", self.codec, self.width, self.height, self.step, self.crf)

    @classmethod
    def from_payload(cls, payload: bytes) -> SceneHeader:
        r = _Reader(cls.CHUNK_TYPE, payload)
        codec, width, height, step, crf = r.take(">BHHBB")
        r.done()
        return _build(cls, cls.CHUNK_TYPE, codec=codec, width=width, height=height, step=step, crf=crf)


@dataclass(frozen=True)
class ScenePackets(BasePackets):
    """Scene-layer packets: laid out as BASE, a stream of their own (a pivot restarts it too)."""

    CHUNK_TYPE: ClassVar[bytes] = b"SCNE"


Chunk = (
    StreamHeader | Pivot | PivotSwitch | KeypointBlock | AudioHeader | AudioPackets | BaseHeader | BasePackets
    | SceneHeader | ScenePackets | End
)  # fmt: skip

# The registry is keyed by each class's explicit CHUNK_TYPE, never by position.
_ALL_CHUNKS = (
    StreamHeader, Pivot, PivotSwitch, KeypointBlock, AudioHeader, AudioPackets, BaseHeader, BasePackets,
    SceneHeader, ScenePackets, End,
)  # fmt: skip
CHUNK_TYPES: dict[bytes, type] = {c.CHUNK_TYPE: c for c in _ALL_CHUNKS}
_SINCE_VERSION = {  # chunks newer than format 1
    BaseHeader: HYBRID_FORMAT,
    BasePackets: HYBRID_FORMAT,
    SceneHeader: SCENE_FORMAT,
    ScenePackets: SCENE_FORMAT,
}


def _type_name(ctype: bytes) -> str:
    """Printable form of a 4-byte type for error messages."""
    if all(0x20 <= b < 0x7F for b in ctype):
        return ctype.decode("ascii")
    return repr(ctype)


def _valid_type(ctype: bytes) -> bool:
    # Letters, digits and space only, first byte a letter: "END " is a valid type.
    return (
        len(ctype) == 4
        and chr(ctype[0]).isascii()
        and chr(ctype[0]).isalpha()
        and all(chr(b).isascii() and (chr(b).isalnum() or b == 0x20) for b in ctype)
    )


# --- Writing ----------------------------------------------------------------------------


def encode_chunk(ctype: bytes, payload: bytes) -> bytes:
    """The on-disk bytes of one chunk."""
    if not _valid_type(ctype):
        raise ValueError(f"bad chunk type {ctype!r}")
    if len(payload) > MAX_PAYLOAD:
        raise ThcError(f"{_type_name(ctype)} payload of {len(payload)} bytes exceeds the 16 MiB limit")
    return ctype + struct.pack(">I", len(payload)) + payload + struct.pack(">I", zlib.crc32(ctype + payload))


class ContainerWriter:
    """Writes a .thc stream to a binary file object. The caller writes End itself; close()
    writes nothing and does not close the underlying file."""

    def __init__(self, f: BinaryIO):
        self._f = f
        self._started = False
        self.version = KEYPOINT_FORMAT
        self._ended = False
        self.bytes_written = 0
        self.bytes_by_type: dict[str, int] = {}  # chunk type -> bytes on disk

    def write_header(self, header: StreamHeader, version: int = KEYPOINT_FORMAT) -> None:
        """version: KEYPOINT_FORMAT, HYBRID_FORMAT for a stream with a base layer, SCENE_FORMAT
        with a scene layer too."""
        if self._started:
            raise RuntimeError("write_header called twice")
        if version not in (KEYPOINT_FORMAT, HYBRID_FORMAT, SCENE_FORMAT):
            raise ValueError(f"cannot write format {version}")
        self.version = version
        self._put(MAGIC + struct.pack(">H", version))
        self._started = True
        self._chunk(header)

    def write(self, chunk: Chunk) -> None:
        if not self._started:
            raise RuntimeError("write_header must come first")
        if self._ended:
            raise RuntimeError("nothing may follow the End chunk")
        if isinstance(chunk, StreamHeader):
            raise RuntimeError("use write_header for the HEAD chunk")
        if _SINCE_VERSION.get(type(chunk), KEYPOINT_FORMAT) > self.version:
            raise RuntimeError(f"a {chunk.CHUNK_TYPE.decode()} chunk needs format {_SINCE_VERSION[type(chunk)]}")
        if isinstance(chunk, Pivot) and chunk.codec == "av1" and self.version < _AV1_PIVOT_SINCE:
            raise RuntimeError(f"an AV1 pivot needs format {_AV1_PIVOT_SINCE}")
        self._chunk(chunk)
        if isinstance(chunk, End):
            self._ended = True

    def _chunk(self, chunk: Chunk) -> None:
        data = encode_chunk(chunk.CHUNK_TYPE, chunk.to_payload())
        self._put(data)
        name = chunk.CHUNK_TYPE.decode("ascii")
        self.bytes_by_type[name] = self.bytes_by_type.get(name, 0) + len(data)

    def _put(self, data: bytes) -> None:
        self._f.write(data)
        self.bytes_written += len(data)

    def close(self) -> None:
        pass

    def __enter__(self) -> ContainerWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- Reading ----------------------------------------------------------------------------


def _read_upto(f: BinaryIO, n: int) -> bytes:
    """Read up to n bytes, fewer only at EOF, in bounded pieces (pipes may return short reads)."""
    parts = []
    got = 0
    while got < n:
        piece = f.read(min(n - got, _READ_PIECE))
        if not piece:
            break
        parts.append(piece)
        got += len(piece)
    return b"".join(parts)


def _read_exact(f: BinaryIO, n: int, what: str, offset: int) -> bytes:
    """Read n bytes; a short read is a truncated file."""
    data = _read_upto(f, n)
    if len(data) < n:
        raise ThcError(f"truncated file: {what} at byte {offset} needs {n - len(data)} more bytes")
    return data


def _read_file_header(f: BinaryIO) -> int:
    """The magic and the format version; -> the version."""
    head = _read_upto(f, len(MAGIC))
    if head != MAGIC:
        if head and MAGIC.startswith(head):
            raise ThcError(f"truncated file: file header at byte 0 needs {len(MAGIC) - len(head)} more bytes")
        raise ThcError("not a .thc file")
    (version,) = struct.unpack(">H", _read_exact(f, 2, "format version", len(MAGIC)))
    if version > FORMAT_VERSION:
        raise ThcError(f"made by a newer thcodec (format {version}), this one reads format {FORMAT_VERSION}")
    if version < 1:
        raise ThcError(f"damaged file: format version {version}")
    return version


def _parse(ctype: bytes, payload: bytes, version: int, index: int, where: str) -> Chunk | None:
    """The chunk of a CRC-checked (type, payload), index counting from 1; None: ancillary, skipped."""
    name = _type_name(ctype)
    cls = CHUNK_TYPES.get(ctype)
    if index == 1 and cls is not StreamHeader:
        raise ThcError(f"damaged file: first chunk is {name}, not HEAD")
    if cls is None:
        if chr(ctype[0]).islower():
            return None  # ancillary: safe to ignore
        raise ThcError(f"unsupported chunk type {name} in {where}: made by a newer thcodec?")
    if cls is StreamHeader and index != 1:
        raise ThcError(f"damaged file: second HEAD in {where}")
    if _SINCE_VERSION.get(cls, KEYPOINT_FORMAT) > version:
        raise ThcError(f"damaged file: {where} in a format-{version} file")
    chunk = cls.from_payload(payload)
    if isinstance(chunk, Pivot) and chunk.codec == "av1" and version < _AV1_PIVOT_SINCE:
        raise ThcError(f"damaged file: an AV1 pivot in {where} of a format-{version} file")
    return chunk


def read_chunks(f: BinaryIO, on_damage: Callable[[Damage], None] | None = None) -> Iterator[tuple[Chunk, int]]:
    """Yield (chunk, bytes on disk) for every known chunk in order, HEAD first, END last.

    Without on_damage, everything wrong with the bytes raises ThcError; nothing else escapes.
    With it, damage is reported there and skipped (read_chunks_tolerant).
    """
    if on_damage is not None:
        yield from read_chunks_tolerant(f, on_damage)
        return
    version = _read_file_header(f)
    offset = FILE_HEADER_SIZE
    index = 0
    while True:
        first = f.read(1)
        if not first:
            raise ThcError(f"truncated file: ends at byte {offset} without an END chunk")
        hdr = first + _read_exact(f, 7, "chunk header", offset)
        ctype, length = hdr[:4], struct.unpack(">I", hdr[4:])[0]
        name = _type_name(ctype)
        where = f"chunk #{index} ({name} at byte {offset})"
        if not _valid_type(ctype):
            raise ThcError(f"damaged file: bad chunk type {name} in {where}")
        if length > MAX_PAYLOAD:
            raise ThcError(f"damaged file: {where} declares {length} bytes, over the 16 MiB limit")
        body = _read_exact(f, length + 4, f"chunk {name}", offset)
        payload, (crc,) = body[:length], struct.unpack(">I", body[length:])
        if zlib.crc32(ctype + payload) != crc:
            raise ThcError(f"damaged file: CRC mismatch in {where}")
        nbytes = CHUNK_OVERHEAD + length
        offset += nbytes
        index += 1
        chunk = _parse(ctype, payload, version, index, where)
        if chunk is None:
            continue
        yield chunk, nbytes
        if isinstance(chunk, End):
            if f.read(1):
                raise ThcError(f"damaged file: data after the END chunk at byte {offset}")
            return


# --- Reading with concealment -------------------------------------------------------------

RESYNC_SCAN = 1 << 20  # bytes scanned for the next chunk after a damaged one before giving up
_RESYNC_CRC_BYTES = 64 << 20  # payload bytes CRC-checked in one scan (candidates with long lengths)


@dataclass(frozen=True)
class Damage:
    """A region of a stream the tolerant reader could not use.

    kind: "damaged" (a chunk failed its type, length or CRC check; the reader resynchronised
    after it), "invalid" (its CRC passed but its payload failed the chunk's checks, or its type
    is an unknown critical one), "truncated" (the file ends inside a chunk), "no-end" (it
    ends between chunks without END) or "trailing" (bytes after END: a second stream
    appended, or garbage; nbytes counts them). chunk_type: the lost chunk's type when the reader could tell it (the
    damaged chunk's header was intact: the next chunk follows exactly where its length says),
    else None (the receiver must assume any chunk may be lost). payload: for a `PIVT` whose
    CRC failed (header intact) or that the file cuts short, its payload as it came (the
    part there is): a receiver that has no pivot at all may still use its picture."""

    offset: int
    nbytes: int  # bytes skipped
    kind: str
    chunk_type: str | None
    message: str
    payload: bytes | None = None


class _Window:
    """The file as a byte window: peek ahead, drop what is behind. Holds at most one chunk
    (16 MiB) plus the resync scan, whatever the file's size."""

    def __init__(self, f: BinaryIO, offset: int) -> None:
        self._f, self._buf, self._base, self._eof = f, bytearray(), offset, False

    def peek(self, pos: int, n: int) -> bytes:
        """Up to n bytes at absolute offset pos (fewer at EOF)."""
        need = pos + n - self._base - len(self._buf)
        while need > 0 and not self._eof:
            piece = self._f.read(max(need, 1 << 16))
            if not piece:
                self._eof = True
                break
            self._buf += piece
            need -= len(piece)
        start = pos - self._base
        return bytes(self._buf[start : start + n])

    def bytes_from(self, pos: int) -> int:
        """How many bytes the file holds from pos on, read to its end piece by piece (memory
        stays bounded: what is read is dropped)."""
        self.drop_before(pos)
        n = len(self._buf)
        self._buf.clear()
        while not self._eof:
            piece = self._f.read(1 << 20)
            self._eof = not piece
            n += len(piece)
        self._base = pos + n
        return n

    def drop_before(self, pos: int) -> None:
        if pos > self._base:
            del self._buf[: pos - self._base]
            self._base = pos


def _chunk_at(win: _Window, pos: int) -> tuple[bytes, bytes] | str:
    """(type, payload) of a whole chunk at pos whose header and CRC check, or why not:
    "eof" (nothing there), "truncated" (the file ends inside it), "bad" (damaged)."""
    hdr = win.peek(pos, 8)
    if not hdr:
        return "eof"
    if len(hdr) < 8:
        return "truncated"
    ctype, length = hdr[:4], struct.unpack(">I", hdr[4:])[0]
    if not _valid_type(ctype) or length > MAX_PAYLOAD:
        return "bad"
    body = win.peek(pos + 8, length + 4)
    if len(body) < length + 4:
        return "truncated"
    payload, (crc,) = body[:length], struct.unpack(">I", body[length:])
    if zlib.crc32(ctype + payload) != crc:
        return "bad"
    return ctype, payload


def _plausible(ctype: bytes) -> bool:
    """A type a resync may stop at: a known chunk other than HEAD, or an ancillary one."""
    return (ctype in CHUNK_TYPES and ctype != StreamHeader.CHUNK_TYPE) or (_valid_type(ctype) and chr(ctype[0]).islower())


def _header_at(win: _Window, pos: int) -> bool:
    """Whether a chunk header of a type a resync may stop at, with a length within the limit,
    stands at pos (its payload may be damaged: the next chunk is then lost on its own)."""
    hdr = win.peek(pos, 8)
    return len(hdr) == 8 and _plausible(hdr[:4]) and struct.unpack(">I", hdr[4:])[0] <= MAX_PAYLOAD


def _resync(win: _Window, start: int) -> int | None:
    """The offset of the next whole, CRC-valid chunk at or after start (bounded scan), or None."""
    crc_budget = _RESYNC_CRC_BYTES
    for pos in range(start, start + RESYNC_SCAN):
        hdr = win.peek(pos, 8)
        if len(hdr) < 8:
            return None
        if not _plausible(hdr[:4]):
            continue
        length = struct.unpack(">I", hdr[4:])[0]
        if length > MAX_PAYLOAD or length > crc_budget:
            continue
        crc_budget -= length
        if isinstance(_chunk_at(win, pos), tuple):
            return pos
    return None


def read_chunks_tolerant(f: BinaryIO, on_damage: Callable[[Damage], None]) -> Iterator[tuple[Chunk, int]]:
    """As read_chunks, but what is damaged is reported to on_damage and skipped: after a bad
    chunk the reader looks for the next whole chunk whose CRC checks (within RESYNC_SCAN
    bytes), and a file that ends early simply ends. A bad file header or a lost HEAD still
    raise ThcError (nothing can be decoded without them)."""
    version = _read_file_header(f)
    win = _Window(f, FILE_HEADER_SIZE)
    pos, index = FILE_HEADER_SIZE, 0
    while True:
        win.drop_before(pos)
        got = _chunk_at(win, pos)
        if got == "eof":
            if index == 0:
                raise ThcError("truncated file: no stream header")
            on_damage(Damage(pos, 0, "no-end", None, f"the stream ends at byte {pos} without an END chunk"))
            return
        if isinstance(got, str):
            if index == 0:
                raise ThcError(f"damaged file: the stream header is {'truncated' if got == 'truncated' else 'damaged'}")
            hdr = win.peek(pos, 8)
            nxt = None
            if len(hdr) == 8 and struct.unpack(">I", hdr[4:])[0] <= MAX_PAYLOAD:  # where its own length says it ends
                at = pos + CHUNK_OVERHEAD + struct.unpack(">I", hdr[4:])[0]
                if _header_at(win, at):  # a chunk starts there (whole or damaged in turn): the length held
                    nxt = at
            nxt = nxt if nxt is not None else _resync(win, pos + 1)
            kind = "truncated" if got == "truncated" and nxt is None else "damaged"
            ctype = None
            if nxt is not None and len(hdr) == 8 and nxt == pos + CHUNK_OVERHEAD + struct.unpack(">I", hdr[4:])[0]:
                ctype = _type_name(hdr[:4])  # its header was intact: we know what was lost
            skipped = (nxt if nxt is not None else pos + len(win.peek(pos, RESYNC_SCAN))) - pos
            what = f"{ctype} chunk" if ctype else "chunk"
            salvage = None  # a damaged or cut pivot's bytes (bounded: its length is within the limit)
            if len(hdr) == 8 and hdr[:4] == Pivot.CHUNK_TYPE and (ctype is not None or kind == "truncated"):
                salvage = win.peek(pos + 8, struct.unpack(">I", hdr[4:])[0])
            on_damage(Damage(pos, skipped, kind, ctype, f"{kind} {what} at byte {pos}", salvage))
            if nxt is None:
                return
            pos = nxt
            continue
        ctype, payload = got
        nbytes = CHUNK_OVERHEAD + len(payload)
        at, pos = pos, pos + nbytes
        index += 1
        try:
            chunk = _parse(ctype, payload, version, index, f"chunk #{index - 1} ({_type_name(ctype)} at byte {at})")
        except ThcError as e:
            if index == 1:
                raise
            on_damage(Damage(at, nbytes, "invalid", _type_name(ctype), str(e)))
            continue
        if chunk is None:
            continue
        yield chunk, nbytes
        if isinstance(chunk, End):
            trailing = win.bytes_from(pos)
            if trailing:
                on_damage(Damage(pos, trailing, "trailing", None, f"{trailing} bytes after the END chunk at byte {pos}"))
            return
