"""Exact multi-label Euclidean distance transform in one pass over the map (numba).

For every pixel ``p`` of a label map ``L`` the transform gives the squared Euclidean distance from
the centre of ``p`` to the centre of the nearest pixel ``q`` with ``L(q) != L(p)``
(``docs/targets.md`` section 2). Its cost does not depend on the number of labels.

Why two separable passes are exact with many labels: write
``d2(y, x) = min_y' [(y - y')^2 + g_k(y', x)]`` with ``g_k(y', x)`` the squared distance, along row
``y'``, from ``x`` to the nearest pixel not labelled ``k = L(y, x)``. Along column ``x``, inside the
vertical run of label ``k`` that holds ``(y, x)``, ``g_k(y', x)`` is the plain 1-D distance to the
nearest *different* label, which does not depend on ``k``; the pixels just outside the run have
``g_k = 0``, and every row beyond them is farther away. So the first pass is a 1-D "distance to a
label change" along one axis, and the second pass is the lower envelope of parabolas
(Felzenszwalb & Huttenlocher) restricted to each constant-label run along the other axis, with the
run's two outside neighbours as sites of value 0. (The code runs the 1-D pass along columns and the
envelope along rows: the same argument with the axes swapped. A top-down sweep over whole rows
stores the distance to the change above; the bottom-up sweep keeps the distance to the change
below in one row buffer and runs the envelope on each row as soon as it is complete.)

Pixels outside the image do not exist unless ``border_is_boundary`` is set, in which case the
ring of pixels just outside the image counts as a different label.

All arithmetic is in integers, so the result equals the brute-force definition exactly. The
envelope compares intersections ``num / den`` (``|num| <= (H+1)^2 + (W+1)^2``, ``0 < den <= 2(W+1)``)
by cross-multiplication; the products stay below ``2**62`` for sides up to :data:`MAX_SIDE`.
(Dividing in float64 would do as well here: two different such fractions differ by at least
``1 / den^2``, far more than the division's rounding error while ``num_max * den_max^2 < 2**52``,
e.g. up to 2048 x 4096, so both ways take the same decisions and give the same bits there.)

Speed notes: the hot loops index with ``np.uint64`` (``_U``) where the index cannot be negative;
numba then omits its negative-index wraparound test, which otherwise costs ~20% here.
"""
from __future__ import annotations

import numba
import numpy as np

#: Squared distance reported where no pixel of another label exists (a label filling the image).
NO_BOUNDARY_SQ = np.int64(1) << np.int64(60)

_U = np.uint64  # index cast: see "Speed notes" above


#: Largest supported side: the envelope's integer cross-products stay below 2**62 (module doc).
MAX_SIDE = (1 << 20) - 1


@numba.njit(cache=True, nogil=True)
def _up_change_dist(lab: np.ndarray, start: int, up: np.ndarray) -> None:
    """Per column: 1-D distance (pixels) to the nearest pixel above with a different value.

    ``start`` is the distance on row 0 (1 when the border is a boundary, else a "none" value
    that grows by one per row). One top-down sweep over whole rows: contiguous, vectorised.
    """
    n_rows, n_cols = lab.shape
    for x in range(n_cols):
        up[0, x] = start
    for y in range(1, n_rows):
        for x in range(n_cols):
            up[y, x] = 1 if lab[y, x] != lab[y - 1, x] else up[y - 1, x] + 1


@numba.njit(cache=True, nogil=True)
def _row_envelope(lab, g, border, take_sqrt, cap, out, vp, vf, zn, zd):
    """One row: lower envelope of the parabolas ``g[s] + (q - s)^2`` within each constant run.

    ``lab`` (n,) is the row, ``g`` (n,) int64 the squared vertical distances (``>= inf``: none),
    ``out`` (n,) float64 receives the squared distances (integers, exact in float64) or, with
    ``take_sqrt``, the distances, each as ``min(value, cap)`` (``cap = inf``: no cap); ``cap``
    where no site exists in the run (no other label, or every site dropped by the cap).

    Felzenszwalb-Huttenlocher, with the sites read straight from ``g`` (plus the run's two
    outside neighbours, value 0) and the intersections kept as exact fractions
    ``zn[m] / zd[m]`` (``zd > 0``) compared by cross-multiplication instead of float division.

    ``vp, vf, zn, zd``: (>= n + 2,) int64 work arrays: the envelope's apex positions, their
    ``g + position^2``, and where each parabola starts (``zn[m] / zd[m]``).
    """
    n = lab.shape[0]
    inf = NO_BOUNDARY_SQ
    x = 0
    while x < n:
        k = lab[_U(x)]
        a = x
        while x < n and lab[_U(x)] == k:
            x += 1
        b = x - 1
        m = -1  # index of the last parabola of the envelope; -1: empty
        # The last parabola is also kept in locals (apex tp, tf = g + tp^2, start tzn / tzd):
        # the common step (no pop) then never reloads a value it has just stored (~10% faster).
        tp = 0
        tf = 0
        tzn = 0
        tzd = 0
        # Sites left to right: a - 1 (if it exists), a .. b where g < inf, b + 1 (if it exists).
        first = a if a == 0 and not border else a - 1
        last = b if b == n - 1 and not border else b + 1
        for s in range(first, last + 1):
            if s < a or s > b:
                fs = s * s  # an outside neighbour: value 0
            else:
                gs = g[_U(s)]
                if gs >= inf:
                    continue
                fs = gs + s * s
            if m < 0:
                m = 0
                vp[0] = s
                vf[0] = fs
                tp = s
                tf = fs
                tzn = -1
                tzd = 0
                continue
            # Intersection with the last parabola at num / den; pop it while that lies at or
            # left of where the last parabola starts (m == 0 starts at -inf).
            num = fs - tf
            den = 2 * (s - tp)
            while m > 0 and num * tzd <= tzn * den:
                m -= 1
                tp = vp[_U(m)]
                tf = vf[_U(m)]
                tzn = zn[_U(m)]
                tzd = zd[_U(m)]
                num = fs - tf
                den = 2 * (s - tp)
            m += 1
            vp[_U(m)] = s
            vf[_U(m)] = fs
            zn[_U(m)] = num
            zd[_U(m)] = den
            tp = s
            tf = fs
            tzn = num
            tzd = den
        if m < 0:
            for q in range(a, b + 1):
                out[_U(q)] = cap
            continue
        top = m
        m = 0
        for q in range(a, b + 1):
            while m < top and zn[_U(m + 1)] < q * zd[_U(m + 1)]:  # next parabola starts left of q
                m += 1
            dq = q - vp[_U(m)]
            d2 = np.float64(vf[_U(m)] - vp[_U(m)] * vp[_U(m)] + dq * dq)
            v = np.sqrt(d2) if take_sqrt else d2
            out[_U(q)] = v if v < cap else cap


@numba.njit(cache=True, nogil=True)
def _two_pass_kernel(lab, border, take_sqrt, cap, site_max, out):
    """Both passes: ``up`` top-down, then bottom-up rows with the running ``down`` distances.

    ``site_max``: vertical 1-D distances above it are dropped as envelope sites (they cannot
    give a distance below the cap); ``cap``: the output saturation (``inf``: none).
    """
    n_rows, n_cols = lab.shape
    none = n_rows + 1  # a 1-D distance >= this means "no change in this column"
    # 1-D distances above ``keep`` are no site: missing ones (>= none) and, with a cap, those
    # whose parabola stays above it everywhere.
    keep = min(none - 1, site_max)
    start = 1 if border else none
    up = np.empty((n_rows, n_cols), dtype=np.int32)
    _up_change_dist(lab, start, up)
    down = np.empty(n_cols, dtype=np.int32)
    g = np.empty(n_cols, dtype=np.int64)
    vp = np.empty(n_cols + 2, dtype=np.int64)
    vf = np.empty(n_cols + 2, dtype=np.int64)
    zn = np.empty(n_cols + 2, dtype=np.int64)
    zd = np.empty(n_cols + 2, dtype=np.int64)
    for x in range(n_cols):
        down[x] = start - 1  # the row below the image, so that the last row gets ``start``
    inf = NO_BOUNDARY_SQ
    for y in range(n_rows - 1, -1, -1):
        for x in range(n_cols):
            if y + 1 < n_rows and lab[y, x] != lab[y + 1, x]:
                down[x] = 1
            else:
                down[x] += 1
            d = min(up[y, x], down[x])
            g[x] = np.int64(d) * d if d <= keep else inf
        _row_envelope(lab[y], g, border, take_sqrt, cap, out[y], vp, vf, zn, zd)


def _check_label_map(label: np.ndarray, name: str = "label") -> np.ndarray:
    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (H, W) array, got shape {label.shape}")
    if not (np.issubdtype(label.dtype, np.integer) or label.dtype == np.bool_):
        raise ValueError(
            f"{name} must have an integer dtype (train ids or segment ids), got {label.dtype}; "
            "convert float maps with .astype(np.int32) after checking they hold whole numbers"
        )
    if label.size == 0:
        raise ValueError(f"{name} is empty (shape {label.shape})")
    return label


def multilabel_sqdist(label: np.ndarray, *, border_is_boundary: bool = False) -> np.ndarray:
    """Exact squared distance from each pixel to the nearest pixel of a different label.

    Every distinct value of ``label`` is one label (an ignore value is simply another label, so
    it counts as "different" for its neighbours).

    Args:
        label: (H, W) integer label map, any integer dtype.
        border_is_boundary: if True, the pixels just outside the image count as a different
            label; otherwise the image border is not a boundary (as in scipy's EDT of a mask).

    Returns:
        (H, W) int64 squared distances in pixels^2 (>= 1); :data:`NO_BOUNDARY_SQ` where no other
        label exists in the image.
    """
    label = _check_label_map(label)
    if label.dtype == np.bool_:
        label = label.view(np.uint8)
    sq = _two_pass(label, border_is_boundary, take_sqrt=False, cap=None)
    out = np.full(sq.shape, NO_BOUNDARY_SQ, dtype=np.int64)
    finite = np.isfinite(sq)
    out[finite] = sq[finite].astype(np.int64)
    return out


def _two_pass(label: np.ndarray, border_is_boundary: bool, take_sqrt: bool,
              cap: float | None) -> np.ndarray:
    # 1-D pass along columns (streamed row by row), envelope pass along rows.
    lab = np.ascontiguousarray(label)
    if max(lab.shape) > MAX_SIDE:
        raise ValueError(
            f"label map of shape {lab.shape} is too large: each side must be <= {MAX_SIDE} pixels "
            "(split the map into tiles)"
        )
    if cap is None:
        cap_value, site_max = np.inf, MAX_SIDE + 2
    else:
        cap_value = float(cap)
        if not cap_value > 0:
            raise ValueError(f"cap must be a positive number of pixels (or None), got {cap!r}")
        # A site whose 1-D distance d exceeds the cap gives distances >= d > cap: drop it.
        # (+1: a margin for the rounding of the cap; keeping extra sites never changes a value.)
        site_max = int(min(np.floor(cap_value), MAX_SIDE)) + 1
    out = np.empty(lab.shape, dtype=np.float64)
    _two_pass_kernel(lab, bool(border_is_boundary), take_sqrt, cap_value, site_max, out)
    return out


def multilabel_distance(label: np.ndarray, *, border_is_boundary: bool = False,
                        cap: float | None = None) -> np.ndarray:
    """Exact Euclidean distance (float64 pixels) to the nearest pixel of a different label.

    Same as :func:`multilabel_sqdist` followed by a square root; ``inf`` where no other label
    exists in the image.

    Args:
        label: (H, W) integer label map, any integer dtype.
        border_is_boundary: as in :func:`multilabel_sqdist`.
        cap: None (default) for the full transform; a positive number of pixels for the capped
            transform: exact where the distance is below ``cap``, ``cap`` elsewhere (also where
            no other label exists), i.e. ``np.minimum(full, cap)`` to the bit. Sites farther
            than ``cap`` from a label change along a column are never put on the row envelopes,
            so a small cap (the build's ``gamma + (ksize // 2) * sqrt(2)``) saves about a third
            of the work on street scenes.

    Returns:
        (H, W) float64 distances in pixels.
    """
    label = _check_label_map(label)
    if label.dtype == np.bool_:
        label = label.view(np.uint8)
    return _two_pass(label, border_is_boundary, take_sqrt=True, cap=cap)
