"""The label-masked direction filter (targets.md section 4), in numba.

For a pixel ``p`` of label ``k`` the gradient ``g = (gy, gx)`` is the cross-correlation at ``p`` of
``D_k`` (the distance map where the label is ``k``, 0 elsewhere and outside the image) with the
kernels of :func:`segfix_data.direction.direction_kernels`. Only taps whose label equals ``k``
contribute, so one pass over the fused distance map with a label test per tap gives every class's
filter at once.

Taps are summed in mirror groups: for each ``(j, i)`` with ``j, i >= 0`` the four pixels
``(y +- j, x +- i)`` are read once, and ``gy`` adds ``Ky(j, i) * ((D(y+j, x+i) - D(y-j, x+i)) +
(D(y+j, x-i) - D(y-j, x-i)))`` (``gx`` likewise with the roles of rows and columns swapped).
A neighbourhood symmetric under an up-down (left-right, point) mirror therefore gives a ``gy``
(``gx``, both) of exactly +0.0, not rounding noise. This matters: the authors' encoding maps
``atan2(+0, -x) = 180`` and ``atan2(-0, -x) = -180`` to opposite ends of ``dir_deg``.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, inline="always")
def _tap(lab, dist, k, yy, xx, n_rows, n_cols):
    if yy < 0 or yy >= n_rows or xx < 0 or xx >= n_cols:
        return 0.0
    if lab[yy, xx] != k:
        return 0.0
    return dist[yy, xx]


@numba.njit(cache=True, nogil=True)
def _masked_gradient_at(lab, dist, ys, xs, ky, kx, gy_out, gx_out):
    n_rows, n_cols = lab.shape
    r = ky.shape[0] // 2
    for n in range(ys.shape[0]):
        y = ys[n]
        x = xs[n]
        k = lab[y, x]
        sy = 0.0
        sx = 0.0
        interior = y >= r and y < n_rows - r and x >= r and x < n_cols - r
        for j in range(r + 1):
            for i in range(r + 1):
                if i == 0 and j == 0:
                    continue
                if interior:
                    pp = dist[y + j, x + i] if lab[y + j, x + i] == k else 0.0
                    pm = dist[y + j, x - i] if lab[y + j, x - i] == k else 0.0
                    mp = dist[y - j, x + i] if lab[y - j, x + i] == k else 0.0
                    mm = dist[y - j, x - i] if lab[y - j, x - i] == k else 0.0
                else:
                    pp = _tap(lab, dist, k, y + j, x + i, n_rows, n_cols)
                    pm = _tap(lab, dist, k, y + j, x - i, n_rows, n_cols)
                    mp = _tap(lab, dist, k, y - j, x + i, n_rows, n_cols)
                    mm = _tap(lab, dist, k, y - j, x - i, n_rows, n_cols)
                if j > 0:
                    a = pp - mp
                    if i > 0:
                        a = a + (pm - mm)
                    sy += ky[r + j, r + i] * a
                if i > 0:
                    b = pp - pm
                    if j > 0:
                        b = b + (mp - mm)
                    sx += kx[r + j, r + i] * b
        gy_out[n] = sy
        gx_out[n] = sx


def masked_gradient(
    label: np.ndarray,
    distance: np.ndarray,
    where: np.ndarray,
    ky: np.ndarray,
    kx: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Label-masked cross-correlation of the distance map, at selected pixels.

    Args:
        label: (H, W) integer label (or segment) map.
        distance: (H, W) float64 distance map (the values filtered; any label's pixels).
        where: (H, W) bool, the pixels at which to evaluate the gradient.
        ky, kx: (ksize, ksize) float64 kernels (odd ksize), as from ``direction_kernels``.

    Returns:
        ``(gy, gx)``: two (H, W) float64 maps, 0 where ``where`` is False.
    """
    label = np.ascontiguousarray(label)
    distance = np.ascontiguousarray(distance, dtype=np.float64)
    ys, xs = np.nonzero(where)
    gy_sel = np.empty(ys.shape[0], dtype=np.float64)
    gx_sel = np.empty(ys.shape[0], dtype=np.float64)
    _masked_gradient_at(
        label, distance, ys.astype(np.int64), xs.astype(np.int64),
        np.ascontiguousarray(ky, dtype=np.float64), np.ascontiguousarray(kx, dtype=np.float64),
        gy_sel, gx_sel,
    )
    gy = np.zeros(label.shape, dtype=np.float64)
    gx = np.zeros(label.shape, dtype=np.float64)
    gy[ys, xs] = gy_sel
    gx[ys, xs] = gx_sel
    return gy, gx


@numba.njit(cache=True, nogil=True, inline="always")
def _fma32(a, b, c):
    # float32 fused multiply-add: a*b is exact in float64 (24-bit x 24-bit significands), so one
    # float64 add and a float32 rounding give fma(a, b, c) except in the ~2**-29-rare double
    # rounding case, far inside the openseg tolerance.
    return np.float32(np.float64(a) * np.float64(b) + np.float64(c))


@numba.njit(cache=True, nogil=True)
def _torch_order_gradient_at(lab, d32, ys, xs, ky32, kx32, gy_out, gx_out):
    n_rows, n_cols = lab.shape
    ks = ky32.shape[0]
    r = ks // 2
    for n in range(ys.shape[0]):
        y = ys[n]
        x = xs[n]
        k = lab[y, x]
        sy = np.float32(0.0)
        sx = np.float32(0.0)
        for j in range(ks):
            yy = y + j - r
            for i in range(ks):
                xx = x + i - r
                v = np.float32(0.0)
                if 0 <= yy < n_rows and 0 <= xx < n_cols and lab[yy, xx] == k:
                    v = d32[yy, xx]
                sy = _fma32(ky32[j, i], v, sy)
                sx = _fma32(kx32[j, i], v, sx)
        # Their per-class maps are added into zero-initialised arrays: -0.0 becomes +0.0.
        gy_out[n] = sy + np.float32(0.0)
        gx_out[n] = sx + np.float32(0.0)


def masked_gradient_torch_order(
    label: np.ndarray,
    distance32: np.ndarray,
    where: np.ndarray,
    ky: np.ndarray,
    kx: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The authors' float32 filter, reproduced bit for bit (``openseg`` preset).

    The authors filter each class's float32 distance map with ``torch.nn.functional.conv2d``;
    on CPU that is, per output pixel, a float32 fused multiply-add chain over the taps in
    row-major order starting from +0 (zero taps included, which decides the sign of a zero
    result). Their rounding noise decides ``dir_deg`` wherever the true gradient is exactly
    horizontal or vertical, so parity needs this exact order rather than exact arithmetic.

    Args:
        label: (H, W) integer label map.
        distance32: (H, W) float32 distances (the values filtered).
        where: (H, W) bool, the pixels to evaluate.
        ky, kx: (ksize, ksize) kernels; rounded to float32 as the authors' ``.float()`` does.

    Returns:
        ``(gy, gx)``: two (H, W) float32 maps, 0 where ``where`` is False.
    """
    label = np.ascontiguousarray(label)
    d32 = np.ascontiguousarray(distance32, dtype=np.float32)
    ys, xs = np.nonzero(where)
    gy_sel = np.empty(ys.shape[0], dtype=np.float32)
    gx_sel = np.empty(ys.shape[0], dtype=np.float32)
    _torch_order_gradient_at(
        label, d32, ys.astype(np.int64), xs.astype(np.int64),
        np.ascontiguousarray(ky, dtype=np.float32), np.ascontiguousarray(kx, dtype=np.float32),
        gy_sel, gx_sel,
    )
    gy = np.zeros(label.shape, dtype=np.float32)
    gx = np.zeros(label.shape, dtype=np.float32)
    gy[ys, xs] = gy_sel
    gx[ys, xs] = gx_sel
    return gy, gx
