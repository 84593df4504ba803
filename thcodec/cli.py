"""`thc`: the command line. A thin Typer layer over thcodec's pure functions.

Every user mistake or damaged input is a ThcError: one line on stderr, exit code 1.
Ctrl-C leaves no partial output and exits with 130.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Iterator, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from thcodec import __version__
from thcodec.errors import ThcError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="thcodec: video calls at a few kbit/s. Sends a picture of the speaker now and then and "
    "ten key points per frame; the receiver animates the picture.",
)
err = Console(stderr=True)

Force = Annotated[bool, typer.Option("--force", "-f", help="Overwrite OUTPUT if it exists.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
NoAudio = Annotated[bool, typer.Option("--no-audio", help="Drop the audio track.")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"thc {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = None,
) -> None:
    """thcodec command line."""


@contextmanager
def _progress(label: str, quiet: bool) -> Iterator[tuple]:
    """Yields (on_start(total), on_frames(n)) callbacks driving a progress bar on stderr."""
    if quiet:
        yield (lambda total: None, lambda n: None)
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("frames"), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield (lambda total: bar.update(task, total=total or None), lambda n: bar.advance(task, n))


def _run(fn, *args, **kwargs):
    """Run fn, turning ThcError and Ctrl-C into a one-line message and an exit code."""
    try:
        return fn(*args, **kwargs)
    except ThcError as e:
        err.print(f"[bold red]thc: error:[/] {e}", highlight=False)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print("thc: interrupted, nothing written", highlight=False)
        raise typer.Exit(130) from None


def _check_input(path: Path) -> None:
    if not path.exists():
        raise ThcError(f"{path}: no such file")
    if path.is_dir():
        raise ThcError(f"{path} is a directory")


@app.command()
def encode(
    input: Annotated[Path, typer.Argument(help="Video file with a person talking (MP4, MOV, MKV, ...).")],
    output: Annotated[Path, typer.Argument(help="The .thc file to write.")],
    interp: Annotated[int, typer.Option(min=1, max=4, help="Send key points for every k-th frame; the receiver fills the rest.")] = 1,
    pivot_quality: Annotated[int, typer.Option(min=10, max=95, help="JPEG quality of the pivot picture (its bytes dominate short calls).")] = 85,
    audio_kbps: Annotated[int, typer.Option(min=6, max=64, help="Opus bit rate of the audio track, kbit/s.")] = 12,
    no_audio: NoAudio = False,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Compress a video into a .thc stream."""
    from thcodec.atomic import atomic_output
    from thcodec.encoder import EncodeOptions, encode as encode_video
    from thcodec.weights import load_model

    def work():
        _check_input(input)
        loaded = load_model()
        opts = EncodeOptions(interp=interp, pivot_quality=pivot_quality, audio=not no_audio, audio_bitrate=audio_kbps * 1000)
        with atomic_output(output, force) as tmp, open(tmp, "wb") as f, _progress("encoding", quiet) as (start, step):
            result = encode_video(input, f, loaded, opts, on_frames=step, on_start=start)
        for w in result.warnings:
            err.print(f"thc: warning: {w}", highlight=False)
        if not quiet:
            kbps = result.bytes_total * 8 / max(result.duration_s, 1e-9) / 1000
            err.print(f"wrote {output}: {result.frames} frames, {result.bytes_total} bytes, {kbps:.2f} kbit/s", highlight=False)

    _run(work)


@app.command()
def decode(
    input: Annotated[Path, typer.Argument(help="The .thc file to read.")],
    output: Annotated[Path, typer.Argument(help="Video file to write (.mp4, .mov or .mkv): same size and rate as the original.")],
    no_audio: NoAudio = False,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Rebuild a video from a .thc stream."""
    from thcodec.atomic import atomic_output
    from thcodec.decoder import decode_file
    from thcodec.weights import load_model

    def work():
        _check_input(input)
        loaded = load_model()
        with atomic_output(output, force) as tmp, _progress("decoding", quiet) as (start, step):
            n = decode_file(input, tmp, loaded, on_start=start, on_frames=step, with_audio=not no_audio)
        if not quiet:
            err.print(f"wrote {output}: {n} frames", highlight=False)

    _run(work)


@app.command()
def stats(
    input: Annotated[Path, typer.Argument(help="The .thc file to describe.")],
    reference: Annotated[Optional[Path], typer.Option(help="Original video: also decode and report PSNR and SSIM against it.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
) -> None:
    """Frames, duration, kbit/s, bits per pixel, where the bytes go; quality against a reference."""
    from thcodec.stats import add_quality, stream_stats

    def work():
        _check_input(input)
        s = stream_stats(input)
        if reference is not None:
            _check_input(reference)
            from thcodec.weights import load_model

            add_quality(s, reference, load_model())
        if as_json:
            typer.echo(json.dumps(s.as_dict(), indent=2))
            return
        out = Console()
        t = Table(title=str(input), show_header=False)
        t.add_row("size", f"{s.width}x{s.height} @ {s.fps:.3f} fps, {s.frames} frames, {s.duration_s:.2f} s")
        t.add_row("model", f"{s.model_id}, key points every {s.interp} frame(s)")
        t.add_row("total", f"{s.bytes_total} bytes, {s.kbps:.2f} kbit/s, {s.bits_per_pixel:.5f} bits/pixel")
        for cat, n in s.bytes_by_category.items():
            t.add_row(f"  {cat}", f"{n} bytes ({100 * n / max(1, s.bytes_total):.1f}%)")
        t.add_row("key points", f"{s.keypoint_kbps:.2f} kbit/s, {s.keypoint_bytes_per_frame:.1f} bytes/frame")
        for p in s.pivots:
            t.add_row("pivot", f"frame {p.frame} ({p.reason}), {p.bytes} bytes")
        if s.psnr is not None:
            t.add_row("quality", f"PSNR {s.psnr:.2f} dB, SSIM {s.ssim:.4f} (against {reference})")
        out.print(t)

    _run(work)


def run() -> None:
    app(prog_name="thc")


if __name__ == "__main__":
    sys.exit(run())
