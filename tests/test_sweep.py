"""The benchmark's one sweep loop (thcodec/bench/sweep.py) with fake codecs: no network, no dlib."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from thcodec.bench import quality as Q
from thcodec.bench.codec import Coded, Setting
from thcodec.bench.sweep import Point, Scoring, read_points, stored_references, sweep, write_points
from thcodec.data.reference import Reference, write_lossless
from thcodec.errors import ThcError
from thcodec.face.region import Region


def reference(name: str, n: int = 10, size: int = 32, seed: int = 0) -> Reference:
    frames = np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    path = Path(f"/nonexistent/{name}.mkv")
    return Reference(name, path, path, Region.whole(size, size), None, frames, Fraction(25))


class Noisy:
    """A fake codec: the reference plus noise of the setting's amplitude; `bytes` bytes a frame."""

    name, label = "noisy", "a fake codec"

    def __init__(self) -> None:
        self.runs: list[tuple[str, str]] = []

    def settings(self, quick: bool) -> list[Setting]:
        return [Setting.of(noise=n) for n in ((8,) if quick else (0, 8))]

    def run(self, ref: Reference, setting: Setting, out_dir: Path) -> Coded:
        self.runs.append((ref.name, setting.label))
        noise = np.random.default_rng(1).integers(-setting["noise"], setting["noise"] + 1, ref.frames.shape)
        decoded = np.clip(ref.frames.astype(int) + noise, 0, 255).astype(np.uint8)
        stream = out_dir / f"{ref.name}_{setting.slug}.bin"
        stream.write_bytes(b"x" * 100 * ref.count)
        return Coded(stream, 100 * ref.count, decoded, 0.5, 0.25, bitstream_vmaf=False, parts={"pivot": 7}, info={"n": 1})


class Nothing:
    """A fake that sends nothing (as native.py's ceiling)."""

    name, label = "nothing", "sends nothing"

    def settings(self, quick: bool) -> list[Setting]:
        return [Setting.of()]

    def run(self, ref: Reference, setting: Setting, out_dir: Path) -> Coded:
        return Coded(None, 0, ref.frames.copy(), 0.0, 0.0, bitstream_vmaf=False)


def test_sweep_scores_every_codec_at_every_setting_on_every_reference(tmp_path):
    refs = [reference("a"), reference("b", seed=2)]
    noisy, seen = Noisy(), []
    extra = lambda ref, coded, faces: {"mean_pixel": float(coded.decoded.mean()), "faces": faces}
    points = sweep(refs, [noisy, Nothing()], tmp_path, Scoring(faces=False, psnr=True, ssim=True), measure=extra, log=seen.append)
    assert [(p.clip, p.codec, p.label) for p in points] == [
        ("a", "noisy", "noise=0"), ("a", "noisy", "noise=8"), ("a", "nothing", ""),
        ("b", "noisy", "noise=0"), ("b", "noisy", "noise=8"), ("b", "nothing", ""),
    ]  # fmt: skip
    assert seen == points and noisy.runs == [("a", "noise=0"), ("a", "noise=8"), ("b", "noise=0"), ("b", "noise=8")]
    exact, noisy8 = points[0], points[1]
    assert exact.psnr == Q.PSNR_CAP and exact.ssim == pytest.approx(1.0)
    assert 25 < noisy8.psnr < 50 and noisy8.psnr >= noisy8.psnr_mse and noisy8.ssim < 1
    # rate from the bytes over the reference's duration (10 frames at 25 fps), speeds from the codec's times
    assert noisy8.bytes == 1000 and noisy8.kbps == pytest.approx(1000 * 8 / 0.4 / 1000)
    assert (noisy8.encode_fps, noisy8.decode_fps) == (pytest.approx(20.0), pytest.approx(40.0))
    assert noisy8.parts == {"pivot": 7} and noisy8.extra["n"] == 1 and noisy8.extra["faces"] is None
    assert noisy8.vmaf is None and noisy8.akd is None  # not asked for
    nothing = points[2]
    assert (nothing.kbps, nothing.encode_fps, nothing.decode_fps) == (None, None, None) and nothing.psnr == Q.PSNR_CAP
    assert sweep(refs[:1], [Noisy()], tmp_path, Scoring(faces=False), quick=True, log=None)[0].label == "noise=8"
    write_points(points, tmp_path / "points.json")
    assert read_points(tmp_path / "points.json") == points


def test_sweep_refuses_frames_that_do_not_match_the_reference(tmp_path):
    class Short(Nothing):
        def run(self, ref, setting, out_dir):
            return Coded(None, 0, ref.frames[:-1], 0.0, 0.0, bitstream_vmaf=False)

    with pytest.raises(ThcError, match="decoded"):
        sweep([reference("a")], [Short()], tmp_path, Scoring(faces=False), log=None)


def test_points_read_back_from_a_cut_short_runs_log(tmp_path, capsys):
    points = sweep([reference("a")], [Noisy()], tmp_path, Scoring(faces=False, psnr=True))  # prints JSON lines
    log = tmp_path / "log.txt"
    log.write_text("loading...\n" + capsys.readouterr().out + "| a table |\n")
    assert read_points(log) == points
    assert isinstance(points[0], Point) and points[0].setting == {"noise": 0}


def test_stored_references_by_name(tmp_path):
    for name in ("b", "a"):
        write_lossless(reference(name, n=3).frames, tmp_path / f"{name}.mkv", Fraction(25))
    refs = list(stored_references(tmp_path))
    assert [r.name for r in refs] == ["a", "b"] and refs[0].frames.shape == (3, 32, 32, 3) and refs[0].duration_s == 0.12
    assert [r.name for r in stored_references(tmp_path, ("b",))] == ["b"]
    with pytest.raises(ThcError, match="no reference"):
        list(stored_references(tmp_path, ("c",)))


def test_thc_sweep_encodes_once_per_encoding_and_maps_settings_to_options(monkeypatch, tmp_path):
    from thcodec.bench import ours

    encoded, decoders = [], []
    monkeypatch.setattr(ours, "encode_thc", lambda src, stream, loaded, opts: encoded.append((stream.name, opts)) or stream)
    monkeypatch.setattr(ours, "decoded", lambda coded, ref, receiver: decoders.append(receiver.interp_method))
    points = [Setting.of(interp=k, decoder=m) for k, m in ((1, "net"), (2, "net"), (2, "linear"))]
    points.append(Setting.of(mode="single", interp=2))
    receivers = {m: ours.Receiver(None, interp_method=m) for m in ("net", "linear")}
    thc = ours.ThcSweep(points, None, receivers, modes={"single": {"adaptive": False}})
    for p in points:
        thc.run(reference("a"), p, tmp_path)
    assert [name for name, _ in encoded] == ["a_thc_interp1.thc", "a_thc_interp2.thc", "a_thc_modesingle_interp2.thc"]
    assert decoders == ["net", "net", "linear", "net"]
    assert [(o.interp, o.adaptive, o.audio) for _, o in encoded] == [(1, True, False), (2, True, False), (2, False, False)]


def test_speeds_default_clip_is_the_manifests_first_val_clip(tmp_path):
    from thcodec.bench.speed import default_clip

    assert default_clip(tmp_path) == Path("examples/demo.mp4")  # no data folder
    (tmp_path / "MANIFEST.tsv").write_text("file\tsplit\nt.mp4\ttrain\nv1.mp4\tval\nv2.mp4\tval\n")
    assert default_clip(tmp_path) == tmp_path / "clips" / "v1.mp4"


def test_long_calls_default_clip_is_the_manifests_first_wide_val_clip(tmp_path):
    from thcodec.bench.long_call import wide_clip

    rows = ["t.mp4\ttrain\t1280\t720", "sq.mp4\tval\t512\t512", "w.mp4\tval\t1920\t1080", "w2.mp4\tval\t1280\t720"]
    (tmp_path / "MANIFEST.tsv").write_text("file\tsplit\twidth\theight\n" + "\n".join(rows) + "\n")
    assert wide_clip(tmp_path) == "w.mp4"


def test_sweeps_name_their_variants_as_settings():
    from thcodec.bench.interp import points

    assert [s.label for s in points([1, 2])] == ["interp=1,decoder=net", "interp=2,decoder=net", "interp=2,decoder=linear"]


def test_pivot_sweeps_jump_at_a_switch_is_against_the_sources():
    from thcodec.bench.pivots import switch_jump

    source = np.zeros((10, 4, 4, 3), np.uint8)
    source[5:] = 100  # a cut at frame 5: the source steps by 100
    decoded = source.copy()
    decoded[5] = 50  # the decoder fades: two steps of 50
    assert switch_jump(decoded, source, [[0, "start", 1]]) is None
    assert switch_jump(decoded, source, [[0, "start", 1], [5, "scene_cut", 1]]) == pytest.approx(0.5)
