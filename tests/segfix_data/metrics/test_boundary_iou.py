"""Boundary IoU and its chessboard distance against the per-class erosion of the authors' recipe."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segfix_data.metrics.boundary_iou import (biou_dilation, boundary_iou_counts, boundary_iou_from_counts,
                                              boundary_region)
from segfix_data.metrics.chessboard import FAR, other_label_distance
from segfix_data.metrics.region_score import RegionMetrics, RegionScore
from tests.support.region_oracles import (boundary_iou_reference, iou_reference, mask_to_boundary_numpy,
                                          mask_to_boundary_reference)

small_maps = arrays(np.int16, st.tuples(st.integers(1, 9), st.integers(1, 9)),
                    elements=st.sampled_from([0, 1, 2, 255]))


def _brute_distance(lab, border):
    h, w = lab.shape
    out = np.zeros(lab.shape, int)
    for y in range(h):
        for x in range(w):
            best = min(y + 1, x + 1, h - y, w - x) if border else FAR
            qy, qx = np.nonzero(lab != lab[y, x])
            if qy.size:
                best = min(best, int(np.maximum(abs(qy - y), abs(qx - x)).min()))
            out[y, x] = best
    return out


@settings(max_examples=60, deadline=None)
@given(small_maps, st.booleans())
def test_chessboard_distance_matches_brute_force(lab, border):
    np.testing.assert_array_equal(other_label_distance(lab, border), _brute_distance(lab, border))


@settings(max_examples=60, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 10), st.integers(1, 10))), st.integers(1, 5))
def test_the_two_oracles_agree(mask, d):
    """scipy's erosion with border_value=1 is the same as the erosion written out (OpenCV's rule)."""
    np.testing.assert_array_equal(mask_to_boundary_reference(mask, d), mask_to_boundary_numpy(mask, d))


def test_mask_to_boundary_by_hand():
    """A full 7x7 mask: the image border is boundary (zero padding); the region is d pixels deep."""
    full = np.ones((7, 7), bool)
    for d, expected in ((1, 24), (2, 40), (3, 48), (4, 49)):
        assert mask_to_boundary_reference(full, d).sum() == expected
        assert boundary_region(np.zeros((7, 7), np.uint8), d).sum() == expected
    lab = np.zeros((7, 7), np.uint8)
    lab[3, 3] = 1          # one pixel of another label: its 3x3 neighbourhood (d = 1) is 0's boundary too
    region = boundary_region(lab, 1)
    assert region.sum() == 24 + 1 + 8 - 0  # ring, the pixel itself, its 8 neighbours (none on the ring)


@settings(max_examples=60, deadline=None)
@given(small_maps, st.integers(1, 5))
def test_boundary_region_is_every_class_erosion_at_once(lab, d):
    region = boundary_region(lab, d)
    for v in np.unique(lab):
        mask = lab == v
        np.testing.assert_array_equal(region & mask, mask_to_boundary_reference(mask, d))


def _blocky(rng, shape, k):
    """A region-like map: k classes in blocks of random size, so that boundary regions are thin."""
    b = int(rng.integers(1, 5))
    coarse = rng.integers(0, k, (shape[0] // b + 1, shape[1] // b + 1))
    return np.kron(coarse, np.ones((b, b), int))[: shape[0], : shape[1]]


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 5), d=st.integers(1, 6))
def test_counts_match_the_per_class_reference(seed, k, d):
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in rng.integers(1, 24, 2))
    gt = _blocky(rng, shape, k)
    gt[rng.random(shape) < 0.1] = 255                    # ignore pixels
    pred = np.where(rng.random(shape) < 0.7, gt, _blocky(rng, shape, k + 2))  # ids k, k+1: no class
    pred[gt == 255] = rng.integers(0, k, int((gt == 255).sum()))
    inter, union = boundary_iou_counts(pred, gt, k, d)
    ref_i, ref_u = boundary_iou_reference(pred, gt, k, d)
    np.testing.assert_array_equal(inter, ref_i)
    np.testing.assert_array_equal(union, ref_u)


def test_border_counts_as_boundary():
    """One class everywhere, predicted right: its region is the band of d pixels along the image
    border (the authors pad with zeros), so BIoU is 1, not undefined."""
    gt = np.zeros((20, 30), np.uint8)
    inter, union = boundary_iou_counts(gt, gt, 2, 3)
    assert inter.tolist() == union.tolist() == [20 * 30 - 14 * 24, 0]
    biou, mean = boundary_iou_from_counts(inter, union)
    assert biou[0] == 1.0 and np.isnan(biou[1]) and mean == 1.0


def test_ignore_pixels_by_hand():
    """Ground truth 0 | ignore | 1; everything predicted 0; d = 1.

    ``gt == 0`` is computed on the whole map, so the 0 pixel beside the ignore column is on 0's
    boundary; the ignore column is then dropped from both regions. Counted by hand:
    G_0 = rows 0 and 2 (3 + 3) + row 1 at x = 0 (border) and x = 2 (beside ignore) = 8;
    P_0 (one label: the border band) = 6 + 6 + 2 = 14, minus the 2 ignore pixels on it = 12;
    I_0 = 6 + 1 = 7, U_0 = 8 + 12 - 7 = 13. G_1 = 4 + 2 = 6, P_1 empty: I_1 = 0, U_1 = 6.
    """
    gt = np.array([[0, 0, 0, 255, 1, 1]] * 3, np.uint8)
    pred = np.zeros_like(gt)
    inter, union = boundary_iou_counts(pred, gt, 2, 1)
    assert inter.tolist() == [7, 0] and union.tolist() == [13, 6]
    assert boundary_iou_from_counts(inter, union)[1] == pytest.approx((7 / 13 + 0) / 2)


def test_dilation_is_the_authors_expression():
    assert biou_dilation((1024, 2048)) == 46                    # round(0.02 * 2289.7)
    assert biou_dilation((256, 512)) == 11
    assert biou_dilation((4, 4)) == 1                           # never below 1
    assert biou_dilation((1024, 2048), 0.005) == 11
    with pytest.raises(ValueError):
        boundary_iou_counts(np.zeros((2, 2), int), np.zeros((2, 2), int), 2, 0)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 4), n=st.integers(1, 3))
def test_dataset_score_sums_counts_then_divides(seed, k, n):
    """BIoU_c = sum I / sum U over the images (not a mean of per-image ratios), d per image size."""
    rng = np.random.default_rng(seed)
    score = RegionScore(k, RegionMetrics(biou=True, biou_ratio=0.1))
    inter, union = np.zeros(k, int), np.zeros(k, int)
    for _ in range(n):
        shape = tuple(int(s) for s in rng.integers(3, 30, 2))
        gt = _blocky(rng, shape, k)
        gt[rng.random(shape) < 0.05] = 255
        pred = np.where(rng.random(shape) < 0.8, gt, _blocky(rng, shape, k))
        score.update(pred, gt)
        i, u = boundary_iou_reference(pred, gt, k, max(1, int(round(0.1 * np.hypot(*shape)))))
        inter += i
        union += u
    res = score.result([str(c) for c in range(k)])
    ious, mean = iou_reference(inter, union)
    assert_scores_equal([res["class_boundary_iou"][str(c)] for c in range(k)], ious)
    assert_scores_equal([res["boundary_iou"]], [mean])


def assert_scores_equal(got, expected):
    """Equal lists of scores, None (empty union) in the same places."""
    assert [g is None for g in got] == [e is None for e in expected], (got, expected)
    assert [g for g in got if g is not None] == pytest.approx([e for e in expected if e is not None], rel=1e-12)
