"""Line charts (thcodec/media/plot.py): PNGs of the stated size, the quality chart of `thc stats --plot`."""

from __future__ import annotations

import builtins

import numpy as np
import pytest
from PIL import Image

from thcodec.errors import ThcError
from thcodec.media import plot

pytest.importorskip("matplotlib")


def test_a_line_chart_is_a_png_of_the_stated_size_with_its_lines(tmp_path):
    path = tmp_path / "c.png"
    plot.line_chart(
        [plot.Series("loss", [0, 1, 2, 3], [4.0, 2.0, 1.0, 0.5], plot.RED, 3), plot.Series("one", [1], [2.0])],
        "title",
        "step",
        "loss",
        path,
        markers=[(2, "pivot")],
    )
    img = np.asarray(Image.open(path).convert("RGB"))
    assert img.shape == (plot.HEIGHT, plot.WIDTH, 3)
    red = (img[..., 0] > 180) & (img[..., 1] < 80) & (img[..., 2] < 80)
    assert red.sum() > 200  # the thick red line (and the marker) are drawn


def test_quality_chart_marks_the_pivots(tmp_path):
    path = tmp_path / "q.png"
    plot.quality_chart(list(np.linspace(20, 40, 50)) + [float("inf")], 25.0, [(0, "start"), (30, "scene_cut")], "clip", path)
    assert Image.open(path).size == (plot.WIDTH, plot.HEIGHT)


def test_without_matplotlib_a_one_line_error(tmp_path, monkeypatch):
    real = builtins.__import__

    def no_matplotlib(name, *args, **kw):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ThcError, match="matplotlib"):
        plot.line_chart([plot.Series("a", [0, 1], [0, 1])], "t", "x", "y", tmp_path / "c.png")
