"""The span-at-a-time filter of the paper preset against its one-pixel loop, bit for bit."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segfix_data.targets.direction import bin_edges, direction_kernels
from segfix_data.targets.edt import multilabel_distance
from segfix_data.targets._binning import _bin_of_angle
from segfix_data.targets.gradient import _mirror_groups, _pixel_sums, _span_sums, paper_fields


def _bits(a):
    return np.asarray(a, np.float32).view(np.uint32)


@given(st.integers(0, 2**31 - 1), st.integers(1, 30), st.integers(1, 40), st.integers(1, 4),
       st.integers(1, 4), st.sampled_from([3, 5, 9]), st.booleans(), st.booleans())
def test_span_sums_equal_the_one_pixel_loop_bit_for_bit(seed, h, w, n_labels, block, ksize,
                                                        border, symmetric):
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, n_labels, (h // block + 1, w // block + 1))
    label = np.repeat(np.repeat(coarse, block, 0), block, 1)[:h, :w].astype(np.uint8)
    if symmetric:  # mirror-symmetric windows: exact +0.0 components must survive
        label = np.concatenate([label, label[:, ::-1]], axis=1)
    label[rng.random(label.shape) < 0.03] = 255
    dist = multilabel_distance(label, border_is_boundary=border)
    distance, boundary, direction, grad = paper_fields(label, dist, 255, 3.0, 255.0, ksize, 8,
                                                       1e-9)
    ky, kx = direction_kernels(ksize)
    _, dij, weights = _mirror_groups(ksize // 2, label.shape[1], ky, kx)
    expected = np.zeros_like(grad)
    expected_dir = np.full(label.shape, 255, np.uint8)
    for y, x in zip(*np.nonzero(boundary == 1)):
        gy, gx = _pixel_sums(label, dist, y, x, dij, weights)
        expected[:, y, x] = gy, gx
        if np.hypot(gy, gx) > 1e-9:
            theta = np.arctan2(gy + 0.0, gx) * (180.0 / np.pi)
            expected_dir[y, x] = _bin_of_angle(theta, bin_edges(8), False)
    assert np.array_equal(_bits(grad), _bits(expected))  # sign of zeros included
    assert np.array_equal(direction, expected_dir)


@given(st.integers(0, 2**31 - 1), st.integers(1, 3), st.sampled_from([3, 5, 9]),
       st.sampled_from([np.uint8, np.int32]))
def test_span_sums_float64_equal_the_one_pixel_loop(seed, n_labels, ksize, dtype):
    # Before the float32 rounding: the same float64 sums, so the same order of additions.
    rng = np.random.default_rng(seed)
    label = rng.integers(0, n_labels, (12, 23)).astype(dtype)
    dist = np.sqrt(rng.integers(1, 50, label.shape).astype(np.float64))
    r = ksize // 2
    ky, kx = direction_kernels(ksize)
    offsets, dij, weights = _mirror_groups(r, label.shape[1], ky, kx)
    n = label.shape[1] - 2 * r
    sy = np.empty(label.shape[1])
    sx = np.empty(label.shape[1])
    for y in range(r, label.shape[0] - r):
        _span_sums(label.ravel(), dist.ravel(), y * label.shape[1] + r, n, offsets, dij, weights,
                   sy, sx)
        for p in range(n):
            gy, gx = _pixel_sums(label, dist, y, r + p, dij, weights)
            assert (sy[p], sx[p]) == (gy, gx)


def test_bin_of_angle_matches_angle_to_bin_at_and_between_edges():
    from segfix_data.targets.direction import angle_to_bin

    for m in (4, 8, 16):
        edges = bin_edges(m)
        thetas = np.concatenate([edges, np.nextafter(edges, 200), np.nextafter(edges, -200),
                                 np.linspace(-180, 180, 721)])
        got = [_bin_of_angle(t, edges, m == 4) for t in thetas]
        assert got == angle_to_bin(thetas, m).tolist()


def _exact_bins(sy, sx, m, zero_grad=1e-9):
    from segfix_data.targets._binning import _store_gradient

    n = sy.shape[0]
    d = np.empty((1, n), np.uint8)
    g = np.zeros((2, 1, n), np.float32)
    for p in range(n):
        _store_gradient(0, p, sy[p], sx[p], zero_grad, bin_edges(m), m == 4, d, g)
    return d[0]


def _fast_bins(sy, sx, m, zero_grad=1e-9):
    from segfix_data.targets._binning import _bin_span, _bin_tables

    out = np.empty(sy.shape[0], np.uint8)
    _bin_span(sy, sx, sy.shape[0], *_bin_tables(m, zero_grad), zero_grad, bin_edges(m), m == 4,
              out, np.empty(sy.shape[0], np.int64))
    return out


def _hard_gradients(seed):
    """Angles on, just beside and between every edge, on the axes (signed zeros), norms at the
    zero threshold, and tiny, huge and denormal components."""
    rng = np.random.default_rng(seed)
    edges = np.radians(np.concatenate([bin_edges(16), bin_edges(8), [-90.0, 0.0, 90.0, 180.0]]))
    ang = np.concatenate([edges, rng.uniform(-np.pi, np.pi, 200)])
    ang = np.concatenate([ang, np.nextafter(ang, 10), np.nextafter(ang, -10), ang + 1e-10,
                          ang - 1e-10, ang + 1e-8])
    scale = 10.0 ** rng.integers(-12, 4, ang.size)
    sy, sx = np.sin(ang) * scale, np.cos(ang) * scale
    z = 1e-9
    extra_y = [0.0, -0.0, 0.0, -0.0, 1.0, -1.0, 1.0, z, z * (1 + 1e-16), np.nextafter(z, 0), 7e-10,
               5e-324, -5e-324, 1e-300, 3.0]
    extra_x = [1.0, 1.0, -1.0, -1.0, 0.0, 0.0, -0.0, 0.0, 0.0, 0.0, 7e-10, 1.0, -1.0, -1e-300,
               3.0 * np.tan(np.radians(67.5))]
    return np.concatenate([sy, extra_y]), np.concatenate([sx, extra_x])


@given(st.integers(0, 2**31 - 1), st.sampled_from([4, 8, 16]))
def test_fast_binning_equals_the_atan2_binning_on_hard_inputs(seed, m):
    sy, sx = _hard_gradients(seed)
    assert np.array_equal(_fast_bins(sy, sx, m), _exact_bins(sy, sx, m))


@given(arrays(np.float64, st.integers(1, 50),
              elements=st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=True)),
       arrays(np.float64, 50, elements=st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=True)),
       st.sampled_from([4, 8, 16]))
def test_fast_binning_equals_the_atan2_binning_on_any_floats(sy, sx, m):
    sx = sx[: sy.shape[0]]
    assert np.array_equal(_fast_bins(sy, sx, m), _exact_bins(sy, sx, m))
