"""Trimap IoU against bands found by shifting the ground truth over every offset of the square."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segfix_data.metrics.region_score import RegionMetrics, RegionScore
from segfix_data.metrics.trimap import band_confusion, ring_confusion, trimap_iou
from tests.segfix_data.metrics.test_boundary_iou import _blocky, assert_scores_equal
from tests.support.region_oracles import confusion_iou_reference, trimap_band_reference, trimap_reference


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 5))
def test_band_confusions_match_the_reference(seed, k):
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in rng.integers(1, 24, 2))
    gt = _blocky(rng, shape, k)
    gt[rng.random(shape) < 0.1] = 255
    pred = np.where(rng.random(shape) < 0.7, gt, _blocky(rng, shape, k + 2))
    widths = (1, 2, 3, 5)
    rings = ring_confusion(pred, gt, k, max(widths))
    ref = trimap_reference(pred, gt, k, widths)
    for w in widths:
        np.testing.assert_array_equal(band_confusion(rings, w), ref[w])


def test_band_by_hand():
    """Width w: w pixels on each side of the edge between two labels; the image border is no edge."""
    gt = np.array([[0, 0, 0, 0, 1, 1, 1, 1]] * 2)
    for w, cols in ((1, [3, 4]), (2, [2, 3, 4, 5]), (4, list(range(8)))):
        band = trimap_band_reference(gt, w)
        assert np.nonzero(band[0])[0].tolist() == cols
        rings = ring_confusion(gt, gt, 2, w)
        assert band_confusion(rings, w).sum() == 2 * len(cols)
    for shape in ((1, 1), (2, 3), (5, 5)):   # no edge, no band, however wide
        assert ring_confusion(np.zeros(shape, int), np.zeros(shape, int), 1, 10).sum() == 0


def test_ignore_is_an_edge_and_is_not_scored():
    """A class pixel beside ignore is in the band; the ignore pixels themselves are never counted."""
    gt = np.array([[0, 0, 255, 1, 1]])
    pred = np.array([[0, 1, 1, 1, 7]])              # 7: no evaluated class
    conf = band_confusion(ring_confusion(pred, gt, 2, 1), 1)
    assert conf.tolist() == [[0, 1, 0], [0, 1, 0]]  # x=1 (0 predicted 1), x=3 (1 predicted 1)
    iou, miou = trimap_iou(ring_confusion(pred, gt, 2, 1), (1,))
    assert iou[0].tolist() == [0.0, 0.5] and miou.tolist() == [0.25]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 4), n=st.integers(1, 3))
def test_dataset_trimap_is_miou_of_the_summed_band_confusion(seed, k, n):
    rng = np.random.default_rng(seed)
    widths = (1, 3)
    score = RegionScore(k, RegionMetrics(trimap_px=widths, curve_px=4))
    total = {w: np.zeros((k, k + 1), np.int64) for w in (1, 2, 3, 4)}
    for _ in range(n):
        shape = tuple(int(s) for s in rng.integers(2, 30, 2))
        gt = _blocky(rng, shape, k)
        gt[rng.random(shape) < 0.05] = 255
        pred = np.where(rng.random(shape) < 0.8, gt, _blocky(rng, shape, k + 1))
        score.update(pred, gt)
        for w, conf in trimap_reference(pred, gt, k, total).items():
            total[w] += conf
    res = score.result([str(c) for c in range(k)])
    assert res["trimap_px"] == [1, 3]
    for w in widths:
        ious, mean = confusion_iou_reference(total[w])
        assert_scores_equal([res["class_trimap_iou"][str(w)][str(c)] for c in range(k)], ious)
        assert_scores_equal([res["trimap_iou"][str(w)]], [mean])
    assert res["trimap_curve"]["width_px"] == [1, 2, 3, 4]
    assert_scores_equal(res["trimap_curve"]["miou"], [confusion_iou_reference(total[w])[1] for w in (1, 2, 3, 4)])


def test_widths_are_checked():
    with pytest.raises(ValueError, match="integers >= 1"):
        RegionMetrics(trimap_px=(0, 3))
    with pytest.raises(ValueError, match="outside the counted rings"):
        band_confusion(np.zeros((3, 2, 3), np.int64), 4)
