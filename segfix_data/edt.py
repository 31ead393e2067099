"""Exact multi-label Euclidean distance transform in one pass over the map (numba).

For every pixel ``p`` of a label map ``L`` the transform gives the squared Euclidean distance from
the centre of ``p`` to the centre of the nearest pixel ``q`` with ``L(q) != L(p)``
(``../shared/docs/targets.md`` section 2). Its cost does not depend on the number of labels.

Why two separable passes are exact with many labels: write
``d2(y, x) = min_y' [(y - y')^2 + g_k(y', x)]`` with ``g_k(y', x)`` the squared distance, along row
``y'``, from ``x`` to the nearest pixel not labelled ``k = L(y, x)``. Along column ``x``, inside the
vertical run of label ``k`` that holds ``(y, x)``, ``g_k(y', x)`` is the plain 1-D distance to the
nearest *different* label, which does not depend on ``k``; the pixels just outside the run have
``g_k = 0``, and every row beyond them is farther away. So the first pass is a 1-D "distance to a
label change" along one axis, and the second pass is the lower envelope of parabolas
(Felzenszwalb & Huttenlocher) restricted to each constant-label run along the other axis, with the
run's two outside neighbours as sites of value 0. (The code runs the 1-D pass along columns, streamed as
two sweeps over whole rows, and the envelope along rows: the same argument with the axes swapped.)

Pixels outside the image do not exist unless ``border_is_boundary`` is set, in which case the
ring of pixels just outside the image counts as a different label.

All arithmetic on squared distances is in integers held exactly in float64, so the result equals
the brute-force definition exactly.
"""
from __future__ import annotations

import numba
import numpy as np

#: Squared distance reported where no pixel of another label exists (a label filling the image).
NO_BOUNDARY_SQ = np.int64(1) << np.int64(60)


@numba.njit(cache=True, nogil=True)
def _vertical_change_sqdist(lab: np.ndarray, border: bool, out: np.ndarray) -> None:
    """Per column: squared 1-D distance to the nearest pixel with a different value.

    Two sweeps over whole rows (top-down, then bottom-up) keep every access contiguous.
    """
    n_rows, n_cols = lab.shape
    far = np.int64(1) << np.int64(40)  # a 1-D distance meaning "none in this column"
    start = np.int64(1) if border else far
    for x in range(n_cols):
        out[0, x] = start
    for y in range(1, n_rows):
        for x in range(n_cols):
            if lab[y, x] != lab[y - 1, x]:
                out[y, x] = 1
            else:
                out[y, x] = out[y - 1, x] + 1
    for x in range(n_cols):
        if start < out[n_rows - 1, x]:
            out[n_rows - 1, x] = start
    for y in range(n_rows - 2, -1, -1):
        for x in range(n_cols):
            if lab[y, x] != lab[y + 1, x]:
                down = np.int64(1)
            else:
                down = out[y + 1, x] + 1
            if down < out[y, x]:
                out[y, x] = down
    inf = NO_BOUNDARY_SQ
    for y in range(n_rows):
        for x in range(n_cols):
            d = out[y, x]
            out[y, x] = inf if d >= far else d * d


@numba.njit(cache=True, nogil=True)
def _run_envelope(lab: np.ndarray, g: np.ndarray, border: bool, take_sqrt: bool,
                  out: np.ndarray) -> None:
    """Per row: lower envelope of parabolas ``g[site] + (q - site)^2`` within each constant run.

    ``lab`` and ``g`` have the same shape; ``out`` (float64) receives the squared distances
    (integers, exact in float64) or, with ``take_sqrt``, the distances; ``inf`` where no other
    label exists.
    """
    n_rows, n = lab.shape
    inf = NO_BOUNDARY_SQ
    pos = np.empty(n + 2, dtype=np.int64)   # site positions of the current run
    val = np.empty(n + 2, dtype=np.int64)   # site values
    v = np.empty(n + 2, dtype=np.int64)     # envelope: indices into pos/val
    z = np.empty(n + 3, dtype=np.float64)   # envelope: boundaries between parabolas
    for r in range(n_rows):
        x = 0
        while x < n:
            k = lab[r, x]
            a = x
            while x < n and lab[r, x] == k:
                x += 1
            b = x - 1
            ns = 0
            if a > 0 or border:
                pos[ns] = a - 1
                val[ns] = 0
                ns += 1
            for q in range(a, b + 1):
                if g[r, q] < inf:
                    pos[ns] = q
                    val[ns] = g[r, q]
                    ns += 1
            if b < n - 1 or border:
                pos[ns] = b + 1
                val[ns] = 0
                ns += 1
            if ns == 0:
                for q in range(a, b + 1):
                    out[r, q] = np.inf
                continue
            # Felzenszwalb-Huttenlocher lower envelope over the sites.
            m = 0
            v[0] = 0
            z[0] = -np.inf
            z[1] = np.inf
            for i in range(1, ns):
                fi = val[i] + pos[i] * pos[i]
                j = v[m]
                s = (fi - (val[j] + pos[j] * pos[j])) / (2.0 * (pos[i] - pos[j]))
                while s <= z[m]:  # z[0] is -inf, so m never drops below 0
                    m -= 1
                    j = v[m]
                    s = (fi - (val[j] + pos[j] * pos[j])) / (2.0 * (pos[i] - pos[j]))
                m += 1
                v[m] = i
                z[m] = s
                z[m + 1] = np.inf
            m = 0
            for q in range(a, b + 1):
                while z[m + 1] < q:
                    m += 1
                j = v[m]
                dq = q - pos[j]
                d2 = np.float64(val[j] + dq * dq)
                out[r, q] = np.sqrt(d2) if take_sqrt else d2


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
    sq = _two_pass(label, border_is_boundary, take_sqrt=False)
    out = np.full(sq.shape, NO_BOUNDARY_SQ, dtype=np.int64)
    finite = np.isfinite(sq)
    out[finite] = sq[finite].astype(np.int64)
    return out


def _two_pass(label: np.ndarray, border_is_boundary: bool, take_sqrt: bool) -> np.ndarray:
    # 1-D pass along columns (streamed row by row), envelope pass along rows.
    lab = np.ascontiguousarray(label)
    g = np.empty(lab.shape, dtype=np.int64)
    _vertical_change_sqdist(lab, bool(border_is_boundary), g)
    out = np.empty(lab.shape, dtype=np.float64)
    _run_envelope(lab, g, bool(border_is_boundary), take_sqrt, out)
    return out


def multilabel_distance(label: np.ndarray, *, border_is_boundary: bool = False) -> np.ndarray:
    """Exact Euclidean distance (float64 pixels) to the nearest pixel of a different label.

    Same as :func:`multilabel_sqdist` followed by a square root; ``inf`` where no other label
    exists in the image.
    """
    label = _check_label_map(label)
    if label.dtype == np.bool_:
        label = label.view(np.uint8)
    return _two_pass(label, border_is_boundary, take_sqrt=True)
