"""Direction bins of gradients for the label-masked filter (:mod:`.gradient`), in numba.

:func:`_bin_of_angle` is :func:`segfix_data.targets.direction.angle_to_bin` for one angle;
:func:`_store_gradient` bins one pixel's gradient through ``atan2``; :func:`_bin_span` bins a run
of pixels by sign tests against the bin edges' tangents instead (no ``atan2``), falling back to
the exact path wherever a test is within :data:`_BIN_MARGIN` of going the other way, so both give
the same bins bit for bit.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, inline="always")
def _bin_of_angle(theta, edges, quadrants):
    """Same rule as :func:`segfix_data.targets.direction.angle_to_bin` for one angle (degrees).

    Counts the edges below ``theta`` (``m = 4``: at or below; the bins then need no wrap).
    Otherwise ``m = len(edges)`` and a count of ``m`` (theta past the last edge) wraps to bin 0.
    """
    n = edges.shape[0]
    idx = 0
    if quadrants:
        for i in range(n):
            idx += theta >= edges[i]
        return idx
    for i in range(n):
        idx += theta > edges[i]
    return idx if idx < n else 0


@numba.njit(cache=True, nogil=True, inline="always")
def _store_gradient(y, x, sy, sx, zero_grad, edges, quadrants, direction_out, grad_out):
    rad2deg = 180.0 / np.pi
    grad_out[0, y, x] = sy
    grad_out[1, y, x] = sx
    if np.sqrt(sy * sy + sx * sx) > zero_grad:
        theta = np.arctan2(sy + 0.0, sx) * rad2deg  # + 0.0: -0.0 -> +0.0, theta <= 180
        direction_out[y, x] = _bin_of_angle(theta, edges, quadrants)
    else:
        direction_out[y, x] = 255


#: Relative margin of the fast binning (:func:`_bin_span`): a gradient whose angle is within
#: about this many radians of a bin edge or an axis, or whose norm is within 1e-6 relative of
#: the zero threshold, is binned by the exact path instead. Float64 rounding in the
#: comparisons and in ``atan2`` is ~1e-16, so the fast path can never decide otherwise.
_BIN_MARGIN = 1e-9


def _bin_tables(m: int, zero_grad: float):
    """Tables of :func:`_bin_span` for ``m`` bins.

    Returns ``(tans, table, z2lo, z2hi)``: ``tans`` (4,) float64, the tangents of the bin edges
    strictly inside the first quadrant (``m = 8``: 22.5 and 67.5 degrees; ``m = 16``: four;
    ``m = 4``: none), padded with 1e300 (a comparison that never counts); ``table`` (32,) uint8:
    index ``quadrant * 5 + s`` (quadrant ``2 * (gy < 0) + (gx < 0)``, ``s`` = edges below the
    angle folded into the first quadrant) -> the bin of an angle inside that sector, computed
    by :func:`segfix_data.direction.angle_to_bin` from the sector's middle; index ``20 + c``:
    the four axis directions (``gy = 0, gx > 0``; ``gy = 0, gx < 0``; ``gx = 0, gy > 0``;
    ``gx = 0, gy < 0``) binned from ``atan2`` itself (exact there: C99 Annex F); index 24:
    255 (undefined). ``z2lo, z2hi``: ``zero_grad**2`` -+ 1e-6 relative.
    """
    from .direction import angle_to_bin, bin_edges

    edges = bin_edges(m)
    first = np.array([e for e in edges if 0.0 < e < 90.0], dtype=np.float64)
    tans = np.full(4, 1e300)
    tans[: first.size] = np.tan(np.radians(first))
    bounds = np.concatenate([[0.0], first, [90.0]])
    middles = (bounds[:-1] + bounds[1:]) / 2
    table = np.full(32, 255, np.uint8)
    for q, fold in enumerate((lambda a: a, lambda a: 180.0 - a, lambda a: -a, lambda a: a - 180.0)):
        table[q * 5: q * 5 + middles.size] = angle_to_bin(fold(middles), m)
    for c, (gy, gx) in enumerate(((0.0, 1.0), (0.0, -1.0), (1.0, 0.0), (-1.0, 0.0))):
        table[20 + c] = _bin_of_angle(np.arctan2(gy + 0.0, gx) * (180.0 / np.pi), edges, m == 4)
    z2 = float(zero_grad) ** 2
    return tans, table, z2 * (1 - 1e-6), z2 * (1 + 1e-6)


@numba.njit(cache=True, nogil=True)
def _bin_span(sy, sx, n, tans, table, z2lo, z2hi, zero_grad, edges, quadrants, out, fix):
    """Direction bins of ``n`` gradients ``(sy[p], sx[p])`` into ``out[:n]``, equal to
    :func:`_store_gradient`'s ``atan2`` binning for every input.

    The angle's side of each bin edge is read from the sign of ``|gy| - tan(edge) * |gx|`` in
    the first quadrant and the signs of ``gy, gx`` (a few multiplications and a table lookup,
    no ``atan2``); the zero test compares the squared norm with ``zero_grad**2``. Where any of
    these is within :data:`_BIN_MARGIN` of deciding otherwise, the pixel goes through the exact
    path (``sqrt``, ``atan2``, :func:`_bin_of_angle`) in a second loop. ``fix``: (>= n,) int64
    work array.
    """
    t0 = tans[0]
    t1 = tans[1]
    t2 = tans[2]
    t3 = tans[3]
    nfix = 0
    for p in range(n):
        a = sy[p]
        b = sx[p]
        ax = abs(b)
        ay = abs(a)
        n2 = a * a + b * b
        tol = _BIN_MARGIN * (ax + ay)
        d0 = ay - t0 * ax
        d1 = ay - t1 * ax
        d2 = ay - t2 * ax
        d3 = ay - t3 * ax
        s = np.int64(d0 > 0.0) + np.int64(d1 > 0.0) + np.int64(d2 > 0.0) + np.int64(d3 > 0.0)
        quad = np.int64(a < 0.0) * 2 + np.int64(b < 0.0)
        axis = (ax == 0.0) | (ay == 0.0)
        idx = (20 + np.int64(ay != 0.0) * 2 + np.int64((a < 0.0) | (b < 0.0))) if axis else quad * 5 + s
        idx = idx if n2 > z2hi else 24
        near = ((abs(d0) <= tol) | (abs(d1) <= tol) | (abs(d2) <= tol) | (abs(d3) <= tol)
                | (ax <= tol) | (ay <= tol)) & ~axis
        out[p] = table[idx]
        fix[nfix] = p
        nfix += np.int64(near | ((n2 >= z2lo) & (n2 <= z2hi)))
    for i in range(nfix):
        p = fix[i]
        a = sy[p]
        b = sx[p]
        if np.sqrt(a * a + b * b) > zero_grad:
            out[p] = _bin_of_angle(np.arctan2(a + 0.0, b) * (180.0 / np.pi), edges, quadrants)
        else:
            out[p] = 255
