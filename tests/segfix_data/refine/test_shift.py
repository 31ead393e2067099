"""segfix_data.refine against the direct formula of targets.md section 5 on small arrays."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segfix_data.refine import (
    offsets_from_direction,
    refine_labels,
    refine_labels_with_offsets,
    refine_masks,
    source_index_pairs,
)

# Offsets written out from targets.md section 4 (not from segfix_data.targets.direction), per bin.
DOC_OFFSETS = {
    4: [(-1, -1), (-1, 1), (1, 1), (1, -1)],
    8: [(0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1)],
    16: [(0, -2), (-1, -2), (-2, -2), (-2, -1), (-2, 0), (-2, 1), (-2, 2), (-1, 2),
         (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (2, -1), (2, -2), (1, -2)],
}


def direct_refine(label, boundary, direction, m, scale, iterations):
    """L'(p) = L(q_n), q_{k+1} = clamp(q_k + s * offset(dir(q_k))) while q_k is a boundary pixel."""
    h, w = label.shape
    out = label.copy()
    for y in range(h):
        for x in range(w):
            qy, qx = y, x
            for _ in range(iterations):
                if boundary[qy, qx] != 1 or direction[qy, qx] >= m:
                    break
                dy, dx = DOC_OFFSETS[m][direction[qy, qx]]
                qy = min(max(qy + scale * dy, 0), h - 1)
                qx = min(max(qx + scale * dx, 0), w - 1)
            out[y, x] = label[qy, qx]
    return out


@pytest.mark.parametrize("m", [4, 8, 16])
@pytest.mark.parametrize("scale", [1, 2])
def test_every_direction_moves_centre_pixel(m, scale):
    label = np.arange(81, dtype=np.int32).reshape(9, 9) * 1000 + 7  # distinct, large ids
    for b in range(m):
        boundary = np.zeros((9, 9), np.uint8)
        direction = np.full((9, 9), 255, np.uint8)
        boundary[4, 4], direction[4, 4] = 1, b
        out = refine_labels(label, boundary, direction, m, scale=scale)
        dy, dx = DOC_OFFSETS[m][b]
        expected = label.copy()
        expected[4, 4] = label[4 + scale * dy, 4 + scale * dx]
        np.testing.assert_array_equal(out, expected)
        assert out.dtype == label.dtype


def test_offsets_clamp_at_borders():
    label = np.arange(12, dtype=np.uint8).reshape(3, 4)
    boundary = np.ones((3, 4), np.uint8)
    direction = np.full((3, 4), 255, np.uint8)
    direction[0, 0] = 1   # up-left from the corner: clamps onto itself
    direction[0, 2] = 2   # up from the top row: stays
    direction[2, 3] = 5   # down-right from the corner: stays
    direction[1, 3] = 4   # right from the last column, scale 2: stays
    direction[1, 0] = 4   # right by 2: (1, 2)
    direction[2, 1] = 3   # up-right by 2: (0, 3)
    out = refine_labels(label, boundary, direction, 8, scale=2)
    expected = label.copy()
    expected[1, 0] = label[1, 2]
    expected[2, 1] = label[0, 3]
    np.testing.assert_array_equal(out, expected)


def test_scheme_ii_follows_fake_interior_pixels():
    label = np.array([[1, 2, 3, 4, 5, 6]], np.uint8)
    boundary = np.array([[1, 1, 1, 0, 0, 0]], np.uint8)
    direction = np.array([[4, 4, 4, 255, 255, 255]], np.uint8)  # all "right"
    got = [refine_labels(label, boundary, direction, 8, scale=1, iterations=n)[0].tolist()
           for n in (1, 2, 3, 10)]
    assert got == [[2, 3, 4, 4, 5, 6], [3, 4, 4, 4, 5, 6], [4, 4, 4, 4, 5, 6], [4, 4, 4, 4, 5, 6]]


def test_ignore_and_missing_direction_are_not_moved():
    label = np.arange(9, dtype=np.uint16).reshape(3, 3)
    boundary = np.array([[255, 0, 1], [1, 1, 1], [0, 0, 0]], np.uint8)
    direction = np.array([[6, 6, 255], [6, 255, 6], [6, 6, 6]], np.uint8)
    out = refine_labels(label, boundary, direction, 8, scale=1)
    expected = label.copy()
    expected[1, 0] = label[2, 0]
    expected[1, 2] = label[2, 2]
    np.testing.assert_array_equal(out, expected)


maps = st.integers(1, 9).flatmap(lambda h: st.integers(1, 9).map(lambda w: (h, w)))


@settings(max_examples=150, deadline=None)
@given(shape=maps, m=st.sampled_from([4, 8, 16]), scale=st.integers(0, 3),
       iterations=st.integers(1, 5), seed=st.integers(0, 2**32 - 1),
       dtype=st.sampled_from([np.uint8, np.int32, np.int64, np.uint16]))
def test_matches_direct_formula(shape, m, scale, iterations, seed, dtype):
    rng = np.random.default_rng(seed)
    label = rng.choice(np.array([0, 3, 17, 200, 255]), size=shape).astype(dtype)
    boundary = rng.choice(np.array([0, 1, 1, 255], np.uint8), size=shape)
    direction = np.where(rng.random(shape) < 0.9, rng.integers(0, m, shape), 255).astype(np.uint8)
    expected = direct_refine(label, boundary, direction, m, scale, iterations)
    out = refine_labels(label, boundary, direction, m, scale=scale, iterations=iterations)
    assert out.dtype == label.dtype
    np.testing.assert_array_equal(out, expected)
    assert set(np.unique(out)) <= set(np.unique(label))  # no new ids
    # the same shift through a ready offset field (the .mat route)
    offsets = offsets_from_direction(boundary, direction, m, scale)
    np.testing.assert_array_equal(refine_labels_with_offsets(label, offsets, iterations=iterations), expected)
    # and as index pairs
    dst, src = source_index_pairs(boundary, direction, m, scale=scale, iterations=iterations)
    flat = label.copy().reshape(-1)
    flat[dst] = label.reshape(-1)[src]
    np.testing.assert_array_equal(flat.reshape(shape), expected)


def test_offsets_from_direction_values():
    boundary = np.array([[1, 1, 0, 255]], np.uint8)
    direction = np.array([[4, 255, 4, 4]], np.uint8)
    off = offsets_from_direction(boundary, direction, 8, scale=2)
    assert off.dtype == np.int16 and off.shape == (1, 4, 2)
    np.testing.assert_array_equal(off[0], [[0, 2], [0, 0], [0, 0], [0, 0]])


def test_masks_stay_binary_and_match_label_shift():
    rng = np.random.default_rng(3)
    shape = (20, 30)
    boundary = (rng.random(shape) < 0.4).astype(np.uint8)
    direction = rng.integers(0, 8, shape).astype(np.uint8)
    masks = [rng.random(shape) < 0.5, (rng.random(shape) < 0.3).astype(np.uint8) * 255,
             np.zeros(shape, np.uint8)]
    out = refine_masks(masks, boundary, direction, 8, scale=1, iterations=2)
    for mask, got in zip(masks, out):
        assert got.dtype == mask.dtype and got.shape == mask.shape
        assert set(np.unique(got)) <= set(np.unique(mask)) | {0}
        expected = direct_refine(mask.astype(np.uint8), boundary, direction, 8, 1, 2)
        np.testing.assert_array_equal(got.astype(np.uint8), expected)


def test_input_checks():
    lab = np.zeros((4, 5), np.uint8)
    with pytest.raises(ValueError, match=r"shape \(4, 5\)"):
        refine_labels(lab, np.zeros((5, 4), np.uint8), np.zeros((4, 5), np.uint8), 8)
    with pytest.raises(ValueError, match="iterations"):
        refine_labels(lab, lab, lab, 8, iterations=0)
    with pytest.raises(ValueError, match="num_directions"):
        refine_labels(lab, lab, lab, 5)
    with pytest.raises(ValueError, match="integer"):
        refine_labels(lab.astype(float), lab, lab, 8)
    with pytest.raises(ValueError, match=r"\(H, W, 2\)"):
        refine_labels_with_offsets(lab, np.zeros((4, 5), np.int16))


@pytest.mark.parametrize("width", [8, 16, 24, 17])
def test_sparse_boundary_rows_match_direct_formula(width):
    # widths divisible by 8 take the 8-pixels-at-a-time skip; runs of zeros and lone pixels
    rng = np.random.default_rng(width)
    shape = (7, width)
    label = rng.integers(0, 40, shape).astype(np.uint8)
    boundary = np.zeros(shape, np.int16)
    boundary[rng.random(shape) < 0.12] = 1
    boundary[3, :] = 0
    boundary[3, width - 1] = 1
    boundary[5, 0] = 255
    direction = rng.integers(0, 8, shape).astype(np.uint8)
    for iterations in (1, 3):
        np.testing.assert_array_equal(
            refine_labels(label, boundary, direction, 8, scale=1, iterations=iterations),
            direct_refine(label, boundary, direction, 8, 1, iterations))
