"""The boundary F-score of label maps (numba).

Definitions (``docs/targets.md`` section 8; user docs in ``docs/evaluation.md``):

* **Boundary F-score** as the authors' ``F1_running_score.py`` (after Gated-SCNN) computes it: per
  image and class ``c`` the binary maps ``pred == c`` and ``gt == c`` with ground-truth ignore
  pixels cleared in both, their ``seg2bmap`` boundaries, a tolerance of
  ``r = ceil(t * sqrt(H^2 + W^2))`` pixels by dilation with ``skimage.morphology.disk(r)``,
  precision / recall / F with their empty-map rules; F averaged over images per class, then over
  classes.

Speed: :func:`boundary_f_image` does not dilate anything. A pixel is inside the dilation of a
boundary set by ``disk(r)`` iff some boundary pixel lies at squared distance ``<= r^2`` (the disk's
footprint is ``dy^2 + dx^2 <= r^2``), and only boundary pixels are ever tested. So one pass builds
the ``seg2bmap`` boundaries of all classes at once (a pixel is on the boundary of class ``c`` iff
``c`` is among the values of its 2x2 block ``{p, right, down, down-right}`` and they are not all
equal; last row / column along the edge only), and each boundary pixel looks for the nearest
boundary pixel of the same class in the other map, scanning the disk's offsets in order of
distance. The straightforward per-class dilation it is checked against (identical numbers) is the
test oracle ``tests/support/oracles.py:boundary_f_image_reference``.

Ground-truth values outside ``0 .. K-1`` (255 in practice) are ignore; predicted values outside
``0 .. K-1`` are "no evaluated class".
"""
from __future__ import annotations

import numba
import numpy as np

from .confusion import check_num_classes, check_pair

#: The paper's boundary thresholds, as fractions of the image diagonal (1, 2, 3 px at 2048x1024).
BOUNDARY_THRESHOLDS = (0.0003, 0.0006, 0.0009)


def boundary_radius(threshold: float, shape: tuple[int, int]) -> int:
    """Tolerance in pixels: ``ceil(t * sqrt(H^2 + W^2))``, or ``t`` itself when ``t >= 1``.

    Computed with the same float expression as the authors' code
    (``np.ceil(bound_th * np.linalg.norm(shape))``).
    """
    if threshold <= 0:
        raise ValueError(f"boundary threshold must be > 0, got {threshold!r}")
    if threshold >= 1:
        return int(threshold)
    return int(np.ceil(threshold * np.linalg.norm(np.asarray(shape[:2], dtype=np.float64))))


def seg2bmap(mask: np.ndarray) -> np.ndarray:
    """1-pixel boundary of a binary mask, exactly as Gated-SCNN's / openseg's ``seg2bmap``.

    A pixel is a boundary pixel iff it differs from its right, lower or lower-right neighbour;
    the last row compares only to the right, the last column only downward; the bottom-right
    pixel is never a boundary pixel.

    Args:
        mask: (H, W) bool or integer (non-zero = inside).

    Returns:
        bool (H, W).
    """
    seg = np.asarray(mask).astype(bool)
    if seg.ndim != 2:
        raise ValueError(f"mask must be 2-D (H, W), got shape {seg.shape}")
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ e) | (seg ^ s) | (seg ^ se)
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = False
    return b


def _precision_recall_f(n_pred: np.ndarray, n_gt: np.ndarray, m_pred: np.ndarray, m_gt: np.ndarray):
    """P, R, F (float64 arrays) from boundary counts and matched counts, with the empty-map rules."""
    n_pred = np.asarray(n_pred, dtype=np.int64)
    n_gt = np.asarray(n_gt, dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n_pred > 0, m_pred / np.maximum(n_pred, 1).astype(np.float64), 1.0)
        r = np.where(n_gt > 0, m_gt / np.maximum(n_gt, 1).astype(np.float64), 1.0)
    p = np.where((n_pred > 0) & (n_gt == 0), 0.0, p)
    r = np.where((n_pred == 0) & (n_gt > 0), 0.0, r)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(p + r == 0, 0.0, 2 * p * r / (p + r))
    return p, r, f


def disk_offsets(radius: int) -> np.ndarray:
    """Offsets of ``skimage.morphology.disk(radius)`` sorted by squared length.

    Returns:
        int64 ``(n, 3)``: ``(dy, dx, dy^2 + dx^2)`` for every ``dy^2 + dx^2 <= radius^2``.
    """
    r = int(radius)
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    d2 = dy * dy + dx * dx
    keep = d2 <= r * r
    table = np.stack([dy[keep], dx[keep], d2[keep]], axis=1).astype(np.int64)
    return table[np.argsort(table[:, 2], kind="stable")]


@numba.njit(cache=True, nogil=True)
def _class_boundaries(m, none, cls, cnt, count):
    """seg2bmap of every class of the map ``m`` at once.

    ``cls[y, x, :cnt[y, x]]`` = the classes whose boundary holds ``(y, x)``; ``count[c]`` += size of
    class ``c``'s boundary. ``none`` marks pixels of no evaluated class.
    """
    h, w = m.shape
    for y in range(h):
        for x in range(w):
            a = m[y, x]
            n = 0
            if y < h - 1 and x < w - 1:
                b = m[y, x + 1]
                c = m[y + 1, x]
                d = m[y + 1, x + 1]
                if a != b or a != c or a != d:
                    if a != none:
                        cls[y, x, n] = a
                        n += 1
                    if b != none and b != a:
                        cls[y, x, n] = b
                        n += 1
                    if c != none and c != a and c != b:
                        cls[y, x, n] = c
                        n += 1
                    if d != none and d != a and d != b and d != c:
                        cls[y, x, n] = d
                        n += 1
            elif y == h - 1 and x < w - 1:
                b = m[y, x + 1]
                if a != b:
                    if a != none:
                        cls[y, x, n] = a
                        n += 1
                    if b != none:
                        cls[y, x, n] = b
                        n += 1
            elif x == w - 1 and y < h - 1:
                c = m[y + 1, x]
                if a != c:
                    if a != none:
                        cls[y, x, n] = a
                        n += 1
                    if c != none:
                        cls[y, x, n] = c
                        n += 1
            cnt[y, x] = n
            for i in range(n):
                count[cls[y, x, i]] += 1


@numba.njit(cache=True, nogil=True)
def _match(cls_a, cnt_a, cls_b, cnt_b, offsets, radii_sq, matched):
    """For every boundary entry (pixel, class) of map A: is a boundary pixel of the same class in
    map B within each radius? ``matched[c, j]`` += 1 when it is within ``radii_sq[j]``."""
    h, w = cnt_a.shape
    n_off = offsets.shape[0]
    n_t = radii_sq.shape[0]
    for y in range(h):
        for x in range(w):
            for i in range(cnt_a[y, x]):
                c = cls_a[y, x, i]
                best = -1
                for o in range(n_off):
                    qy = y + offsets[o, 0]
                    qx = x + offsets[o, 1]
                    if qy < 0 or qy >= h or qx < 0 or qx >= w:
                        continue
                    found = False
                    for k in range(cnt_b[qy, qx]):
                        if cls_b[qy, qx, k] == c:
                            found = True
                            break
                    if found:
                        best = offsets[o, 2]
                        break
                if best >= 0:
                    for j in range(n_t):
                        if best <= radii_sq[j]:
                            matched[c, j] += 1


@numba.njit(cache=True, nogil=True)
def _evaluated_map(values, gt, k, out):
    """``out`` = ``values`` where it is a class ``0..k-1`` and ``gt`` is not ignore, else ``k``."""
    h, w = gt.shape
    for y in range(h):
        for x in range(w):
            g = gt[y, x]
            v = values[y, x]
            out[y, x] = v if (0 <= g < k and 0 <= v < k) else k


def boundary_counts(
    pred: np.ndarray, gt: np.ndarray, num_classes: int, thresholds=BOUNDARY_THRESHOLDS
) -> dict:
    """Boundary pixel counts and matched counts of one image (the fast path; see module doc).

    Returns:
        dict of int64 arrays: ``n_pred (K,)``, ``n_gt (K,)`` boundary sizes; ``matched_pred
        (K, T)`` prediction boundary pixels within ``r_t`` of the ground-truth boundary of their
        class; ``matched_gt (K, T)`` likewise the other way round.
    """
    pred, gt = check_pair(pred, gt)
    k = check_num_classes(num_classes)
    h, w = gt.shape
    pred, gt = np.ascontiguousarray(pred), np.ascontiguousarray(gt)
    mp = np.empty((h, w), dtype=np.uint16)
    mg = np.empty((h, w), dtype=np.uint16)
    _evaluated_map(pred, gt, k, mp)
    _evaluated_map(gt, gt, k, mg)
    radii = np.array([boundary_radius(t, gt.shape) for t in thresholds], dtype=np.int64)
    offsets = disk_offsets(int(radii.max()) if radii.size else 0)
    out = {}
    maps = {}
    for name, m in (("pred", mp), ("gt", mg)):
        cls = np.empty((h, w, 4), dtype=np.uint16)
        cnt = np.empty((h, w), dtype=np.uint8)
        count = np.zeros(k + 1, dtype=np.int64)
        _class_boundaries(m, np.uint16(k), cls, cnt, count)
        maps[name] = (cls, cnt)
        out[f"n_{name}"] = count[:k]
    for a, b in (("pred", "gt"), ("gt", "pred")):
        matched = np.zeros((k + 1, len(radii)), dtype=np.int64)
        _match(maps[a][0], maps[a][1], maps[b][0], maps[b][1], offsets, radii * radii, matched)
        out[f"matched_{a}"] = matched[:k]
    return out


def boundary_f_image(
    pred: np.ndarray, gt: np.ndarray, num_classes: int, thresholds=BOUNDARY_THRESHOLDS
) -> np.ndarray:
    """Per-class boundary F of one image (targets.md section 8), fast and exact.

    Args:
        pred: (H, W) integer predicted train ids.
        gt: (H, W) integer ground-truth train ids (outside ``0..K-1`` = ignore).
        num_classes: ``K``.
        thresholds: fractions of the image diagonal (or pixels when ``>= 1``).

    Returns:
        float64 ``(K, T)``: F per class and threshold; identical to
        :func:`boundary_f_image_reference`.
    """
    c = boundary_counts(pred, gt, num_classes, thresholds)
    n_pred = c["n_pred"][:, None]
    n_gt = c["n_gt"][:, None]
    return _precision_recall_f(n_pred, n_gt, c["matched_pred"], c["matched_gt"])[2]
