"""``segfix eval --plots``: the counting against brute force, and the figures written."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from segfix_data.metrics.plots import (ErrorDistance, distance_to_boundary, fixed_broken, gt_boundary,
                                       plot_directory, require_matplotlib)
from tests.support.build_data import write_cityscapes


def _brute_distance(gt):
    h, w = gt.shape
    b = [(y, x) for y in range(h) for x in range(w)
         if any(0 <= y + dy < h and 0 <= x + dx < w and gt[y + dy, x + dx] != gt[y, x]
                for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0)))]
    out = np.full(gt.shape, np.inf)
    for y in range(h):
        for x in range(w):
            if b:
                out[y, x] = min(np.hypot(y - by, x - bx) for by, bx in b)
    return out


@settings(max_examples=25, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 7), st.integers(1, 7)), elements=st.sampled_from([0, 1, 255])),
       arrays(np.uint8, (7, 7), elements=st.sampled_from([0, 1, 2])))
def test_error_distance_counts_match_brute_force(gt, pred_full):
    pred = pred_full[: gt.shape[0], : gt.shape[1]]
    d = _brute_distance(gt)
    np.testing.assert_allclose(distance_to_boundary(gt), d)
    acc = ErrorDistance(max_px=3)
    acc.update(pred, gt)
    valid = gt != 255
    for k in range(4):
        in_bin = valid & ((d >= k) & (d < k + 1) if k < 3 else d >= 3)
        assert acc.pixels[k] == in_bin.sum()
        assert acc.errors[k] == (in_bin & (pred != gt)).sum()


def test_gt_boundary_marks_both_sides():
    gt = np.array([[0, 0, 1, 1]])
    assert gt_boundary(gt).tolist() == [[False, True, True, False]]


def test_fixed_and_broken_by_hand():
    gt = np.array([[1, 1, 2, 255]])
    base = np.array([[1, 2, 2, 0]])
    pred = np.array([[2, 1, 2, 1]])
    fixed, broken = fixed_broken(pred, base, gt)
    assert fixed.tolist() == [[False, True, False, False]]
    assert broken.tolist() == [[True, False, False, False]]


def test_missing_matplotlib_is_one_clear_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ValueError, match=r"pip install 'segfix\[plots\]'"):
        require_matplotlib()


def _predictions(data, tmp_path):
    from segfix_data.datasets.labels import cityscapes_label_ids_to_train_ids as to_train
    from segfix_data.datasets.labels import cityscapes_train_ids_to_label_ids as to_ids

    base, pred = tmp_path / "base", tmp_path / "pred"
    base.mkdir(), pred.mkdir()
    for g in sorted((data / "gtFine" / "val").rglob("*_gtFine_labelIds.png")):
        gt = to_train(np.array(Image.open(g)))
        coarse = gt.copy()
        coarse[:, 2:] = gt[:, :-2]                      # shifted: errors at the boundaries
        better = np.where(np.arange(gt.shape[1]) < gt.shape[1] // 2, gt, coarse)   # half fixed
        name = g.name.replace("_gtFine_labelIds", "_leftImg8bit")
        Image.fromarray(to_ids(coarse)).save(base / name)
        Image.fromarray(to_ids(better)).save(pred / name)
    return base, pred


def _is_png(path):
    with Image.open(path) as im:
        return im.format == "PNG" and im.size[0] > 200


def test_eval_plots_with_a_baseline(tmp_path):
    from cli.main import main

    data = write_cityscapes(tmp_path / "cs", {"val": 3})
    base, pred = _predictions(data, tmp_path)
    r = CliRunner().invoke(main, ["eval", str(data), str(pred), "--baseline", str(base),
                                  "--plots", str(tmp_path / "plots"), "--plot-frames", "2"])
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert len(names) == 5 and {"class_gains.png", "errors_vs_distance.png", "trimap_gain.png"} <= set(names)
    assert sum(n.startswith("fixed_broken_") for n in names) == 2
    assert all(_is_png(p) for p in (tmp_path / "plots").iterdir())


def test_plots_without_baseline_only_the_distance_figure(tmp_path):
    data = write_cityscapes(tmp_path / "cs", {"val": 1})
    _, pred = _predictions(data, tmp_path)
    paths = plot_directory(tmp_path / "plots", data, pred)
    assert [p.name for p in paths] == ["errors_vs_distance.png"] and _is_png(paths[0])


def _red_pixels(path) -> int:
    """Pixels of the PNG drawn in the 'broken' red (BROKEN_RGB)."""
    from segfix_data.metrics.plots import BROKEN_RGB

    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    return int((np.abs(rgb - np.round(np.array(BROKEN_RGB) * 255)).max(axis=2) <= 12).sum())


def test_one_pixel_marks_of_a_2048_wide_frame_stay_visible(tmp_path):
    """At 2048 px a frame is drawn at about 0.45x: a 1-px broken line is widened (5 px) in the whole
    frame and shown at full resolution in the zoom, so the PNG shows it; a 256-px frame is drawn
    as it is, without zoom."""
    from segfix_data.metrics.plots import mark_radius, plot_fixed_broken

    h, w = 1024, 2048
    image = np.full((h, w, 3), 128, np.uint8)
    fixed, broken = np.zeros((h, w), bool), np.zeros((h, w), bool)
    broken[300:600, 1501] = True                        # a 300-px line, one pixel wide
    plot_fixed_broken(tmp_path / "wide.png", image, fixed, broken)
    with Image.open(tmp_path / "wide.png") as im:
        scale = 940 / w                                 # display px per frame px in the overview
        assert im.size[1] > 1.3 * im.size[0] * h / w    # a second panel: the zoom
    assert _red_pixels(tmp_path / "wide.png") >= 2 * 300 * scale + 300  # overview (>= 2 px wide) + zoom
    assert mark_radius(w) == 2 and mark_radius(940) == 0 and mark_radius(256) == 0
    small = np.zeros((128, 256), bool)
    small[10:60, 100] = True
    plot_fixed_broken(tmp_path / "small.png", image[:128, :256], small & False, small)
    with Image.open(tmp_path / "small.png") as im:
        assert im.size[1] < 0.75 * im.size[0]           # one panel
    assert _red_pixels(tmp_path / "small.png") >= 50 * 3    # drawn at ~3.7x, not widened


@settings(max_examples=30, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(1, 9), st.integers(1, 9))), st.integers(1, 9), st.integers(1, 9))
def test_densest_window_matches_brute_force(mask, wh, ww):
    from segfix_data.metrics.plots import densest_window

    h, w = mask.shape
    wh, ww = min(wh, h), min(ww, w)
    counts = {(y, x): int(mask[y: y + wh, x: x + ww].sum()) for y in range(h - wh + 1) for x in range(w - ww + 1)}
    y0, x0 = densest_window(mask, (wh, ww))
    assert counts[(y0, x0)] == max(counts.values())
    assert (y0, x0) == min(k for k, v in counts.items() if v == max(counts.values()))


def test_class_gains_absent_classes_are_na_on_both_sides(tmp_path, monkeypatch):
    """A class absent from every frame is n/a for IoU and for boundary F alike (not +0.00)."""
    pytest.importorskip("matplotlib")
    from cli.main import main
    from segfix_data.metrics import plots

    data = write_cityscapes(tmp_path / "cs", {"val": 2})
    base, pred = _predictions(data, tmp_path)
    seen = {}
    real = plots.plot_class_gains
    monkeypatch.setattr(plots, "plot_class_gains", lambda path, delta, **kw: (seen.update(delta), real(path, delta, **kw))[1])
    r = CliRunner().invoke(main, ["eval", str(data), str(pred), "--baseline", str(base),
                                  "--plots", str(tmp_path / "plots"), "--plot-frames", "0"])
    assert r.exit_code == 0, r.output
    iou_na = {n for n, v in seen["class_iou"].items() if v is None}
    t = next(iter(seen["class_boundary_f"]))
    f_na = {n for n, v in seen["class_boundary_f"][t].items() if v is None}
    assert iou_na and iou_na == f_na                    # e.g. train, bus: in no frame
    assert "road" not in f_na
