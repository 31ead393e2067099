"""Confusion matrix and mIoU of label maps, as the Cityscapes benchmark computes them.

One confusion matrix over the whole dataset, ground-truth ignore pixels left out,
``IoU_c = TP / (TP + FP + FN)`` where a prediction that is no evaluated class still counts as a false
negative of the ground-truth class, and the mean over the classes whose denominator is non-zero
(``docs/targets.md`` section 8; user docs in ``docs/evaluation.md``).

Ground-truth values outside ``0 .. K-1`` (255 in practice) are ignore; predicted values outside
``0 .. K-1`` are "no evaluated class".
"""
from __future__ import annotations

import numba
import numpy as np


def check_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if gt.ndim != 2:
        raise ValueError(f"gt must be a 2-D (H, W) label map, got shape {gt.shape}")
    if pred.shape != gt.shape:
        raise ValueError(f"pred must have the ground truth's shape {gt.shape}, got {pred.shape}")
    for name, arr in (("pred", pred), ("gt", gt)):
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name} must be an integer label map, got dtype {arr.dtype}")
    return pred, gt


def check_num_classes(num_classes: int) -> int:
    if int(num_classes) != num_classes or not 1 <= num_classes < 65535:
        raise ValueError(f"num_classes must be an integer in 1..65534, got {num_classes!r}")
    return int(num_classes)


# ----------------------------------------------------------------------------- mIoU


def confusion_matrix(pred: np.ndarray, gt: np.ndarray, num_classes: int) -> np.ndarray:
    """Confusion counts of one image.

    Args:
        pred: (H, W) integer predicted train ids; values outside ``0..K-1`` are "no class".
        gt: (H, W) integer ground-truth train ids; values outside ``0..K-1`` are ignore.
        num_classes: ``K``.

    Returns:
        int64 ``(K, K + 1)``: ``[g, p]`` = pixels of ground truth ``g`` predicted ``p``; the last
        column counts pixels predicted as no evaluated class.
    """
    pred, gt = check_pair(pred, gt)
    k = check_num_classes(num_classes)
    conf = np.zeros((k, k + 1), dtype=np.int64)
    _confusion(np.ascontiguousarray(pred), np.ascontiguousarray(gt), k, conf)
    return conf


@numba.njit(cache=True, nogil=True)
def _confusion(pred, gt, k, conf):
    h, w = gt.shape
    for y in range(h):
        for x in range(w):
            g = gt[y, x]
            if g < 0 or g >= k:
                continue
            p = pred[y, x]
            conf[g, p if 0 <= p < k else k] += 1


def iou_from_confusion(conf: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-class IoU and their mean from a ``(K, K + 1)`` (or ``(K, K)``) confusion matrix.

    ``TP = conf[c, c]``, ``FN = row sum - TP`` (all predictions, "no class" included),
    ``FP = column sum over ground-truth classes - TP``.

    Returns:
        (float64 ``(K,)`` IoU, NaN where ``TP + FP + FN == 0``; the mean over the non-NaN
        classes, NaN when there is none).
    """
    conf = np.asarray(conf, dtype=np.int64)
    if conf.ndim != 2 or conf.shape[1] not in (conf.shape[0], conf.shape[0] + 1):
        raise ValueError(f"conf must have shape (K, K) or (K, K + 1), got {conf.shape}")
    k = conf.shape[0]
    tp = np.diagonal(conf[:, :k]).astype(np.int64)
    fn = conf.sum(axis=1) - tp
    fp = conf[:, :k].sum(axis=0) - tp
    denom = tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(denom > 0, tp / np.maximum(denom, 1), np.nan)
    valid = ~np.isnan(iou)
    miou = float(iou[valid].mean()) if valid.any() else float("nan")
    return iou, miou
