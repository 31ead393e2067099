"""The coarse maps that validation refines (``segfix_train.coarse.block_majority``): each tile's
most frequent label, checked against a brute-force count, and not shifted against the label map."""
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segfix_data import semantic_targets
from segfix_data.datasets.labels import cityscapes_label_ids_to_train_ids
from segfix_data.synthetic import synthetic_cityscapes_frame
from segfix_data.targets.direction import bin_offsets
from segfix_train.coarse import block_majority
from segfix_train.validate import RefinementScore
from tests.support.rectangles import rectangle_shifts


def _brute(label, block, ignore=255):
    out = np.empty_like(label)
    h, w = label.shape
    for y0 in range(0, h, block):
        for x0 in range(0, w, block):
            tile = label[y0:y0 + block, x0:x0 + block]
            counts = Counter(int(v) for v in tile.ravel() if v != ignore)
            if counts:
                top = max(counts.values())
                out[y0:y0 + block, x0:x0 + block] = min(v for v, c in counts.items() if c == top)
            else:
                out[y0:y0 + block, x0:x0 + block] = ignore
    return out


@given(arrays(np.uint8, st.tuples(st.integers(1, 21), st.integers(1, 21)), elements=st.sampled_from([0, 1, 2, 7, 255])),
       st.integers(1, 9))
def test_each_tile_takes_its_most_frequent_valid_label(label, block):
    got = block_majority(label, block)
    assert got.dtype == label.dtype and got.shape == label.shape
    np.testing.assert_array_equal(got, _brute(label, block))


def test_any_integer_dtype_and_labels_above_255():
    lab = np.array([[300, 300, 5, 5], [300, 2, 5, 5]], np.int32)
    np.testing.assert_array_equal(block_majority(lab, 2), [[300, 300, 5, 5], [300, 300, 5, 5]])
    assert block_majority(lab, 2).dtype == np.int32


def test_a_rectangles_coarse_copy_has_no_mean_shift():
    """Over all 64 placements of a rectangle relative to the 8x8 tiles (and a few sizes), the
    centroid of its coarse copy moves by 0 on average in each axis. Keeping the top-left pixel of
    each tile moves it by +3.5 px, the nearer middle pixel (index 4) by -0.5 px."""
    shifts = rectangle_shifts(block_majority)
    mean = np.mean(shifts, axis=0)
    assert np.all(np.abs(mean) < 0.1), mean
    assert np.max(np.abs(shifts)) <= 4  # each copy stays within half a tile


def _logits(boundary: np.ndarray, direction: np.ndarray):
    """Logits that ``probs_to_maps`` turns back into these maps (boundary 0/1, bins 0..7)."""
    bl = torch.where(torch.from_numpy(boundary == 1), 4.0, -4.0)[None, None]
    d = torch.from_numpy(direction.astype(np.int64))
    return bl, 3.0 * torch.nn.functional.one_hot(d, 8).permute(2, 0, 1)[None].float()


def test_validation_rewards_true_directions_not_a_constant_shift():
    """Refining the coarse maps with the ground-truth boundary: its own directions gain clearly,
    one constant direction (down-right, the way the top-left pixel moved the maps) gains nothing.
    With the top-left pixel of each tile the two gained about the same (4.4 and 4.4 mIoU points)."""
    assert tuple(bin_offsets(8)[5]) == (1, 1)
    true, constant = RefinementScore(19), RefinementScore(19)
    for seed in (0, 1):
        lab = cityscapes_label_ids_to_train_ids(synthetic_cityscapes_frame(seed, 256, 512).label_ids)
        t = semantic_targets(lab)
        true.update(lab, *_logits(t.boundary, np.where(t.direction == 255, 0, t.direction)))
        constant.update(lab, *_logits(t.boundary, np.full(lab.shape, 5)))
    gt, const = true.result(), constant.result()
    assert gt["coarse_miou"] == const["coarse_miou"]
    assert const["delta_miou"] < 0 and gt["delta_miou"] - const["delta_miou"] > 0.08
    assert gt["delta_miou"] > 0.05 and gt["delta_f_1px"] > 0.10


@pytest.mark.parametrize("block", [0, -1])
def test_bad_block_is_refused(block):
    with pytest.raises(ValueError, match="block"):
        block_majority(np.zeros((4, 4), np.uint8), block)
