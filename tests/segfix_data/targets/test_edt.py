import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tests.support.oracles import brute_force_sqdist
from segfix_data.targets.edt import NO_BOUNDARY_SQ, multilabel_distance, multilabel_sqdist


def _as_oracle(sq):
    return np.where(sq >= NO_BOUNDARY_SQ, -1, sq)


label_maps = st.tuples(st.integers(1, 11), st.integers(1, 11), st.sampled_from([
    [0, 1], [0, 1, 2, 255], [3, 70000, 12], [7], [0, 1, 2, 3, 4, 5, 6],
])).flatmap(lambda t: arrays(np.int64, (t[0], t[1]), elements=st.sampled_from(t[2])))


@given(label_maps, st.booleans())
def test_equals_brute_force(label, border):
    got = multilabel_sqdist(label, border_is_boundary=border)
    assert np.array_equal(_as_oracle(got), brute_force_sqdist(label, border))


@given(st.integers(1, 9), st.integers(1, 9), st.integers(0, 2**31 - 1), st.booleans())
def test_blocky_maps_equal_brute_force(h, w, seed, border):
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 4, (h, w))
    label = np.repeat(np.repeat(coarse, 3, 0), 2, 1)
    got = multilabel_sqdist(label, border_is_boundary=border)
    assert np.array_equal(_as_oracle(got), brute_force_sqdist(label, border))


def test_hand_computed_halves():
    label = np.zeros((3, 6), np.uint8)
    label[:, 3:] = 1
    expected = np.array([3, 2, 1, 1, 2, 3]) ** 2
    assert np.array_equal(multilabel_sqdist(label), np.tile(expected, (3, 1)))
    # with the border as a boundary, the top/bottom rows are 1 away from it
    border = multilabel_sqdist(label, border_is_boundary=True)
    assert border[0].tolist() == [1, 1, 1, 1, 1, 1]
    assert border[1].tolist() == [1, 4, 1, 1, 4, 1]


def test_diagonal_distance_is_euclidean():
    label = np.zeros((5, 5), np.int32)
    label[0, 0] = 1
    d = multilabel_distance(label)
    assert d[3, 4] == pytest.approx(5.0)
    assert d[1, 1] == pytest.approx(np.sqrt(2))


def test_one_label_map_has_no_boundary():
    assert (multilabel_sqdist(np.full((4, 7), 3)) == NO_BOUNDARY_SQ).all()
    assert np.isinf(multilabel_distance(np.full((4, 7), 3))).all()
    assert (multilabel_sqdist(np.full((4, 7), 3), border_is_boundary=True) >= 1).all()


def test_one_row_and_one_column_maps():
    row = np.array([[5, 5, 5, 9, 9]])
    assert multilabel_sqdist(row).tolist() == [[9, 4, 1, 1, 4]]
    assert multilabel_sqdist(row.T).T.tolist() == [[9, 4, 1, 1, 4]]


def test_bool_and_wide_integer_inputs_agree():
    rng = np.random.default_rng(0)
    mask = rng.random((9, 13)) < 0.4
    a = multilabel_sqdist(mask)
    b = multilabel_sqdist(mask.astype(np.int64) * 100000 + 7)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("bad", [np.zeros(5, int), np.zeros((2, 2, 2), int)])
def test_rejects_wrong_ndim(bad):
    with pytest.raises(ValueError, match="2-D"):
        multilabel_sqdist(bad)


def test_rejects_float_and_empty():
    with pytest.raises(ValueError, match="integer"):
        multilabel_sqdist(np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match="empty"):
        multilabel_sqdist(np.zeros((0, 3), np.int32))


def test_rejects_a_side_beyond_max_side():
    from segfix_data.targets.edt import MAX_SIDE

    with pytest.raises(ValueError, match="too large"):
        multilabel_sqdist(np.zeros((1, MAX_SIDE + 1), np.uint8))
    row = np.zeros((1, MAX_SIDE), np.uint8)
    row[0, -1] = 1
    got = multilabel_sqdist(row)
    assert got[0, 0] == (MAX_SIDE - 1) ** 2 and got[0, -2] == 1


def test_long_rows_and_columns_with_sparse_sites_equal_brute_force():
    # Wide envelopes: long runs where only a few pixels have a finite vertical distance.
    rng = np.random.default_rng(5)
    label = np.zeros((3, 400), np.int32)
    label[0, rng.choice(400, 6, replace=False)] = 1
    label[2, rng.choice(400, 3, replace=False)] = 2
    for lab in (label, label.T):
        for border in (False, True):
            got = multilabel_sqdist(lab, border_is_boundary=border)
            assert np.array_equal(_as_oracle(got), brute_force_sqdist(lab, border))
