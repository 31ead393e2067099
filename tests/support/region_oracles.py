"""Slow references of the boundary-region scores, written from their definitions, class by class.

Used by the tests of ``segfix_data.metrics.boundary_iou`` / ``trimap`` and by
``benchmarks/bench_refine.py`` (the baseline timed beside the fast path).

* :func:`mask_to_boundary_reference`: Boundary IoU's boundary region of one binary mask, the
  authors' recipe (zero ring, ``d`` erosions by a 3x3 square, the ring cropped) with
  ``scipy.ndimage.binary_erosion`` standing in for OpenCV's ``erode``. OpenCV treats pixels beyond
  the padded image as the maximum (they erode nothing): ``border_value=1``.
* :func:`mask_to_boundary_numpy`: the same with the erosion spelled out in numpy shifts, so the
  scipy call is itself checked.
* :func:`boundary_iou_reference`: per class, both maps' regions, ignore dropped, I and U.
* :func:`trimap_reference`: the band of width ``w`` as "a pixel of another ground-truth label in
  the ``(2w + 1)^2`` square", by shifting the map over every offset; the band's confusion.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_erosion


def mask_to_boundary_reference(mask: np.ndarray, d: int) -> np.ndarray:
    """bool (H, W): ``mask`` minus its erosion (zero padding of one pixel, ``d`` 3x3 erosions)."""
    mask = np.asarray(mask, bool)
    padded = np.pad(mask, 1, constant_values=False)
    eroded = binary_erosion(padded, structure=np.ones((3, 3), bool), iterations=int(d), border_value=1)
    return mask & ~eroded[1:-1, 1:-1]


def mask_to_boundary_numpy(mask: np.ndarray, d: int) -> np.ndarray:
    """:func:`mask_to_boundary_reference` with each erosion written out: a pixel of the padded
    mask survives one step iff its 3x3 neighbourhood (clipped to the padded image) is all set."""
    mask = np.asarray(mask, bool)
    cur = np.pad(mask, 1, constant_values=False)
    h, w = cur.shape
    for _ in range(int(d)):
        nxt = cur.copy()
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                shifted = np.ones_like(cur)  # outside the padded image: no erosion
                ys, yd = slice(max(dy, 0), h + min(dy, 0)), slice(max(-dy, 0), h + min(-dy, 0))
                xs, xd = slice(max(dx, 0), w + min(dx, 0)), slice(max(-dx, 0), w + min(-dx, 0))
                shifted[yd, xd] = cur[ys, xs]
                nxt &= shifted
        cur = nxt
    return mask & ~cur[1:-1, 1:-1]


def boundary_iou_reference(pred: np.ndarray, gt: np.ndarray, num_classes: int, d: int,
                           boundary=mask_to_boundary_reference) -> tuple[np.ndarray, np.ndarray]:
    """(int64 ``(K,)`` intersections, int64 ``(K,)`` unions) of one image, class by class: each
    region from the whole map, then ground-truth ignore pixels dropped from both."""
    pred, gt = np.asarray(pred), np.asarray(gt)
    k = int(num_classes)
    valid = (gt >= 0) & (gt < k)
    inter = np.zeros(k, np.int64)
    union = np.zeros(k, np.int64)
    for c in range(k):
        g = boundary(gt == c, d) & valid
        p = boundary(pred == c, d) & valid
        inter[c] = int((g & p).sum())
        union[c] = int((g | p).sum())
    return inter, union


def trimap_band_reference(gt: np.ndarray, width: int) -> np.ndarray:
    """bool (H, W): pixels with a pixel of another ground-truth label (ignore included) at
    ``max(|dy|, |dx|) <= width``, inside the image."""
    gt = np.asarray(gt)
    h, w = gt.shape
    band = np.zeros(gt.shape, bool)
    for dy in range(-width, width + 1):
        for dx in range(-width, width + 1):
            if abs(dy) >= h or abs(dx) >= w:
                continue  # no pixel of the image at that offset
            ys, yd = slice(max(dy, 0), h + min(dy, 0)), slice(max(-dy, 0), h + min(-dy, 0))
            xs, xd = slice(max(dx, 0), w + min(dx, 0)), slice(max(-dx, 0), w + min(-dx, 0))
            band[yd, xd] |= gt[ys, xs] != gt[yd, xd]
    return band


def trimap_reference(pred: np.ndarray, gt: np.ndarray, num_classes: int, widths) -> dict[int, np.ndarray]:
    """``{w: int64 (K, K + 1)}``: the confusion (``[g, p]``, last column "no class") of the pixels
    of each band whose ground truth is a class."""
    pred, gt = np.asarray(pred).astype(np.int64), np.asarray(gt).astype(np.int64)
    k = int(num_classes)
    out = {}
    for w in widths:
        keep = trimap_band_reference(gt, int(w)) & (gt >= 0) & (gt < k)
        g, p = gt[keep], pred[keep]
        p = np.where((p >= 0) & (p < k), p, k)
        conf = np.zeros((k, k + 1), np.int64)
        np.add.at(conf, (g, p), 1)
        out[int(w)] = conf
    return out


def iou_reference(inter: np.ndarray, union: np.ndarray) -> tuple[list, float | None]:
    """Per-class ``I / U`` (None where ``U == 0``) and their mean over the others."""
    ious = [int(i) / int(u) if u else None for i, u in zip(inter, union)]
    valid = [v for v in ious if v is not None]
    return ious, (sum(valid) / len(valid) if valid else None)


def confusion_iou_reference(conf: np.ndarray) -> tuple[list, float | None]:
    """Cityscapes IoU from a ``(K, K + 1)`` confusion: ``TP / (TP + FP + FN)``, by the formula."""
    k = conf.shape[0]
    tp = np.array([conf[c, c] for c in range(k)])
    fn = conf.sum(axis=1) - tp
    fp = np.array([conf[:, c].sum() for c in range(k)]) - tp
    return iou_reference(tp, tp + fp + fn)
