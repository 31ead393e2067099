import numpy as np
import pytest

from segfix_data.targets.direction import (
    DIRECTION_IGNORE, angle_to_bin, bin_centres, bin_offsets, direction_kernels, flip_bins,
    flip_direction_map,
)


def test_kernels_hand_computed_3x3():
    ky, kx = direction_kernels(3)
    assert np.allclose(kx, [[-0.5, 0, 0.5], [-1, 0, 1], [-0.5, 0, 0.5]])
    assert np.allclose(ky, kx.T)
    ky5, kx5 = direction_kernels(5)
    assert kx5[2, 4] == 0.5 and kx5[0, 4] == pytest.approx(2 / 8) and kx5[2, 2] == 0


@pytest.mark.parametrize("ksize", [0, 2, 4, 1.5])
def test_kernels_reject_bad_size(ksize):
    with pytest.raises(ValueError):
        direction_kernels(ksize)


def _above(x):
    return np.nextafter(x, np.inf)


def _below(x):
    return np.nextafter(x, -np.inf)


def test_bins_at_exact_edges_m8():
    # bin i holds (c_i - 22.5, c_i + 22.5]; bin 0 also theta <= -157.5 and theta > 157.5
    cases = {-180.0: 0, -157.5: 0, _above(-157.5): 1, -112.5: 1, _above(-112.5): 2,
             -90.0: 2, -22.5: 3, _above(-22.5): 4, 0.0: 4, 22.5: 4, _above(22.5): 5,
             90.0: 6, 157.5: 7, _above(157.5): 0, 180.0: 0}
    for theta, expected in cases.items():
        assert angle_to_bin(theta, 8) == expected, theta


def test_bins_at_exact_edges_m4():
    # quadrants: bin i holds [-180 + 90 i, -90 + 90 i); 180 goes to bin 3
    cases = {-180.0: 0, _below(-90.0): 0, -90.0: 1, _below(0.0): 1, 0.0: 2, 89.9: 2,
             90.0: 3, 180.0: 3}
    for theta, expected in cases.items():
        assert angle_to_bin(theta, 4) == expected, theta


def test_bins_at_exact_edges_m16():
    width = 22.5
    for i in range(16):
        c = -180.0 + i * width
        upper = c + width / 2
        assert angle_to_bin(c if i else 180.0, 16) == i
        if upper < 180:
            assert angle_to_bin(upper, 16) == i
            assert angle_to_bin(_above(upper), 16) == (i + 1) % 16
    assert angle_to_bin(-180.0, 16) == 0 and angle_to_bin(_above(-168.75), 16) == 1


@pytest.mark.parametrize("m", [4, 8, 16])
def test_offsets_point_into_their_own_bin(m):
    offsets = bin_offsets(m)
    assert offsets.shape == (m, 2)
    angles = np.degrees(np.arctan2(offsets[:, 0], offsets[:, 1]))
    assert np.array_equal(angle_to_bin(angles, m), np.arange(m))


def test_m8_offset_table_is_the_documented_one():
    assert bin_offsets(8).tolist() == [[0, -1], [-1, -1], [-1, 0], [-1, 1], [0, 1], [1, 1],
                                       [1, 0], [1, -1]]
    assert bin_offsets(16)[:5].tolist() == [[0, -2], [-1, -2], [-2, -2], [-2, -1], [-2, 0]]


@pytest.mark.parametrize("m", [4, 8, 16])
def test_flip_is_an_involution_and_mirrors_geometry(m):
    table = flip_bins(m)
    assert np.array_equal(table[table], np.arange(m))
    offsets = bin_offsets(m)
    assert np.array_equal(offsets[table], offsets * [1, -1])
    if m != 4:  # centred bins: the mirror of a centre angle theta is 180 - theta
        mirrored = 180.0 - bin_centres(m)
        mirrored = np.where(mirrored > 180, mirrored - 360, mirrored)  # back into (-180, 180]
        mirrored = angle_to_bin(mirrored, m)
        assert np.array_equal(mirrored, table)


def test_flip_mirrors_horizontal_bins_too():
    # the authors' flip leaves 0 and 180 degrees unmirrored; ours must not
    table = flip_bins(8)
    assert table[0] == 4 and table[4] == 0 and table[2] == 2 and table[6] == 6


def test_flip_direction_map_keeps_ignore():
    d = np.array([[0, 4, DIRECTION_IGNORE]], np.uint8)
    assert flip_direction_map(d, 8).tolist() == [[DIRECTION_IGNORE, 0, 4]]


def test_rejects_unsupported_direction_count():
    with pytest.raises(ValueError, match="4, 8, 16"):
        bin_offsets(6)
