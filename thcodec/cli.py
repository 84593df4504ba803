"""`thc`: the command line. A thin Typer layer over thcodec's pure functions.

Every user mistake or damaged input is a ThcError: one line on stderr, exit code 1.
Ctrl-C leaves no partial output and exits with 130.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from thcodec import __version__
from thcodec.bench.codec_names import CODECS as BENCH_CODECS
from thcodec.errors import ThcError, UsageError
from thcodec.face.dlib_models import preload as preload_dlib
from thcodec.options import (
    BASE_SIZES,
    DEFAULT_X264_PRESET,
    MIN_SCENE_KBPS,
    MODES,
    MOTION_SOURCES,
    PIVOT_CODECS,
    SCENE_SHARE,
    SCENE_SIZES,
    X264_PRESETS,
    EncodeOptions,
)

if TYPE_CHECKING:
    from rich.progress import Progress

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},  # -h as in every other tool
    help="thcodec: video calls at a few kbit/s. Sends a picture of the speaker now and then and "
    "ten key points per frame; the receiver animates the picture.",
    epilog="Environment: THC_THREADS (threads per network call), THC_PRECISION (auto, fp32, bf16: the "
    "receiver's convolutions), THC_BACKEND (torch, onnx), THC_MALLOC (keep, default); the README's "
    "'Inference backend' says what each does.",
)
# soft_wrap: messages are never broken into lines (a long path would be), whatever the width.
# markup=False: messages hold user paths, and "[/x]" in a file name must print as itself.
err = Console(stderr=True, soft_wrap=True, markup=False)


class InterpMethod(str, Enum):
    net = "net"
    linear = "linear"


class SrMethod(str, Enum):
    net = "net"
    bicubic = "bicubic"


class GeneratorChoice(str, Enum):
    full = "full"
    light = "light"


MotionSource = Enum("MotionSource", {m: m for m in MOTION_SOURCES}, type=str)
DEFAULT_MOTION = MotionSource(EncodeOptions.motion)
Mode = Enum("Mode", {m: m for m in MODES}, type=str)
PivotCodec = Enum("PivotCodec", {c: c for c in PIVOT_CODECS}, type=str)

# Output frames larger than this per side would take minutes per frame and gigabytes to write.
MAX_OUTPUT_SIDE = 8192


def parse_size(text: str | None) -> tuple[int, int] | None:
    """ "WxH" -> (W, H), both in 2..MAX_OUTPUT_SIDE; -1 for one side: from the stream's aspect."""
    if text is None:
        return None
    parts = [p.strip() for p in text.lower().split("x")]
    if len(parts) != 2 or not all(p.isdigit() or p == "-1" for p in parts) or parts == ["-1", "-1"]:
        raise ThcError(f"--size {text}: give WIDTHxHEIGHT in pixels, e.g. 1280x720, or -1 for one side (640x-1)")
    w, h = (int(p) for p in parts)
    if not all(v == -1 or 2 <= v <= MAX_OUTPUT_SIDE for v in (w, h)):
        raise ThcError(f"--size {text}: width and height must lie in 2..{MAX_OUTPUT_SIDE}")
    return w, h


def _check_size(text: str | None) -> str | None:
    """--size is checked with the rest of the command line: a bad one is a usage error (exit 2)."""
    try:
        parse_size(text)
    except ThcError as e:
        raise typer.BadParameter(str(e).removeprefix(f"--size {text}: ")) from None
    return text


def _finite(value: float | None) -> float | None:
    """Every float option: nan passes min= and max= (it compares false), and inf is no time or rate."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value}: give a finite number")
    return value


Force = Annotated[bool, typer.Option("--force", "-f", help="Overwrite OUTPUT if it exists.")]
Quiet = Annotated[bool, typer.Option("--quiet", help="No progress bar, no summary line.")]
# -q is quality in ffmpeg and x264 habits (-q:v, -q 80), so it is no short name for --quiet any
# more: kept hidden, with a warning, for one version (0.x) and then removed.
QuietOld = Annotated[bool, typer.Option("-q", hidden=True)]


def _alias(old: str, new: str, old_value, new_value, default=None):
    """The value of an option given under its new name or its old, hidden one (with a warning)."""
    if old_value is None or old_value is False:
        return new_value
    err.print(f"thc: warning: {old} is now {new}; the old name goes away in the next version", highlight=False)
    return old_value if new_value == default else new_value


NoAudio = Annotated[bool, typer.Option("--no-audio", help="Drop the audio track.")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"thc {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool | None, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = None,
) -> None:
    """thcodec command line."""


def _bar(label: str, unit: str = "") -> Progress:
    """A transient progress bar on stderr: label (a rich format of the task), done/total [unit],
    time left. rich.progress is imported only here: a command that draws no bar (thc stats, any
    command off a terminal) does not pay for it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    units = (TextColumn(unit),) if unit else ()
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), *units, TimeRemainingColumn())
    return Progress(*columns, console=err, transient=True)


@contextmanager
def _progress(label: str, quiet: bool) -> Iterator[tuple]:
    """Yields (on_start(total), on_frames(n)) callbacks driving a progress bar on stderr.

    No bar unless stderr is a terminal: elsewhere (a log, a pipe) it would leave a blank line."""
    if quiet or not err.is_terminal:
        yield (lambda total: None, lambda n: None)
        return
    with _bar(label, "frames") as bar:
        task = bar.add_task(label, total=None)
        yield (lambda total: bar.update(task, total=total or None), lambda n: bar.advance(task, n))


EXIT_LOSSES = 3  # thc decode: written, with damaged or missing parts concealed; thc stats: read so


def _run(fn, *args, **kwargs):
    """Run fn, turning ThcError and Ctrl-C into a one-line message and an exit code."""
    try:
        return fn(*args, **kwargs)
    except ThcError as e:
        err.print(Text.assemble(("thc: error:", "bold red"), f" {e}"), highlight=False)
        raise typer.Exit(2 if isinstance(e, UsageError) else 1) from None
    except KeyboardInterrupt:
        err.print("thc: interrupted, nothing written", highlight=False)
        raise typer.Exit(130) from None
    except ImportError as e:
        # Ctrl-C inside a compiled module's import (dlib, loaded on first use) surfaces as
        # "ImportError: initialization failed" caused by the KeyboardInterrupt.
        if isinstance(e.__cause__, KeyboardInterrupt) or isinstance(e.__context__, KeyboardInterrupt):
            err.print("thc: interrupted, nothing written", highlight=False)
            raise typer.Exit(130) from None
        raise


@contextmanager
def _about(*paths: Path) -> Iterator[None]:
    """Every error names the file it is about: a ThcError naming none of paths gets the first as a prefix
    (a damaged .thc's "truncated file: ..." becomes "call.thc: truncated file: ...")."""
    from thcodec.media.streams import display_name

    names = [display_name(p, output=i > 0) for i, p in enumerate(paths)]
    try:
        yield
    except ThcError as e:
        if not any(name in str(e) for name in names):
            raise ThcError(f"{names[0]}: {e}") from None
        raise


def _check_thc_suffix(output: Path, force: bool) -> None:
    """encode writes a .thc stream: a name like x.mp4 would mislead every player (--force: a warning).
    Stdout, FIFOs and devices have no name a player goes by."""
    from thcodec.media.streams import is_stream

    if output.suffix.lower() == ".thc" or output.is_dir() or is_stream(output):  # a folder: atomic_output says so
        return
    if not force:
        raise ThcError(f"{output}: encode writes a .thc stream; name the output .thc (or use --force)")
    err.print(f"thc: warning: {output}: a .thc stream under another name", highlight=False)


def _check_input(path: Path) -> None:
    from thcodec.media.streams import is_stream

    if is_stream(path):  # '-' (stdin), a FIFO, a device: read as it comes, with --input-timeout
        return
    if not path.exists():
        raise ThcError(f"{path}: no such file")
    if path.is_dir():
        raise ThcError(f"{path} is a directory")


def _convert(input: Path, output: Path, force: bool, quiet: bool, label: str, run, backend: str | None = None) -> None:
    """Shared by encode and decode: check the input, load the model (backend: as load_model's), and let
    run(loaded, target, on_start, on_frames) -> (message, warnings) write the output. target: a temp
    path that replaces OUTPUT only when complete, or, for stdout ('-'), a FIFO or a device, a file
    object written as the frames come (media.atomic.output_target)."""
    from thcodec.media.atomic import output_target
    from thcodec.models.weights import load_model

    def work():
        _check_input(input)
        loaded = load_model(backend=backend)
        with _about(input, output), output_target(output, force) as target, _progress(label, quiet) as (start, step):
            message, warnings = run(loaded, target, start, step)
        for w in warnings:
            err.print(f"thc: warning: {w}", highlight=False)
        if not quiet:
            err.print(message, highlight=False)

    _run(work)


def _open_source(path: Path, timeout: float):
    """A .thc input as a file object: stdin ('-'), a FIFO or a device read as it comes, with a
    timeout; None for a regular file (the decoder opens it)."""
    from thcodec.media.streams import TimedInput, is_stream

    return TimedInput(path, timeout) if is_stream(path) else None


def _named(path: Path, output: bool = False) -> str:
    from thcodec.media.streams import display_name

    return display_name(path, output)


InputTimeout = Annotated[
    float,
    typer.Option(
        callback=_finite,
        min=0,
        help="Seconds to wait for data from an INPUT that is a pipe ('-': stdin), a FIFO or a device, at the start and at each later read, before giving up with an error (exit 1) instead of hanging. 0: wait forever. Regular files are not affected.",
    ),
]
DEFAULT_INPUT_TIMEOUT = 60.0  # = media.streams.DEFAULT_INPUT_TIMEOUT_S (not imported: thc --help stays light)


Workers = Annotated[
    int,
    typer.Option(
        min=1,
        help="Worker processes of the local Dask cluster started for this run (one task at a time each, one torch thread each). Ignored with --scheduler.",
    ),
]
Scheduler = Annotated[
    str | None,
    typer.Option(
        metavar="ADDRESS",
        help="Run on the Dask cluster whose scheduler is at ADDRESS (tcp://host:8786) instead of a local one; its workers need thcodec installed and the same paths (a shared file system).",
    ),
]


# encode's options, one alias each: their help stays in one place and the command's signature short.
EncodeInterp = Annotated[
    int,
    typer.Option(
        min=1,
        max=4,
        help="Send key points for every k-th frame; the receiver fills the rest (its interpolation network, see thc decode --interp-method). 2: a little landmark error for a sizeable saving in rate (docs/interp.md).",
    ),
]
EncodePivotQuality = Annotated[
    int,
    typer.Option(
        min=10,
        max=95,
        help="Quality of the pivot picture, on JPEG's scale (its bytes dominate short calls); with --pivot-codec av1, the AV1 setting of the same PSNR.",
    ),
]
EncodePivotCodec = Annotated[
    PivotCodec,
    typer.Option(
        help="How the pivot picture is coded: jpeg; av1 (one AV1 key frame: fewer bytes for the same quality up to about 70, and a format-2 stream); auto: jpeg in keypoint mode, av1 in hybrid mode. See docs/pivot_image.md."
    ),
]
EncodeAudioKbps = Annotated[int, typer.Option(min=6, max=64, help="Opus bit rate of the audio track, kbit/s.")]
EncodeMaxMotionError = Annotated[
    float,
    typer.Option(
        callback=_finite,
        min=0.5,
        max=100,
        help="Motion error, in pixels of a 256x256 face, at which a new pivot is sent: the sender predicts the receiver's picture and measures how far its face key points stray from the real ones (ordinary talking: under 4). Lower: more pivots, more bytes. Keypoint mode only: in hybrid mode the base layer shows what the key points get wrong.",
    ),
]
EncodeMaxKbps = Annotated[
    float,
    typer.Option(
        callback=_finite,
        min=0,
        help="Cap on the bit rate of any 10 seconds of the stream, kbit/s, audio and the hybrid mode's base stream included: pivots are held back or sent at lower JPEG quality to stay under it (0: no cap). The base stream keeps its own rate (--base-crf or --base-kbps).",
    ),
]
EncodeMinPivotInterval = Annotated[
    float,
    typer.Option(
        callback=_finite,
        min=0,
        help="Seconds after a pivot before the quality or face-position test may send another (scene cuts do not wait).",
    ),
]
EncodeMaxPivotInterval = Annotated[
    float, typer.Option(callback=_finite, min=0, help="Send a pivot at least this often, seconds (0: only when needed).")
]
EncodeMotion = Annotated[
    MotionSource,
    typer.Option(
        help="How the sender measures each frame's motion: dlib's 68 face landmarks (landmarks: a few ms a sent frame and a longer start-up), sent relative to the key points the receiver finds on the pivot; or the key-point detector on each frame (detector: a higher landmark error at the same rate on unseen faces, a slightly lower identity error; the docs' landmark_motion.md). Same stream format and receiver either way."
    ),
]
EncodeRefine = Annotated[
    int,
    typer.Option(
        min=0,
        max=100,
        help="Analysis by synthesis: adjust each sent frame's key points with this many gradient steps so the receiver's picture matches the frame (same stream format and receiver; each step costs a forward and backward pass of the receiver's networks per sent frame, so a few steps make encoding many times slower; docs/refine.md). 0: send the key points --motion gives.",
    ),
]
EncodeXyStep = Annotated[
    int,
    typer.Option(
        min=1,
        max=64,
        help="Send key-point positions as multiples of this many codes (a code is 1/16 pixel of the 256x256 face): coarser steps cost fewer bytes; 1: full precision. See docs/keypoint_steps.md.",
    ),
]
EncodeJacStep = Annotated[
    int,
    typer.Option(
        min=1,
        max=64,
        help="Send key-point Jacobians as multiples of this many codes (a code is 1/256): coarser steps cost fewer bytes; 1: full precision.",
    ),
]
EncodeSinglePivot = Annotated[
    bool, typer.Option("--single-pivot", help="Send one pivot, at the start, and never another (no analysis: fastest encode).")
]
EncodeMode = Annotated[
    Mode,
    typer.Option(
        help="keypoints: the pivot animated by key points alone (the lowest rates). hybrid: also a small AV1 stream of the face (--base-size, --base-crf, --base-step), from which the receiver takes what the face is doing (blinks, smiles, zooms) while the pivot keeps who it is; a format-2 stream. See docs/hybrid.md."
    ),
]
EncodeBaseSize = Annotated[
    int,
    typer.Option(
        help=f"Hybrid mode: side of the base stream's square picture of the face, pixels ({', '.join(map(str, BASE_SIZES))}). Larger: more expression detail, more bytes."
    ),
]
EncodeBaseCrf = Annotated[
    int, typer.Option(min=1, max=63, help="Hybrid mode: the base stream's AV1 CRF (1-63). Higher: fewer bytes, a blurrier base.")
]
EncodeBaseStep = Annotated[
    int,
    typer.Option(
        min=1,
        max=8,
        help="Hybrid mode: code every n-th frame in the base stream (2: half the frame rate; the key points carry the motion in between).",
    ),
]
EncodeBaseKbps = Annotated[
    float,
    typer.Option(
        callback=_finite,
        min=0,
        help="Hybrid mode: code the base stream at this target rate, kbit/s (SVT-AV1's constant-rate mode, spread over the base frames --base-step keeps), instead of at --base-crf. 0: --base-crf. SVT-AV1 misses very low targets; see docs/hybrid.md.",
    ),
]
EncodeSceneSize = Annotated[
    int,
    typer.Option(
        help=f"Hybrid mode, calls where the face is a part of the frame: short side of the scene stream, the whole frame down-scaled and coded beside the face's (what moves outside the face: the body, a speaker shifting), pixels ({', '.join(map(str, SCENE_SIZES))}; 0: none, the background stays the pivot's). It takes {SCENE_SHARE:.0%} of --base-kbps, and is left out where that share is under {MIN_SCENE_KBPS:g} kbit/s; a format-3 stream.",
    ),
]
EncodeKbps = Annotated[
    float,
    typer.Option(
        callback=_finite,
        min=0,
        help="Target rate of the whole stream, kbit/s, audio included: picks the mode, the pivot quality, how often and how finely key points are sent (--interp, --xy-step, --jac-step) and the base stream's size and rate from a measured ladder (docs/hybrid.md), the keypoint mode below the hybrid mode's lowest rung; in hybrid mode the base stream gets what the audio, key points and pivot leave. Options given beside it win: --mode, --pivot-quality, --interp, --xy-step, --jac-step, --base-size, --base-step, --base-crf or --base-kbps (a --base-* option implies --mode hybrid). A target, not a cap: add --max-kbps for one. 0: no target.",
    ),
]
EncodeKptsRefresh = Annotated[
    int,
    typer.Option(
        min=0,
        max=1000,
        help="Code every n-th key-point block (a block: 25 sent frames) on its own rather than predicted from the one before, so a lost block is concealed only up to the next such one (0: only each pivot's first block; each independent block costs a few percent of the rate). See docs/robustness.md.",
    ),
]
EncodeKptsBlock = Annotated[
    int,
    typer.Option(
        min=1,
        max=250,
        help="Sent frames per key-point block. The receiver draws a frame once its block (and for the last frames, the next one) has arrived, so on a live pipe this sets the delay: the default 25 is 2 s of video at --interp 2, 5 about 0.4 s, for more bytes (12 bytes of framing a block, less for zstd to work with).",
    ),
]
EncodeQuality = Annotated[float | None, typer.Option("--quality", min=0.5, max=100, hidden=True, callback=_finite)]
EncodeForce = Annotated[
    bool, typer.Option("--force", "-f", help="Overwrite OUTPUT if it exists; write a .thc stream into a file not named .thc.")
]


EncodeInput = Annotated[
    Path,
    typer.Argument(
        help="Video with a person talking (MP4, MOV, MKV, ...); '-' reads stdin (a stream container such as nut, matroska or mpegts: ffmpeg -i x.mp4 -f nut -), frame by frame."
    ),
]
EncodeOutput = Annotated[
    Path,
    typer.Argument(
        help="The .thc file to write; '-' writes to stdout, chunk by chunk as it is made. A FIFO, a device or a symlink is written through, never replaced."
    ),
]


# encode's parameters that --kbps leaves as the user gave them (each also an EncodeOptions field).
_LADDER_OPTIONS = (
    "mode",
    "pivot_quality",
    "interp",
    "xy_step",
    "jac_step",
    "base_size",
    "base_step",
    "base_crf",
    "base_kbps",
    "scene_size",
)


def _encode_options(ctx: typer.Context, motion_error: float) -> EncodeOptions:
    """encode's EncodeOptions from its parameters (ctx.params) and where each came from."""
    p = ctx.params
    # By name: typer ships its own click, whose ParameterSource is not click's.
    given = frozenset(n for n in _LADDER_OPTIONS if getattr(ctx.get_parameter_source(n), "name", "") == "COMMANDLINE")
    return EncodeOptions(
        interp=p["interp"],
        pivot_quality=p["pivot_quality"],
        pivot_codec=p["pivot_codec"],
        audio=not p["no_audio"],
        audio_bitrate=p["audio_kbps"] * 1000,
        adaptive=not p["single_pivot"],
        max_motion_error_px=motion_error,
        min_pivot_interval_s=p["min_pivot_interval"],
        max_pivot_interval_s=p["max_pivot_interval"],
        max_kbps=p["max_kbps"],
        refine_steps=p["refine"],
        xy_step=p["xy_step"],
        jac_step=p["jac_step"],
        motion=p["motion"],
        mode=p["mode"],
        base_size=p["base_size"],
        base_crf=p["base_crf"],
        base_step=p["base_step"],
        base_kbps=p["base_kbps"],
        scene_size=p["scene_size"],
        kbps=p["kbps"],
        given=given,
        independent_every=p["kpts_refresh"],
        block_frames=p["kpts_block"],
    )


@app.command()
def encode(
    ctx: typer.Context,
    input: EncodeInput,
    output: EncodeOutput,
    interp: EncodeInterp = EncodeOptions.interp,
    pivot_quality: EncodePivotQuality = EncodeOptions.pivot_quality,
    pivot_codec: EncodePivotCodec = PivotCodec(EncodeOptions.pivot_codec),
    audio_kbps: EncodeAudioKbps = EncodeOptions.audio_bitrate // 1000,
    max_motion_error: EncodeMaxMotionError = EncodeOptions.max_motion_error_px,
    max_kbps: EncodeMaxKbps = EncodeOptions.max_kbps,
    min_pivot_interval: EncodeMinPivotInterval = EncodeOptions.min_pivot_interval_s,
    max_pivot_interval: EncodeMaxPivotInterval = EncodeOptions.max_pivot_interval_s,
    motion: EncodeMotion = DEFAULT_MOTION,
    refine: EncodeRefine = EncodeOptions.refine_steps,
    xy_step: EncodeXyStep = EncodeOptions.xy_step,
    jac_step: EncodeJacStep = EncodeOptions.jac_step,
    single_pivot: EncodeSinglePivot = False,
    mode: EncodeMode = Mode(EncodeOptions.mode),
    base_size: EncodeBaseSize = EncodeOptions.base_size,
    base_crf: EncodeBaseCrf = EncodeOptions.base_crf,
    base_step: EncodeBaseStep = EncodeOptions.base_step,
    base_kbps: EncodeBaseKbps = EncodeOptions.base_kbps,
    scene_size: EncodeSceneSize = EncodeOptions.scene_size,
    kbps: EncodeKbps = EncodeOptions.kbps,
    kpts_refresh: EncodeKptsRefresh = EncodeOptions.independent_every,
    kpts_block: EncodeKptsBlock = EncodeOptions.block_frames,
    quality: EncodeQuality = None,
    no_audio: NoAudio = False,
    input_timeout: InputTimeout = DEFAULT_INPUT_TIMEOUT,
    force: EncodeForce = False,
    quiet: Quiet = False,
    q: QuietOld = False,
) -> None:
    """Compress a video into a .thc stream (thc encode - - reads and writes pipes).

    New pivots: on a scene cut, when the face leaves its region or the background changes, on wrong motion (--max-motion-error).
    """

    def run(loaded, target, start, step) -> tuple[str, list[str]]:
        from thcodec.sender.encoder import encode as encode_video  # torch: only once the arguments are known to be right

        with open(target, "wb") if isinstance(target, Path) else nullcontext(target) as f:
            r = encode_video(input, f, loaded, opts, on_frames=step, on_start=start, input_timeout=input_timeout)
        kbps = r.bytes_total * 8 / max(r.duration_s, 1e-9) / 1000
        message = (
            f"wrote {_named(output, True)}: {r.frames} frames, {r.bytes_total} bytes, {kbps:.2f} kbit/s, {len(r.pivots)} pivot(s)"
        )
        if r.settings:  # what --kbps chose
            message += f"; {r.settings}"
        return message, r.warnings

    motion_error = _alias("--quality", "--max-motion-error", quality, max_motion_error, EncodeOptions.max_motion_error_px)
    quiet = _alias("-q", "--quiet", q, quiet, False)
    opts = _run(_encode_options, ctx, motion_error)
    _run(_check_input, input)  # a missing input is the first thing to say
    _run(_check_thc_suffix, output, force)
    # dlib's models take seconds to build and let other threads run: built while torch loads.
    preload_dlib(landmarks=opts.motion == "landmarks")

    # The sender runs eager PyTorch: the key points it quantizes, hence the stream's bytes, are the
    # same on every machine and backend; the receiver may take the faster backend.
    _convert(input, output, force, quiet, "encoding", run, backend="torch")


DecodeInput = Annotated[
    Path, typer.Argument(help="The .thc file to read; '-' reads stdin (thc encode ... - | thc decode - ...), frame by frame.")
]
DecodeOutput = Annotated[
    Path,
    typer.Argument(
        help="Video file to write: .mp4/.mov (H.264 4:2:0, plays everywhere; an odd size gets one more pixel), .mkv (lossless FFV1, the exact size) or .y4m (raw YUV 4:4:4, no audio); same rate as the original. '-' writes to stdout (with --format), each frame as it is decoded; a FIFO, a device or a symlink is written through, never replaced."
    ),
]
DecodeInterpMethod = Annotated[
    InterpMethod,
    typer.Option(
        help="How frames between sent key points (--interp > 1 at the sender) get theirs: the interpolation network, or a straight line (the baseline)."
    ),
]
DecodeSr = Annotated[
    SrMethod,
    typer.Option(
        help="How the 256x256 face comes back to its size in the output: the super-resolution network, which brings in the pivot's own detail, or plain bicubic up-scaling (the baseline, faster)."
    ),
]
DecodeGenerator = Annotated[
    GeneratorChoice,
    typer.Option(
        "--generator",
        help="The network that paints each frame from the warped pivot: the full one, which the sender also runs when it chooses its pivots, or a narrower one trained to copy it: faster, for machines that cannot decode in real time, with a slightly different picture (a little less exact pixel for pixel, as sharp to the eye). The stream is the same either way.",
    ),
]
DecodeSize = Annotated[
    str | None,
    typer.Option(
        metavar="WxH",
        callback=_check_size,
        help="Output frame size, e.g. 1280x720 (default: the original's); -1 for one side keeps the original's aspect (640x-1). WxH is that size exactly, stretching if its aspect differs. The background is the pivot resized; the face goes through --sr at its new size.",
    ),
]
DecodeCrf = Annotated[
    int,
    typer.Option(
        min=0,
        max=51,
        help="H.264 rate factor of an .mp4/.mov output (lower: larger, closer to the decoded frames; .mkv is lossless FFV1).",
    ),
]
X264Preset = Enum("X264Preset", {p: p for p in X264_PRESETS}, type=str)
DecodePreset = Annotated[
    X264Preset,
    typer.Option(
        help="x264's speed preset for an .mp4/.mov output, as in ffmpeg and x264 (whose default is medium): a slower one codes the frames in fewer bytes for the same picture, and takes more of the CPU the networks share.",
    ),
]
DecodeFmt = Annotated[
    str | None,
    typer.Option(
        "--format",
        metavar="FORMAT",
        help="Container of OUTPUT, needed for '-' (stdout) and names without a known suffix: nut (FFV1 + AAC; thc decode - - --format nut | ffplay -), mkv/matroska (FFV1 + AAC), y4m (raw YUV, no audio), mp4/mov (H.264 + AAC; files only: they cannot be written to a pipe). Default: from OUTPUT's suffix.",
    ),
]
DecodeStrict = Annotated[
    bool,
    typer.Option("--strict", help="Refuse a damaged or truncated stream (exit 1) instead of concealing what is lost (exit 3)."),
]


@app.command()
def decode(
    input: DecodeInput,
    output: DecodeOutput,
    interp_method: DecodeInterpMethod = InterpMethod.net,
    sr: DecodeSr = SrMethod.net,
    generator: DecodeGenerator = GeneratorChoice.full,
    size: DecodeSize = None,
    crf: DecodeCrf = 18,
    preset: DecodePreset = X264Preset(DEFAULT_X264_PRESET),
    fmt: DecodeFmt = None,
    input_timeout: InputTimeout = DEFAULT_INPUT_TIMEOUT,
    no_audio: NoAudio = False,
    strict: DecodeStrict = False,
    force: Force = False,
    quiet: Quiet = False,
    q: QuietOld = False,
) -> None:
    """Rebuild a video from a .thc stream. What is damaged or missing is concealed (exit code 3, one warning line)."""
    from thcodec.allocator import keep_freed_memory
    from thcodec.media.streams import is_stream
    from thcodec.media.video_io import output_format

    # The receiver's batches reuse their freed blocks. Not the sender: its gain was small and its
    # peak memory rose by a few MB (docs/speed.md, "Freed memory kept").
    keep_freed_memory()

    def run(loaded, target, start, step) -> tuple[str, list[str]]:
        from thcodec.receiver.decoder import decode_file

        n = decode_file(
            input,
            target,
            _animating_with(loaded, generator),
            on_start=start,
            on_frames=step,
            with_audio=not no_audio,
            interp_method=interp_method.value,
            sr=sr.value,
            size=out_size,
            strict=strict,
            losses=losses,
            crf=crf,
            preset=preset.value,
            fmt=fmt,
            source=_open_source(input, input_timeout),
        )
        by = " (light generator)" if generator is GeneratorChoice.light else ""
        return f"wrote {_named(output, True)}: {n} frames{by}", [f"decoded with losses: {losses.summary()}"] if losses else []

    out_size = _run(parse_size, size)
    quiet = _alias("-q", "--quiet", q, quiet, False)

    _run(_check_input, input)  # a missing input is the first thing to say
    muxer = _run(output_format, _named(output, True), output.suffix, fmt, is_stream(output))
    if muxer == "yuv4mpegpipe" and not no_audio:
        no_audio = True  # y4m holds no audio (said once, here)
        if not quiet:
            err.print(f"thc: warning: {_named(output, True)}: y4m holds no audio; the audio is left out", highlight=False)
    if out_size and muxer in ("mp4", "mov") and -1 not in out_size and any(v % 2 for v in out_size) and not quiet:
        even = "x".join(str(v + v % 2) for v in out_size)
        err.print(
            f"thc: warning: --size {size}: H.264 needs even sides; {_named(output, True)} is {even} (the last column "
            "or row repeated); .mkv keeps the exact size",
            highlight=False,
        )
    from thcodec.receiver.decoder import Losses  # torch: only once the arguments are known to be right

    losses = Losses()
    _convert(input, output, force, quiet, "decoding", run)
    if losses:
        raise typer.Exit(EXIT_LOSSES)


@app.command()
def stats(
    inputs: Annotated[list[Path], typer.Argument(metavar="INPUT...", help="The .thc file(s) to describe.")],
    reference: Annotated[
        Path | None,
        typer.Option(
            help="Original video (one INPUT only): also decode and report PSNR Y (BT.601, as ffmpeg's psnr filter), PSNR RGB and SSIM RGB against it, over time. A reference with another frame count or rate is compared frame by frame over the shorter, with a warning."
        ),
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="With --reference: write PSNR Y over time, pivots marked, to this PNG.")
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON object (a list of them for several INPUTs) instead of a table; it carries schema_version.",
        ),
    ] = False,
    as_csv: Annotated[
        bool,
        typer.Option(
            "--csv",
            help="Print one CSV row per INPUT, with a header; a file that cannot be read gets a row with its error (and exit code 1); a damaged one, its figures and what was lost (and exit code 3).",
        ),
    ] = False,
    frames: Annotated[
        bool, typer.Option("--frames", help="Also list the video bytes of every frame (pivot, key points, base layer).")
    ] = False,
    force: Annotated[bool, typer.Option("--force", "-f", help="Overwrite the --plot file if it exists.")] = False,
    interp_method: Annotated[
        InterpMethod | None,
        typer.Option(help="With --reference: decode as thc decode --interp-method does (default: net)."),
    ] = None,
    sr: Annotated[SrMethod | None, typer.Option(help="With --reference: decode as thc decode --sr does (default: net).")] = None,
    generator: Annotated[
        GeneratorChoice | None,
        typer.Option("--generator", help="With --reference: decode as thc decode --generator does (default: full)."),
    ] = None,
) -> None:
    """Frames, duration, video-only kbit/s and bits per pixel, audio and container apart, the worst
    window, where the bytes go, the pivots; quality against a reference."""
    choices = {"--interp-method": interp_method, "--sr": sr, "--generator": generator}
    decoding = Decoding(interp_method or InterpMethod.net, sr or SrMethod.net, generator or GeneratorChoice.full)

    def work():
        given = [name for name, value in choices.items() if value is not None]
        if given and reference is None:
            raise UsageError(f"{given[0]} needs --reference (it says how to decode the stream to compare)")
        if len(inputs) > 1 and (reference is not None or plot is not None):
            raise UsageError("--reference and --plot take one INPUT")
        if as_json and as_csv:
            raise UsageError("choose one of --json and --csv")
        if plot is not None and reference is None:
            raise UsageError("--plot needs --reference (the plot shows quality against it)")
        if plot is not None and plot.suffix.lower() != ".png":
            raise UsageError(f"{plot}: name the plot .png")
        if as_csv:
            return _stats_csv(inputs, reference, decoding)
        results = [_one_stats(p, reference, plot, force, decoding) for p in inputs]
        for s in results:
            for w in s.warnings:
                err.print(f"thc: warning: {s.file}: {w}", highlight=False)  # which file, when several are read
        if as_json:
            dicts = [s.as_dict(frames=frames) for s in results]
            typer.echo(json.dumps(dicts[0] if len(dicts) == 1 else dicts, indent=2))
        else:
            for s in results:
                _print_stats(s, plot, frames)
        return any(s.losses for s in results)

    if _run(work):  # read with losses: exit code 3, as thc decode's
        raise typer.Exit(EXIT_LOSSES)


def _animating_with(loaded, generator: GeneratorChoice):
    """The weights as --generator asks the receiver to animate (the light one: a ThcError where
    the weights have none)."""
    return loaded.with_light_generator() if generator is GeneratorChoice.light else loaded


@dataclass(frozen=True)
class Decoding:
    """How `thc stats --reference` decodes the stream it compares: thc decode's choices."""

    interp_method: InterpMethod = InterpMethod.net
    sr: SrMethod = SrMethod.net
    generator: GeneratorChoice = GeneratorChoice.full


def _one_stats(input: Path, reference: Path | None, plot: Path | None, force: bool, decoding: Decoding = Decoding()):
    from thcodec.stats import stream_stats

    _check_input(input)
    with _about(input):
        s = stream_stats(input)
    if reference is not None:
        _check_input(reference)
        from thcodec.models.weights import load_model

        with _about(input, reference):
            from thcodec.reference_quality import add_quality

            loaded = _animating_with(load_model(), decoding.generator)
            add_quality(s, reference, loaded, decoding.interp_method.value, decoding.sr.value)
    if plot is not None:
        from thcodec.media.atomic import atomic_output
        from thcodec.media.plot import quality_chart

        with atomic_output(plot, force) as tmp:
            quality_chart(
                s.psnr_y_per_frame, s.fps, [(p.frame, p.reason) for p in s.pivots], f"{input.name} against {reference.name}", tmp
            )
    return s


def _stats_csv(inputs: list[Path], reference: Path | None = None, decoding: Decoding = Decoding()) -> None:
    """One row per input on stdout; errors go in the row's error column and on stderr (exit 1 if
    any); what damaged files lost, in the losses column (exit 3 if any, and no error)."""
    import csv

    from thcodec.stats import CSV_FIELDS, csv_row

    out = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, lineterminator="\n")
    out.writeheader()
    failed = damaged = 0
    for path in inputs:
        try:
            row = csv_row(_one_stats(path, reference, None, False, decoding))
            out.writerow(row)
            damaged += bool(row["losses"])
        except ThcError as e:
            failed += 1
            out.writerow({"file": str(path), "error": str(e)})
            err.print(Text.assemble(("thc: error:", "bold red"), f" {e}"), highlight=False)
        sys.stdout.flush()
    if failed or damaged:
        raise typer.Exit(1 if failed else EXIT_LOSSES)


def _print_stats(s, plot: Path | None, frames: bool) -> None:
    from thcodec.stats import WINDOW_S

    out = Console()
    t = Table(title=escape(s.file), show_header=False)
    b = s.bytes_by_category
    t.add_row("size", f"{s.width}x{s.height} @ {s.fps:.3f} fps, {s.frames} frames, {s.duration_s:.2f} s")
    t.add_row("model", escape(f"{s.model_id}, key points every {s.interp} frame(s)"))
    t.add_row("video", f"{s.video_bytes} bytes, {s.video_kbps:.2f} kbit/s, {s.video_bits_per_pixel:.5f} bits/pixel")
    for cat in ("pivot", "keypoints", "base"):
        if cat != "base" or b[cat]:
            t.add_row(f"  {cat}", f"{b[cat]} bytes ({100 * b[cat] / max(1, s.video_bytes):.1f}% of video)")
    t.add_row("audio", f"{b['audio']} bytes, {s.audio_kbps:.2f} kbit/s")
    t.add_row("container", f"{b['container']} bytes, {s.container_kbps:.2f} kbit/s")
    t.add_row("total", f"{s.bytes_total} bytes, {s.kbps:.2f} kbit/s (all of the above)")
    clip = " (the whole clip: shorter than 10 s)" if s.window_s < WINDOW_S else ""
    t.add_row(
        f"worst {s.window_s:g} s", f"{s.worst_window_kbps:.2f} kbit/s, all bytes, from {s.worst_window_start_s:.2f} s{clip}"
    )
    t.add_row("key points", f"{s.keypoint_kbps:.2f} kbit/s, {s.keypoint_bytes_per_frame:.1f} bytes/frame")
    for p in s.pivots:
        t.add_row("pivot", f"frame {p.frame} at {p.frame / s.fps:.2f} s ({p.reason.replace('_', ' ')}), {p.bytes} bytes")
    if s.psnr_y is not None:
        t.add_row(
            "quality",
            f"PSNR Y {s.psnr_y:.2f} dB, PSNR RGB {s.psnr_rgb:.2f} dB, SSIM RGB {s.ssim_rgb:.4f}, "
            f"{s.compared_frames} frames against {escape(s.reference)}",
        )
        from thcodec.reference_quality import worst_second  # the model: only with --reference

        start, worst = worst_second(s)
        t.add_row("worst second", f"PSNR Y {worst:.2f} dB from {start:.2f} s")
    if plot is not None:
        t.add_row("plot", escape(str(plot)))
    out.print(t)
    if frames:
        f = Table(title="video bytes per frame", show_header=True)
        for col in ("frame", "time s", "pivot", "key points", "base", "video"):
            f.add_column(col, justify="right")
        for fb in s.frame_bytes:
            f.add_row(str(fb.frame), f"{fb.frame / s.fps:.3f}", str(fb.pivot), str(fb.keypoints), str(fb.base), str(fb.video))
        out.print(f)


@app.command()
def bench(
    clips: Annotated[list[Path] | None, typer.Argument(help="Video clips to measure (any size and rate).")] = None,
    data: Annotated[Path | None, typer.Option(help="Data folder with MANIFEST.tsv: also measure its clips of --split.")] = None,
    split: Annotated[str, typer.Option(help="Which split of --data to measure.")] = "val",
    out: Annotated[Path, typer.Option(help="Folder for points.csv, report.md, plots/, refs/ and streams/.")] = Path("out/bench"),
    frames: Annotated[int, typer.Option(min=1, help="Frames of each clip (at 25 fps) in the reference.")] = 250,
    codecs: Annotated[
        str | None, typer.Option(help="Comma-separated subset of the codecs (e.g. thc,x264): " + ", ".join(BENCH_CODECS) + ".")
    ] = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="Fewer settings per codec (33 points a clip instead of 49) and AED on every 10th frame: about half the time.",
        ),
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Keep the points already in OUT/points.csv; measure only the missing ones (also to add codecs to a run).",
        ),
    ] = False,
    weights: Annotated[
        Path | None,
        typer.Option(
            help="thcodec's weights folder (manifest.json + networks, as written by python -m thcodec.train.export --out DIR): measure a candidate before shipping it. Default: the shipped weights/."
        ),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            help="Measure only this setting, named in full as points.csv's setting column has it: its key=value pairs joined by commas, no spaces (pivot_quality=50,interp=2,...). Repeat for more."
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=0,
            help="Measure on a local Dask cluster of this many worker processes (needs the cluster extra: Dask distributed), one (clip, codec, setting) point per task, one torch thread each. 0: in this process, one point after another.",
        ),
    ] = 0,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
    q: QuietOld = False,
) -> None:
    """Measure thcodec against x264, x265, vvenc, SVT-AV1 and a frozen frame (condition th256). Points
    that fail are listed at the end (exit 1); the report holds the others."""
    from thcodec.bench.run import BenchOptions, parse_codecs, val_clips

    quiet = _alias("-q", "--quiet", q, quiet, False)

    def work():
        paths = list(clips or [])
        if data is not None:
            paths += val_clips(data, split)
        if not paths:
            raise ThcError("no clips: name some, or give --data with a MANIFEST.tsv")
        opts = BenchOptions(
            frames=frames,
            codecs=parse_codecs(codecs),
            quick=quick,
            aed_every=10 if quick else 5,
            resume=resume,
            weights=weights,
            only=tuple(only or ()),
        )
        with _bench_progress(quiet) as progress:
            result = _bench_run(paths, out, opts, progress, workers, scheduler)
        err.print(f"wrote {result.csv}, {result.report} and {len(result.plots)} plot(s) under {out}", highlight=False)
        _report_failures([tuple(f.split(": ", 1)) for f in result.failures], len(result.rows) + len(result.failures))

    _run(work)


def _bench_run(paths: list[Path], out: Path, opts, progress, workers: int, scheduler: str | None):
    """thc bench in this process, or on a Dask cluster (--workers N, --scheduler ADDRESS)."""
    from thcodec.bench.run import run_bench, run_bench_cluster

    if not workers and not scheduler:
        return run_bench(paths, out, opts, progress)
    from thcodec.cluster import dask_client

    with dask_client(workers or 1, scheduler) as client:
        return run_bench_cluster(paths, out, opts, client, progress)


@contextmanager
def _bench_progress(quiet: bool):
    """A run_bench Progress drawing one bar over the whole run on stderr."""
    from thcodec.bench.run import Progress as BenchProgress

    class Bar(BenchProgress):
        def __init__(self, bar: Progress | None) -> None:
            self.bar, self.task = bar, None

        def start(self, total: int) -> None:
            if self.bar:
                self.task = self.bar.add_task("bench", total=total)

        def step(self, what: str) -> None:
            if self.bar:
                self.bar.update(self.task, description=what)

        def done(self) -> None:
            if self.bar:
                self.bar.advance(self.task)

        def warn(self, message: str) -> None:
            err.print(f"thc: warning: {message}", highlight=False)

    if quiet or not err.is_terminal:  # as _progress: a bar off a terminal leaves a blank line
        yield Bar(None)
        return
    with _bar("{task.description:<40.40}") as bar:
        yield Bar(bar)


class BatchCommand(str, Enum):
    encode = "encode"
    decode = "decode"


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def batch(
    ctx: typer.Context,
    command: Annotated[
        BatchCommand, typer.Argument(help="encode: every video in IN_DIR to OUT_DIR/NAME.thc; decode: every .thc to NAME.mp4.")
    ],
    in_dir: Annotated[Path, typer.Argument(help="Folder of inputs.")],
    out_dir: Annotated[Path, typer.Argument(help="Folder for the outputs (made if missing).")],
    workers: Workers = 2,
    scheduler: Scheduler = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="Redo outputs that exist (default: skip them).")] = False,
    quiet: Quiet = False,
) -> None:
    """A folder through thc encode or decode on Dask distributed (needs the cluster extra: Dask distributed), one
    task per file: keeps going past failures, lists them at the end (exit 1 if any), skips
    outputs that exist unless --force. Options after the folders go to every thc encode/decode
    (thc batch encode in/ out/ --workers 4 -- --single-pivot)."""

    def work():
        from thcodec.cluster import batch_plan, batch_tasks, dask_client, run_tasks, thc_task

        todo, skipped = batch_plan(command.value, in_dir, out_dir, force)
        for dst in skipped:
            err.print(f"skipping {dst}: it exists (--force to redo)", highlight=False)
        out_dir.mkdir(parents=True, exist_ok=True)
        labels = [str(src) for src, _ in todo]
        with dask_client(workers, scheduler) as client, _task_progress(len(todo), quiet) as done:
            res = run_tasks(client, thc_task, batch_tasks(command.value, todo, force, ctx.args), labels, done)
        _report_failures(res.failures, len(todo))

    _run(work)


@contextmanager
def _task_progress(total: int, quiet: bool):
    """on_done(label, error) for cluster tasks: a bar over the whole batch on a terminal, else one
    line per finished task (a log of a long batch shows where it is)."""
    count = iter(range(1, total + 1))

    def line(label: str, error: str | None) -> None:
        if not quiet:
            err.print(
                f"[{next(count)}/{total}] {'FAILED ' if error else ''}{label}{': ' + error if error else ''}", highlight=False
            )

    if quiet or not err.is_terminal:
        yield line
        return
    with _bar("{task.description:<40.40}") as bar:
        task = bar.add_task("batch", total=total)

        def step(label: str, error: str | None) -> None:
            bar.update(task, advance=1, description=Path(label).name)
            if error:
                bar.console.print(f"FAILED {label}: {error}", highlight=False)

        yield step


def _report_failures(failures: list[tuple[str, str]], total: int) -> None:
    """The failed tasks at the end, exit 1 if any."""
    if not failures:
        return
    err.print(f"FAILED ({len(failures)} of {total}):", highlight=False)
    for label, error in failures:
        err.print(f"  {label}: {error}", highlight=False)
    raise typer.Exit(1)


def _terminated(signum, frame) -> None:
    """SIGTERM (kill, a service manager) ends a run as Ctrl-C does: temp files removed, nothing written."""
    raise KeyboardInterrupt


def _unraisable(hook=sys.unraisablehook):
    """A Ctrl-C that lands in a callback Python cannot raise from (importlib's module-lock
    cleanup during a lazy import) would print a traceback and be lost: raise it again in the
    main thread instead, where _run turns it into one line."""

    def quiet(info) -> None:
        if isinstance(info.exc_value, KeyboardInterrupt):
            import _thread
            import threading

            # A moment later, from another thread: raised here, in the hook, it would be lost the same way.
            timer = threading.Timer(0.02, _thread.interrupt_main)
            timer.daemon = True
            timer.start()
            return
        hook(info)

    return quiet


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning raised inside the codec or a library (a backend or precision that falls back, a
    deprecation) as one line, like the codec's own, not Python's two lines of file and source."""
    err.print(f"thc: warning: {message}", highlight=False)


def _paragraphs_as_lines() -> None:
    """Typer's rich help keeps a docstring's line breaks, so a command's summary broke where its
    source did; each paragraph becomes one line, which the help then wraps to the terminal."""
    import inspect
    import re

    for info in app.registered_commands:
        doc = info.help or inspect.getdoc(info.callback) or ""
        info.help = re.sub(r"(?<!\n)\n(?!\n)", " ", doc)


_paragraphs_as_lines()


def run() -> None:
    import signal
    import warnings

    from thcodec.threads import sleep_when_idle

    warnings.showwarning = _show_warning
    sleep_when_idle()  # before anything imports torch
    signal.signal(signal.SIGTERM, _terminated)
    sys.unraisablehook = _unraisable()
    app(prog_name="thc")


if __name__ == "__main__":
    sys.exit(run())
