"""Boundary IoU and trimap IoU on the Cityscapes label maps of the shared fixtures, against the
per-class references: the default ``d`` of each frame size, ignore regions of real layouts."""
import os

import numpy as np
import pytest
from PIL import Image

from segfix_data.datasets.labels import cityscapes_label_ids_to_train_ids
from segfix_data.metrics.boundary_iou import biou_dilation, boundary_iou_counts
from segfix_data.metrics.trimap import band_confusion, ring_confusion
from tests.support.paths import parity_dir
from tests.support.region_oracles import boundary_iou_reference, trimap_reference


def _degraded(gt: np.ndarray, block: int, shift: int) -> np.ndarray:
    """A coarse prediction: the ground truth sampled every ``block`` pixels, blown up again and
    shifted right; ignore pixels predicted as road, a corner predicted as no class (255)."""
    h, w = gt.shape
    coarse = np.repeat(np.repeat(gt[::block, ::block], block, 0), block, 1)[:h, :w]
    pred = np.roll(coarse, shift, axis=1)
    pred = np.where(pred == 255, 0, pred)
    pred[: h // 8, : w // 8] = 255
    return pred


@pytest.mark.parametrize("stem", ["cityscapes_a", "cityscapes_b"])
def test_fixture_frames_match_the_references(stem):
    gt = cityscapes_label_ids_to_train_ids(np.array(Image.open(os.path.join(parity_dir(), f"{stem}_labelIds.png"))))
    if not (gt == 255).any():
        gt[-6:] = 255                     # an ego-vehicle strip, as real frames have
    assert len(np.unique(gt)) > 5
    pred = _degraded(gt, 8, 3)
    d = biou_dilation(gt.shape)
    inter, union = boundary_iou_counts(pred, gt, 19, d)
    ref_i, ref_u = boundary_iou_reference(pred, gt, 19, d)
    np.testing.assert_array_equal(inter, ref_i)
    np.testing.assert_array_equal(union, ref_u)
    assert 0 < inter.sum() < union.sum()
    widths = (1, 3, 5, 10)
    rings = ring_confusion(pred, gt, 19, max(widths))
    for w, conf in trimap_reference(pred, gt, 19, widths).items():
        np.testing.assert_array_equal(band_confusion(rings, w), conf)
