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
