"""Boundary IoU of label maps, per class (Cheng et al., CVPR 2021, applied to semantic maps).

Definition (user docs in ``docs/evaluation.md``): for class ``c`` the boundary region of a binary
mask ``M`` is ``M`` minus its erosion by a 3x3 square ``d`` times, the mask padded with one ring of
zeros first (the authors' ``mask_to_boundary``: so the image border counts as boundary);
``d = max(1, round(0.02 * sqrt(H^2 + W^2)))`` by default (46 px at 2048x1024). The ground-truth
region ``G_c`` comes from ``gt == c`` and the predicted one ``P_c`` from ``pred == c``, each on the
whole map; then the pixels whose ground truth is ignore are dropped from both. Per image
``I_c = |G_c & P_c|`` and ``U_c = |G_c | P_c|``; both are summed over the dataset, as mIoU sums its
confusion, and ``BIoU_c = sum I_c / sum U_c``; the mean is over the classes with ``sum U_c > 0``.

Speed: all classes at once from one chessboard distance map per label map
(:func:`segfix_data.metrics.chessboard.other_label_distance`): a pixel of label ``c`` lies in
``c``'s boundary region iff its distance to another label or the padding ring is ``<= d``; the
ring's distance ``min(y + 1, x + 1, H - y, W - x)`` is taken in the counting pass, so the ground
truth's map (without the ring) serves the trimap too.
The per-class erosion it equals is the test oracle ``tests/support/region_oracles.py``.

Ground-truth values outside ``0 .. K-1`` (255 in practice) are ignore; predicted values outside
``0 .. K-1`` are "no evaluated class" (they are in no class's mask).
"""
from __future__ import annotations

import numba
import numpy as np

from .chessboard import distance_unless_given, other_label_distance
from .confusion import check_num_classes, check_pair

#: The authors' default ``dilation_ratio``: ``d`` as a fraction of the image diagonal.
BIOU_DILATION_RATIO = 0.02


def biou_dilation(shape: tuple[int, int], ratio: float = BIOU_DILATION_RATIO) -> int:
    """``d`` in pixels for an (H, W) image: ``max(1, int(round(ratio * sqrt(H^2 + W^2))))``,
    the authors' expression (Python's round, half to even)."""
    if not ratio > 0:
        raise ValueError(f"dilation ratio must be > 0, got {ratio!r}")
    h, w = int(shape[0]), int(shape[1])
    return max(1, int(round(ratio * np.sqrt(h ** 2 + w ** 2))))


def boundary_region(labels: np.ndarray, d: int) -> np.ndarray:
    """bool (H, W): pixels in the Boundary IoU region of their own label's mask (every label's
    ``mask_to_boundary`` with ``d`` erosions, at once)."""
    return other_label_distance(labels, border=True) <= _check_d(d)


@numba.njit(cache=True, nogil=True)
def _counts(pred, gt, dp, dg, k, d, inter, union):
    """``dp``, ``dg``: distances to another label without the ring; the ring is the distance
    ``min(y + 1, x + 1, H - y, W - x)``, taken here."""
    h, w = gt.shape
    for y in range(h):
        by = min(y + 1, h - y)
        for x in range(w):
            g = gt[y, x]
            if g < 0 or g >= k:
                continue
            p = pred[y, x]
            ring = min(by, x + 1, w - x) <= d
            in_g = ring or dg[y, x] <= d
            in_p = (ring or dp[y, x] <= d) and 0 <= p < k
            if in_g:
                union[g] += 1
            if in_p and not (in_g and p == g):
                union[p] += 1
            if in_g and in_p and p == g:
                inter[g] += 1


def boundary_iou_counts(pred: np.ndarray, gt: np.ndarray, num_classes: int, d: int,
                        gt_distance: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Intersections and unions of one image's per-class boundary regions.

    Args:
        pred: (H, W) integer predicted train ids.
        gt: (H, W) integer ground-truth train ids (outside ``0..K-1`` = ignore).
        num_classes: ``K``.
        d: erosions in pixels (>= 1), e.g. :func:`biou_dilation` of the image's shape.
        gt_distance: ``other_label_distance(gt, border=False)`` when the caller has it already
            (the trimap uses the same map).

    Returns:
        (int64 ``(K,)`` ``|G_c & P_c|``, int64 ``(K,)`` ``|G_c | P_c|``), ignore pixels left out.
    """
    pred, gt = check_pair(pred, gt)
    k = check_num_classes(num_classes)
    d = _check_d(d)
    inter = np.zeros(k, dtype=np.int64)
    union = np.zeros(k, dtype=np.int64)
    if gt.size:
        dp = other_label_distance(pred, border=False)
        dg = distance_unless_given(gt, gt_distance)
        _counts(np.ascontiguousarray(pred), np.ascontiguousarray(gt), dp, dg, k, d, inter, union)
    return inter, union


def boundary_iou_from_counts(inter: np.ndarray, union: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-class ``I / U`` (float64 ``(K,)``, NaN where ``U == 0``) and their mean over the classes
    with ``U > 0`` (NaN when there is none)."""
    inter = np.asarray(inter, dtype=np.int64)
    union = np.asarray(union, dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        biou = np.where(union > 0, inter / np.maximum(union, 1), np.nan)
    valid = union > 0
    return biou, (float(biou[valid].mean()) if valid.any() else float("nan"))


def _check_d(d) -> int:
    if int(d) != d or d < 1:
        raise ValueError(f"the Boundary IoU dilation d must be an integer >= 1 pixel, got {d!r}")
    return int(d)
