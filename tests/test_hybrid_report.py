from thcodec.bench.hybrid_report import best_anchor, hybrid_section, value_at
from thcodec.bench.report import Row


def row(codec, kbps, vmaf, akd, clip="c"):
    return Row(
        clip=clip,
        codec=codec,
        label=codec,
        setting=f"r{kbps}",
        frames=250,
        bytes=int(kbps * 1250),
        kbps=kbps,
        bpp=0.0,
        psnr=30.0,
        psnr_mse=30.0,
        ssim=0.9,
        vmaf=vmaf,
        akd=akd,
        akd_frames=250,
        aed=0.3,
        aed_frames=25,
        face_miss=0.0,
        encode_fps=25.0,
        decode_fps=25.0,
        pivot_bytes=None,
        keypoint_bytes=None,
        stream="s",
    )


def test_values_come_off_the_hull_and_never_extrapolate():
    rows = [row("x", 4, 20, 3.0), row("x", 8, 40, 2.0), row("x", 12, 44, 1.0), row("x", 10, 30, 2.5)]
    assert value_at(rows, "vmaf", 6) == 30  # between (4, 20) and (8, 40); (10, 30) is under the hull
    assert value_at(rows, "akd", 10) == 1.5  # lower is better: the hull of -AKD
    assert value_at(rows, "vmaf", 3) is None and value_at(rows, "vmaf", 13) is None


def test_best_anchor_takes_the_best_of_every_anchor_but_ours():
    rows = [
        row("a", 4, 20, 3.0),
        row("a", 16, 50, 1.0),
        row("b", 4, 30, 3.5),
        row("b", 16, 40, 2.0),
        row("thc_hybrid", 4, 90, 0.1),
        row("thc_hybrid", 16, 95, 0.1),
    ]
    assert best_anchor(rows, "vmaf", 4) == (30, "b")
    assert best_anchor(rows, "vmaf", 16) == (50, "a")
    assert best_anchor(rows, "akd", 16) == (1.0, "a")
    lines = hybrid_section(rows)
    assert lines[0].startswith("## Hybrid") and any(line.startswith("| c | 6 | 90.83") for line in lines)
    assert hybrid_section([r for r in rows if r.codec != "thc_hybrid"]) == []
