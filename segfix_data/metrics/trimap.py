"""Trimap IoU: mIoU on the pixels near a ground-truth boundary, per band width (numba).

Definition (user docs in ``docs/evaluation.md``): the distance of a pixel to the ground-truth
boundary is the chessboard (L-inf) distance to the nearest pixel with another ground-truth label
(ignore counts as a label; the image border is no boundary):
:func:`segfix_data.metrics.chessboard.other_label_distance` of the ground truth. The trimap band of
width ``w`` pixels holds the pixels at distance ``<= w``: those with a pixel of another label in
their ``(2w + 1) x (2w + 1)`` square, ``w`` pixels on each side of every label edge (width 1: the
pixels with an 8-neighbour of another label). Trimap IoU at ``w`` is mIoU (one confusion over the
dataset, ground-truth ignore pixels left out, :func:`~.confusion.iou_from_confusion`) computed on
the band's pixels only.

One pass per image counts a confusion matrix per distance ring ``1 .. max_px`` (pixels farther
away are not counted); the band of width ``w`` is the sum of rings ``1 .. w``
(:func:`band_confusion`), so every width and the whole curve come from the same counts.
"""
from __future__ import annotations

import numba
import numpy as np

from .chessboard import distance_unless_given
from .confusion import check_num_classes, check_pair, iou_from_confusion

#: Band widths reported by default, in pixels.
TRIMAP_WIDTHS = (1, 3, 5, 10)


@numba.njit(cache=True, nogil=True)
def _ring_confusion(pred, gt, dist, k, max_px, conf):
    h, w = gt.shape
    for y in range(h):
        for x in range(w):
            r = dist[y, x]
            if r > max_px:
                continue
            g = gt[y, x]
            if g < 0 or g >= k:
                continue
            p = pred[y, x]
            conf[r - 1, g, p if 0 <= p < k else k] += 1


def ring_confusion(pred: np.ndarray, gt: np.ndarray, num_classes: int, max_px: int,
                   gt_distance: np.ndarray | None = None) -> np.ndarray:
    """Confusion counts of one image by chessboard distance to the ground-truth boundary.

    Args:
        pred: (H, W) integer predicted train ids (outside ``0..K-1`` = no evaluated class).
        gt: (H, W) integer ground-truth train ids (outside ``0..K-1`` = ignore).
        num_classes: ``K``.
        max_px: the widest band needed, pixels (>= 1).
        gt_distance: ``other_label_distance(gt, border=False)`` when the caller has it already.

    Returns:
        int64 ``(max_px, K, K + 1)``: ``[r - 1]`` is the confusion (as
        :func:`~.confusion.confusion_matrix`) of the pixels at distance exactly ``r``.
    """
    pred, gt = check_pair(pred, gt)
    k = check_num_classes(num_classes)
    max_px = check_widths((max_px,))[0]
    conf = np.zeros((max_px, k, k + 1), dtype=np.int64)
    if gt.size:
        dist = distance_unless_given(gt, gt_distance)
        _ring_confusion(np.ascontiguousarray(pred), np.ascontiguousarray(gt), dist, k, max_px, conf)
    return conf


def band_confusion(rings: np.ndarray, width: int) -> np.ndarray:
    """int64 ``(K, K + 1)``: the confusion of the band of ``width`` pixels (rings ``1..width``)."""
    rings = np.asarray(rings, dtype=np.int64)
    if not 1 <= width <= rings.shape[0]:
        raise ValueError(f"band width {width} outside the counted rings 1..{rings.shape[0]}")
    return rings[:width].sum(axis=0)


def trimap_iou(rings: np.ndarray, widths=TRIMAP_WIDTHS) -> tuple[np.ndarray, np.ndarray]:
    """Per-class trimap IoU and their mean for each width.

    Args:
        rings: ``(R, K, K + 1)`` ring confusions (:func:`ring_confusion`, summed over images).
        widths: band widths in pixels, each ``<= R``.

    Returns:
        (float64 ``(len(widths), K)`` IoU, NaN for a class absent from the band's ground truth
        and predictions; float64 ``(len(widths),)`` means over the non-NaN classes).
    """
    rings = np.asarray(rings, dtype=np.int64)
    ious, means = [], []
    for w in check_widths(widths):
        iou, miou = iou_from_confusion(band_confusion(rings, w))
        ious.append(iou)
        means.append(miou)
    return np.array(ious, dtype=np.float64).reshape(len(ious), rings.shape[1]), np.array(means, dtype=np.float64)


def check_widths(widths) -> tuple[int, ...]:
    """The band widths as a tuple of ints >= 1 (a ValueError otherwise)."""
    out = tuple(int(w) for w in widths)
    if not out or any(w < 1 or w != v for w, v in zip(out, widths)):
        raise ValueError(f"trimap band widths must be integers >= 1 pixel, got {tuple(widths)!r}")
    return out
