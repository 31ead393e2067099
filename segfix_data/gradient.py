"""The label-masked direction filter (targets.md section 4), in numba.

For a pixel ``p`` of label ``k`` the gradient ``g = (gy, gx)`` is the cross-correlation at ``p`` of
``D_k`` (the distance map where the label is ``k``, 0 elsewhere and outside the image) with the
kernels of :func:`segfix_data.direction.direction_kernels`. Only taps whose label equals ``k``
contribute, so one pass over the fused distance map with a label test per tap gives every class's
filter at once.

Taps are summed in mirror groups: for each ``(j, i)`` with ``j, i >= 0`` the four pixels
``(y +- j, x +- i)`` are read once, and ``gy`` adds ``Ky(j, i) * ((D(y+j, x+i) + D(y+j, x-i)) -
(D(y-j, x+i) + D(y-j, x-i)))`` (``gx`` likewise with the roles of rows and columns swapped).
A neighbourhood symmetric under an up-down (left-right, point) mirror therefore gives a ``gy``
(``gx``, both) of exactly +0.0, not rounding noise. This matters: the authors' encoding maps
``atan2(+0, -x) = 180`` and ``atan2(-0, -x) = -180`` to opposite ends of ``dir_deg``.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, inline="always")
def _tap(lab, dist, k, yy, xx, n_rows, n_cols):
    """``D_k`` at ``(yy, xx)``: the distance if that pixel exists and has label ``k``, else 0."""
    if yy < 0 or yy >= n_rows or xx < 0 or xx >= n_cols:
        return 0.0
    if lab[yy, xx] != k:
        return 0.0
    return dist[yy, xx]


@numba.njit(cache=True, nogil=True)
def _mirror_groups(r, n_cols, ky, kx):
    """Flat offsets of the four mirror pixels of each tap group ``(j, i)``, ``j, i >= 0``."""
    ng = (r + 1) * (r + 1) - 1
    offsets = np.empty((ng, 4), np.int64)  # (+j,+i), (+j,-i), (-j,+i), (-j,-i)
    dij = np.empty((ng, 2), np.int64)
    weights = np.empty((ng, 2), np.float64)  # Ky(j, i), Kx(j, i)
    g = 0
    for j in range(r + 1):
        for i in range(r + 1):
            if i == 0 and j == 0:
                continue
            offsets[g, 0] = j * n_cols + i
            offsets[g, 1] = j * n_cols - i
            offsets[g, 2] = -j * n_cols + i
            offsets[g, 3] = -j * n_cols - i
            dij[g, 0] = j
            dij[g, 1] = i
            # On the axes (i == 0 or j == 0) a mirror pair is one pixel counted twice below;
            # halving the weight is exact (x2 then x0.5 loses no bits).
            weights[g, 0] = ky[r + j, r + i] * (0.5 if i == 0 else 1.0)
            weights[g, 1] = kx[r + j, r + i] * (0.5 if j == 0 else 1.0)
            g += 1
    return offsets, dij, weights


@numba.njit(cache=True, nogil=True)
def _bin_of_angle(theta, edges, quadrants):
    """Same rule as :func:`segfix_data.direction.angle_to_bin` for one angle (degrees)."""
    m = edges.shape[0] + 1 if quadrants else edges.shape[0]
    idx = 0
    for e in edges:
        if (theta >= e) if quadrants else (theta > e):
            idx += 1
    return idx % m


@numba.njit(cache=True, nogil=True)
def _paper_fields(lab, dist, has_ignore, ignore, gamma, cap, ky, kx, edges, quadrants,
                  zero_grad, distance_out, boundary_out, direction_out, grad_out):
    n_rows, n_cols = lab.shape
    r = ky.shape[0] // 2
    offsets, dij, weights = _mirror_groups(r, n_cols, ky, kx)
    ng = offsets.shape[0]
    labf = lab.ravel()
    distf = dist.ravel()
    rad2deg = 180.0 / np.pi
    for y in range(n_rows):
        for x in range(n_cols):
            q = y * n_cols + x
            k = labf[q]
            if has_ignore and k == ignore:
                distance_out[y, x] = 0.0
                boundary_out[y, x] = 255
                direction_out[y, x] = 255
                continue
            d = distf[q]
            distance_out[y, x] = d if d < cap else cap
            if not d <= gamma:
                boundary_out[y, x] = 0
                direction_out[y, x] = 255
                continue
            boundary_out[y, x] = 1
            sy = 0.0
            sx = 0.0
            interior = y >= r and y < n_rows - r and x >= r and x < n_cols - r
            for g in range(ng):
                if interior:
                    a = q + offsets[g, 0]
                    b = q + offsets[g, 1]
                    c = q + offsets[g, 2]
                    e = q + offsets[g, 3]
                    pp = distf[a] if labf[a] == k else 0.0
                    pm = distf[b] if labf[b] == k else 0.0
                    mp = distf[c] if labf[c] == k else 0.0
                    mm = distf[e] if labf[e] == k else 0.0
                else:
                    j = dij[g, 0]
                    i = dij[g, 1]
                    pp = _tap(lab, dist, k, y + j, x + i, n_rows, n_cols)
                    pm = _tap(lab, dist, k, y + j, x - i, n_rows, n_cols)
                    mp = _tap(lab, dist, k, y - j, x + i, n_rows, n_cols)
                    mm = _tap(lab, dist, k, y - j, x - i, n_rows, n_cols)
                # Sums of a mirror pair come first: an up-down (left-right) symmetric window
                # gives gy (gx) = +0.0 exactly. (Ky is 0 for j == 0, Kx for i == 0.)
                sy += weights[g, 0] * ((pp + pm) - (mp + mm))
                sx += weights[g, 1] * ((pp + mp) - (pm + mm))
            grad_out[0, y, x] = sy
            grad_out[1, y, x] = sx
            if np.sqrt(sy * sy + sx * sx) > zero_grad:
                theta = np.arctan2(sy + 0.0, sx) * rad2deg  # + 0.0: -0.0 -> +0.0, theta <= 180
                direction_out[y, x] = _bin_of_angle(theta, edges, quadrants)
            else:
                direction_out[y, x] = 255


def paper_fields(label, distance, ignore_index, gamma, cap, ksize, num_directions, zero_grad):
    """Distance, boundary, direction and gradient maps of the ``paper`` preset in one scan.

    Args:
        label: (H, W) integer label map.
        distance: (H, W) float64 exact distances (``inf`` where no other label exists).
        ignore_index: value of ignored pixels, or None.
        gamma: boundary width in pixels; cap: distance storage cap in pixels.
        ksize: filter size; num_directions: m; zero_grad: norm under which the direction is
            undefined.

    Returns:
        ``(distance float32, boundary uint8, direction uint8, gradient float32 (2, H, W))``.
    """
    from .direction import bin_edges, direction_kernels

    label = np.ascontiguousarray(label)
    ky, kx = direction_kernels(ksize)
    shape = label.shape
    distance_out = np.empty(shape, np.float32)
    boundary_out = np.empty(shape, np.uint8)
    direction_out = np.empty(shape, np.uint8)
    grad_out = np.zeros((2,) + shape, np.float32)
    has_ignore = ignore_index is not None
    _paper_fields(label, np.ascontiguousarray(distance, dtype=np.float64), has_ignore,
                  ignore_index if has_ignore else 0, float(gamma), float(cap), ky, kx,
                  bin_edges(num_directions), num_directions == 4, float(zero_grad),
                  distance_out, boundary_out, direction_out, grad_out)
    return distance_out, boundary_out, direction_out, grad_out


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
