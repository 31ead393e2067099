"""segfix_data.metrics against brute-force counts and the per-class dilation definition."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.morphology import disk

from segfix_data.metrics.boundary import boundary_f_image, boundary_radius, disk_offsets, seg2bmap
from segfix_data.metrics.confusion import confusion_matrix, iou_from_confusion
from segfix_data.metrics.score import SegmentationScore
from tests.support.oracles import boundary_f_image_reference


def brute_iou(preds, gts, k):
    """Cityscapes evaluator's formula, counted pixel by pixel."""
    tp = np.zeros(k, int)
    fp = np.zeros(k, int)
    fn = np.zeros(k, int)
    for pred, gt in zip(preds, gts):
        for p, g in zip(pred.ravel().tolist(), gt.ravel().tolist()):
            if not 0 <= g < k:
                continue  # ground-truth ignore: not counted at all
            if p == g:
                tp[g] += 1
            else:
                fn[g] += 1
                if 0 <= p < k:
                    fp[p] += 1
    ious = [tp[c] / (tp[c] + fp[c] + fn[c]) if tp[c] + fp[c] + fn[c] else None for c in range(k)]
    valid = [v for v in ious if v is not None]
    return ious, (sum(valid) / len(valid) if valid else None)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 6), n=st.integers(1, 3))
def test_miou_matches_brute_force(seed, k, n):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(1, 12, 2))
    gts = [np.where(rng.random(shape) < 0.2, 255, rng.integers(0, k, shape)).astype(np.uint8) for _ in range(n)]
    preds = [rng.integers(0, k + 3, shape).astype(np.int32) for _ in range(n)]  # some "no class" ids
    score = SegmentationScore(k, boundary=False)
    for p, g in zip(preds, gts):
        score.update(p, g)
    res = score.result()
    ious, miou = brute_iou(preds, gts, k)
    for c in range(k):
        assert res["class_iou"][str(c)] == pytest.approx(ious[c]) if ious[c] is not None else res["class_iou"][str(c)] is None
    if miou is None:
        assert res["miou"] is None
    else:
        assert res["miou"] == pytest.approx(miou, rel=1e-12)


def test_iou_hand_computed():
    gt = np.array([[0, 0, 1, 255]])
    pred = np.array([[0, 1, 1, 0]])
    conf = confusion_matrix(pred, gt, 3)
    assert conf.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]
    iou, miou = iou_from_confusion(conf)
    assert iou[0] == pytest.approx(0.5) and iou[1] == pytest.approx(0.5) and np.isnan(iou[2])
    assert miou == pytest.approx(0.5)  # class 2 absent from both: left out of the mean


def test_seg2bmap_hand_computed():
    m = np.array([[0, 0, 0, 0],
                  [0, 1, 1, 0],
                  [0, 1, 1, 0],
                  [0, 0, 0, 1]], bool)
    expected = np.array([[1, 1, 1, 0],
                         [1, 0, 1, 0],
                         [1, 1, 1, 1],
                         [0, 0, 1, 0]], bool)
    np.testing.assert_array_equal(seg2bmap(m), expected)


def test_disk_offsets_match_skimage_disk():
    for r in range(0, 7):
        fp = disk(r).astype(bool)
        off = disk_offsets(r)
        got = np.zeros((2 * r + 1, 2 * r + 1), bool)
        got[off[:, 0] + r, off[:, 1] + r] = True
        np.testing.assert_array_equal(got, fp)
        assert np.all(np.diff(off[:, 2]) >= 0)


def test_boundary_radius_paper_values():
    assert [boundary_radius(t, (1024, 2048)) for t in (0.0003, 0.0006, 0.0009)] == [1, 2, 3]
    assert boundary_radius(2, (10, 10)) == 2


def test_empty_map_rules():
    gt = np.zeros((6, 6), np.uint8)
    gt[2:4, 2:4] = 1
    pred = np.zeros((6, 6), np.uint8)
    f = boundary_f_image(pred, gt, 3, thresholds=(1,))
    # class 0: both have a boundary? pred is all 0 -> no boundary; gt has one -> P=1, R=0 -> F=0
    assert f[0, 0] == 0.0
    # class 1: absent from the prediction -> F = 0; class 2 absent from both -> F = 1
    assert f[1, 0] == 0.0 and f[2, 0] == 1.0
    # prediction boundary but none in the ground truth -> P=0, R=1 -> F=0
    f2 = boundary_f_image(gt, np.zeros_like(gt), 3, thresholds=(1,))
    assert f2[1, 0] == 0.0 and f2[2, 0] == 1.0
    # identical maps -> F = 1 everywhere
    assert np.all(boundary_f_image(gt, gt, 3, thresholds=(1,)) == 1.0)


def test_ignore_cleared_in_both():
    gt = np.array([[0, 0, 255, 1], [0, 0, 255, 1], [0, 0, 255, 1]], np.uint8)
    pred = np.array([[0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 1, 1]], np.uint8)  # differences only on ignore
    np.testing.assert_array_equal(boundary_f_image(pred, gt, 2, (1, 2)),
                                  boundary_f_image(gt, gt, 2, (1, 2)))


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 5), blocky=st.booleans())
def test_boundary_f_equals_per_class_dilation(seed, k, blocky):
    rng = np.random.default_rng(seed)
    if blocky:  # region-like maps with a perturbed prediction
        gt = np.kron(rng.integers(0, k, (3, 4)), np.ones((int(rng.integers(1, 6)), int(rng.integers(1, 6))), int))
        pred = gt.copy()
        noise = rng.random(gt.shape) < 0.15
        pred[noise] = rng.integers(0, k + 1, int(noise.sum()))
        gt[rng.random(gt.shape) < 0.05] = 255
    else:
        shape = tuple(rng.integers(1, 14, 2))
        gt = np.where(rng.random(shape) < 0.15, 255, rng.integers(0, k, shape))
        pred = rng.integers(0, k + 2, shape)
    thresholds = (0.0003, 0.03, 0.08, 1, 3)
    fast = boundary_f_image(pred, gt, k, thresholds)
    ref = boundary_f_image_reference(pred, gt, k, thresholds)
    np.testing.assert_array_equal(fast, ref)  # identical numbers, not just close


def test_dataset_average_over_images_then_classes():
    gt1 = np.zeros((8, 8), np.uint8)
    gt1[:, 4:] = 1
    pred1 = gt1.copy()
    gt2 = gt1.copy()
    pred2 = np.zeros_like(gt1)
    score = SegmentationScore(2, thresholds=(1,))
    score.update(pred1, gt1)
    score.update(pred2, gt2)
    res = score.result(["a", "b"])
    f2 = boundary_f_image(pred2, gt2, 2, (1,))[:, 0]
    per_class = (np.ones(2) + f2) / 2
    assert res["class_boundary_f"]["1"] == {"a": per_class[0], "b": per_class[1]}
    assert res["boundary_f"]["1"] == pytest.approx(per_class.mean())
    assert res["num_images"] == 2


def test_input_checks():
    with pytest.raises(ValueError, match="shape"):
        boundary_f_image(np.zeros((3, 4), int), np.zeros((4, 3), int), 2)
    with pytest.raises(ValueError, match="integer"):
        confusion_matrix(np.zeros((3, 3)), np.zeros((3, 3), int), 2)


def test_boundary_f_identical_on_synthetic_street_scene():
    from segfix_data.datasets.labels import cityscapes_label_ids_to_train_ids
    from segfix_data.synthetic import synthetic_cityscapes_frame

    gt = cityscapes_label_ids_to_train_ids(synthetic_cityscapes_frame(3, 128, 256).label_ids)
    rng = np.random.default_rng(3)
    pred = gt[np.clip(np.arange(128) + 2, 0, 127)][:, np.clip(np.arange(256) - 3, 0, 255)].copy()
    pred[rng.random(gt.shape) < 0.02] = 7
    thresholds = (0.0003, 0.0009, 0.01, 0.02)  # 1, 1, 3, 6 px at this size
    np.testing.assert_array_equal(boundary_f_image(pred, gt, 19, thresholds),
                                  boundary_f_image_reference(pred, gt, 19, thresholds))
