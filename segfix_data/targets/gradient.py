"""The label-masked direction filter (targets.md section 4), in numba.

For a pixel ``p`` of label ``k`` the gradient ``g = (gy, gx)`` is the cross-correlation at ``p`` of
``D_k`` (the distance map where the label is ``k``, 0 elsewhere and outside the image) with the
kernels of :func:`segfix_data.targets.direction.direction_kernels`. Only taps whose label equals ``k``
contribute, so one pass over the fused distance map with a label test per tap gives every class's
filter at once.

Taps are summed in mirror groups: for each ``(j, i)`` with ``j, i >= 0`` the four pixels
``(y +- j, x +- i)`` are read once, and ``gy`` adds ``Ky(j, i) * ((D(y+j, x+i) + D(y+j, x-i)) -
(D(y-j, x+i) + D(y-j, x-i)))`` (``gx`` likewise with the roles of rows and columns swapped).
A neighbourhood symmetric under an up-down (left-right, point) mirror therefore gives a ``gy``
(``gx``, both) of exactly +0.0, not rounding noise. This matters: the authors' encoding maps
``atan2(+0, -x) = 180`` and ``atan2(-0, -x) = -180`` to opposite ends of ``dir_deg``.

Speed notes (``paper`` preset): boundary pixels whose window lies inside the image are filtered a
horizontal span at a time (:func:`_span_sums`: group loop outside, pixel loop inside, so it
vectorises), with ``np.uint64`` indices (``_U``) so that numba omits its negative-index
wraparound test. Each pixel still adds its groups in the order above, so the results equal, bit
for bit, those of the one-pixel loop :func:`_pixel_sums`, which serves the border ring. Spans
closer than :data:`SPAN_GAP` are merged and short ones widened (the vectorised loops need 16
pixels), and the bins come from sign tests against the edges' tangents instead of ``atan2``
(:func:`_bin_span`, with the exact path wherever a test is within 1e-9 of going the other way).
On dense frames (~20% boundary pixels) the two make the filter ~0.7x as long.
"""
from __future__ import annotations

import numba
import numpy as np

from ._binning import _bin_span, _bin_tables, _store_gradient
from segfix_data.ignore import IGNORE_INDEX

_U = np.uint64  # index cast: numba then omits its negative-index wraparound test

#: Inner spans of a row closer than this (pixels) are summed as one span, and shorter spans are
#: widened to it (the extra pixels are summed and dropped): LLVM's vectorised loops run only on
#: 16 or more pixels, so a 10-pixel span otherwise runs 24 scalar loops. Dense frames: ~0.85x.
SPAN_GAP = SPAN_MIN = 16


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
def _span_sums(labf, distf, q0, n, offsets, dij, weights, sy, sx):
    """Mirror-group sums of the ``n`` consecutive pixels ``q0 .. q0 + n - 1`` of one row.

    Every window must lie inside the image (no bounds checks). The group loop is outside and the
    pixel loop inside, so the pixels' sums do not wait on one another and the inner loop runs on
    consecutive memory (SIMD); each pixel still adds its groups in the same order as the
    one-pixel loop of :func:`_pixel_sums`, so the result is the same to the bit.

    On the axes a group's mirror pixels coincide (``j == 0``: ``mp == pp``, ``mm == pm``;
    ``i == 0``: ``pm == pp``, ``mm == mp``), so only two taps are read, and the other sum's term
    is ``0 * (+0.0)`` (its kernel is 0 there), which leaves a sum unchanged (a sum that starts at
    +0.0 never becomes -0.0), so it is skipped.

    Results go to ``sy[:n]`` and ``sx[:n]`` (float64).
    """
    for p in range(n):
        sy[p] = 0.0
        sx[p] = 0.0
    for g in range(offsets.shape[0]):
        o0 = offsets[g, 0]
        o1 = offsets[g, 1]
        o2 = offsets[g, 2]
        o3 = offsets[g, 3]
        wy = weights[g, 0]
        wx = weights[g, 1]
        # Unsigned indices: numba then skips its negative-index wraparound test, which
        # otherwise blocks vectorisation (a 5x slower loop). They are >= 0 here anyway.
        # Loads are unconditional, then a select: a branch-free body.
        if dij[g, 0] == 0:  # (0, i): pp, pm (= mp, mm)
            for p in range(n):
                q = q0 + p
                k = labf[_U(q)]
                pp = distf[_U(q + o0)]
                pm = distf[_U(q + o1)]
                pp = pp if labf[_U(q + o0)] == k else 0.0
                pm = pm if labf[_U(q + o1)] == k else 0.0
                sx[p] += wx * ((pp + pp) - (pm + pm))
        elif dij[g, 1] == 0:  # (j, 0): pp, mp (= pm, mm)
            for p in range(n):
                q = q0 + p
                k = labf[_U(q)]
                pp = distf[_U(q + o0)]
                mp = distf[_U(q + o2)]
                pp = pp if labf[_U(q + o0)] == k else 0.0
                mp = mp if labf[_U(q + o2)] == k else 0.0
                sy[p] += wy * ((pp + pp) - (mp + mp))
        else:
            for p in range(n):
                q = q0 + p
                k = labf[_U(q)]
                pp = distf[_U(q + o0)]
                pm = distf[_U(q + o1)]
                mp = distf[_U(q + o2)]
                mm = distf[_U(q + o3)]
                pp = pp if labf[_U(q + o0)] == k else 0.0
                pm = pm if labf[_U(q + o1)] == k else 0.0
                mp = mp if labf[_U(q + o2)] == k else 0.0
                mm = mm if labf[_U(q + o3)] == k else 0.0
                # Sums of a mirror pair come first: an up-down (left-right) symmetric window
                # gives gy (gx) = +0.0 exactly.
                sy[p] += wy * ((pp + pm) - (mp + mm))
                sx[p] += wx * ((pp + mp) - (pm + mm))


@numba.njit(cache=True, nogil=True)
def _pixel_sums(lab, dist, y, x, dij, weights):
    """Mirror-group sums ``(gy, gx)`` of one pixel, with bounds checks (for the border ring)."""
    n_rows, n_cols = lab.shape
    k = lab[y, x]
    sy = 0.0
    sx = 0.0
    for g in range(dij.shape[0]):
        j = dij[g, 0]
        i = dij[g, 1]
        pp = _tap(lab, dist, k, y + j, x + i, n_rows, n_cols)
        pm = _tap(lab, dist, k, y + j, x - i, n_rows, n_cols)
        mp = _tap(lab, dist, k, y - j, x + i, n_rows, n_cols)
        mm = _tap(lab, dist, k, y - j, x - i, n_rows, n_cols)
        sy += weights[g, 0] * ((pp + pm) - (mp + mm))
        sx += weights[g, 1] * ((pp + mp) - (pm + mm))
    return sy, sx


@numba.njit(cache=True, nogil=True)
def _paper_fields(lab, dist, has_ignore, ignore, gamma, cap, ky, kx, edges, quadrants,
                  zero_grad, tans, table, z2lo, z2hi, distance_out, boundary_out, direction_out,
                  grad_out, gap, min_len):
    """One row at a time: the per-pixel fields, then the gradient of the row's boundary pixels.

    Boundary pixels whose window lies inside the image come in horizontal spans (a band of
    width ``2 * gamma`` along every label edge); spans closer than ``gap`` are merged and short
    ones widened to ``min_len`` pixels, and each goes to :func:`_span_sums` at once, then its
    boundary pixels to :func:`_bin_span`. The rest (windows crossing the border) go one by one
    to :func:`_pixel_sums` and :func:`_store_gradient`. ``grad_out`` must be zero on entry.
    """
    n_rows, n_cols = lab.shape
    r = ky.shape[0] // 2
    offsets, dij, weights = _mirror_groups(r, n_cols, ky, kx)
    labf = lab.ravel()
    distf = dist.ravel()
    sy = np.empty(n_cols, np.float64)
    sx = np.empty(n_cols, np.float64)
    fix = np.empty(n_cols, np.int64)
    cy = np.empty(n_cols, np.float64)
    cx = np.empty(n_cols, np.float64)
    bins = np.empty(n_cols, np.uint8)
    slo = np.empty(n_cols, np.int64)
    shi = np.empty(n_cols, np.int64)
    for y in range(n_rows):
        for x in range(n_cols):  # branch-free, so that it vectorises
            ignored = has_ignore and lab[y, x] == ignore
            d = dist[y, x]
            distance_out[y, x] = 0.0 if ignored else (d if d < cap else cap)
            boundary_out[y, x] = IGNORE_INDEX if ignored else (1 if d <= gamma else 0)
            direction_out[y, x] = 255
        # The row's boundary pixels, span by span; [lo, hi) is the part whose windows lie
        # inside the image, the rest of the span goes pixel by pixel.
        row = boundary_out[y]
        inner_row = y >= r and y < n_rows - r
        ns = 0
        x = 0
        while x < n_cols:
            while x < n_cols and row[_U(x)] != 1:
                x += 1
            x0 = x
            while x < n_cols and row[_U(x)] == 1:
                x += 1
            lo = min(max(x0, r), x) if inner_row else x
            hi = max(min(x, n_cols - r), lo)
            for xx in range(x0, lo):
                gy, gx = _pixel_sums(lab, dist, y, xx, dij, weights)
                _store_gradient(y, xx, gy, gx, zero_grad, edges, quadrants, direction_out,
                                grad_out)
            for xx in range(hi, x):
                gy, gx = _pixel_sums(lab, dist, y, xx, dij, weights)
                _store_gradient(y, xx, gy, gx, zero_grad, edges, quadrants, direction_out,
                                grad_out)
            if hi > lo:
                slo[ns] = lo
                shi[ns] = hi
                ns += 1
        # Inner spans: neighbours closer than ``gap`` are summed as one span and short spans
        # are widened to ``min_len`` (the extra pixels are summed and dropped), so that the
        # vectorised loops of _span_sums run on long spans; every pixel's sums are the same.
        i = 0
        while i < ns:
            lo = slo[i]
            hi = shi[i]
            j = i + 1
            while j < ns and slo[j] - hi < gap:
                hi = shi[j]
                j += 1
            if hi - lo < min_len:
                hi = min(lo + min_len, n_cols - r)
                lo = max(r, hi - min_len)
            _span_sums(labf, distf, y * n_cols + lo, hi - lo, offsets, dij, weights, sy, sx)
            c = 0
            for k in range(i, j):
                for xx in range(slo[k], shi[k]):
                    cy[c] = sy[xx - lo]
                    cx[c] = sx[xx - lo]
                    c += 1
            _bin_span(cy, cx, c, tans, table, z2lo, z2hi, zero_grad, edges, quadrants, bins, fix)
            c = 0
            for k in range(i, j):
                for xx in range(slo[k], shi[k]):
                    direction_out[y, xx] = bins[c]
                    grad_out[0, y, xx] = cy[c]
                    grad_out[1, y, xx] = cx[c]
                    c += 1
            i = j

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
                  *_bin_tables(num_directions, float(zero_grad)),
                  distance_out, boundary_out, direction_out, grad_out, SPAN_GAP, SPAN_MIN)
    return distance_out, boundary_out, direction_out, grad_out


@numba.njit(cache=True, nogil=True)
def _narrow_kernel(dist, gamma, boundary, direction, grad, band_out):
    n_rows, n_cols = dist.shape
    for y in range(n_rows):
        for x in range(n_cols):
            band_out[y, x] = direction[y, x]
            if boundary[y, x] == 1 and dist[y, x] > gamma:
                boundary[y, x] = 0
                direction[y, x] = 255
                grad[0, y, x] = 0.0
                grad[1, y, x] = 0.0


def narrow_to_boundary(distance, gamma, boundary, direction, gradient) -> np.ndarray:
    """In place: take the pixels with ``distance > gamma`` out of the boundary of a wider scan;
    returns the scan's direction as it was (the band's).

    :func:`paper_fields` at a band ``b >= gamma`` marks the valid pixels with ``distance <= b``
    as boundary and gives each its direction and gradient; a pixel's direction and gradient do
    not depend on the band (the filter reads the same distances), so clearing the pixels beyond
    gamma (boundary 0, direction 255, gradient 0) leaves exactly what :func:`paper_fields` at
    gamma gives, when ``distance`` is exact up to ``min_distance_bound(gamma, ksize)``.

    Args:
        distance: (H, W) float64 distances the scan was given (the same comparison
            ``distance <= gamma`` as the scan's, so the boundary is the same to the bit).
        gamma: the boundary width in pixels.
        boundary, direction: uint8 (H, W), gradient: float32 (2, H, W), as :func:`paper_fields`
            returns them; changed in place.

    Returns:
        uint8 (H, W): ``direction`` before the change (bins of the pixels within the band).
    """
    band = np.empty_like(direction)
    _narrow_kernel(np.ascontiguousarray(distance, dtype=np.float64), float(gamma), boundary,
                   direction, gradient, band)
    return band


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
