"""Dataset scores: :class:`SegmentationScore` accumulates mIoU and boundary F one image at a time."""
from __future__ import annotations

import math

import numpy as np

from .boundary import BOUNDARY_THRESHOLDS, boundary_f_image
from .confusion import check_num_classes, confusion_matrix, iou_from_confusion
from .region_score import RegionMetrics, RegionScore
from segfix_data.errors import InputError


class SegmentationScore:
    """Accumulates mIoU and boundary F over a dataset, one image at a time; with
    ``regions=RegionMetrics(biou=True, trimap_px=(1, 3, 5, 10))`` also Boundary IoU and trimap IoU.

    Example (IoU of road: 8 right of 9 claimed or true pixels; of car: 7 of 8):
        >>> import numpy as np
        >>> gt = np.array([[0, 0, 1, 1]] * 4)      # (H, W) integer train ids
        >>> pred = gt.copy(); pred[0, 2] = 0       # one car pixel predicted as road
        >>> score = SegmentationScore(num_classes=2)
        >>> score.update(pred, gt)                 # once per image
        >>> r = score.result(["road", "car"])
        >>> round(r["class_iou"]["road"], 4), round(r["class_iou"]["car"], 4), round(r["miou"], 4)
        (0.8889, 0.875, 0.8819)
    """

    def __init__(self, num_classes: int, thresholds=BOUNDARY_THRESHOLDS, boundary: bool = True,
                 regions: RegionMetrics | None = None):
        self.num_classes = check_num_classes(num_classes)
        # Boundary IoU / trimap IoU when asked (``regions``; keys in RegionScore.result)
        self.regions = RegionScore(self.num_classes, regions) if regions is not None else None
        self.thresholds = tuple(float(t) for t in thresholds)
        self.boundary = bool(boundary)
        self.conf = np.zeros((self.num_classes, self.num_classes + 1), dtype=np.int64)
        self.f_sum = np.zeros((self.num_classes, len(self.thresholds)), dtype=np.float64)
        self.f_present_sum = np.zeros_like(self.f_sum)
        self.present = np.zeros(self.num_classes, dtype=np.int64)
        self.num_images = 0

    def update(self, pred: np.ndarray, gt: np.ndarray) -> None:
        """Add one image: (H, W) integer predicted and ground-truth train ids."""
        conf = confusion_matrix(pred, gt, self.num_classes)
        self.conf += conf
        if self.boundary:
            f = boundary_f_image(pred, gt, self.num_classes, self.thresholds)
            here = present_from_confusion(conf)
            self.f_sum += f
            self.f_present_sum[here] += f[here]
            self.present += here
        if self.regions is not None:
            self.regions.update(pred, gt)
        self.num_images += 1

    def result(self, class_names=None) -> dict:
        """Scores so far.

        Returns:
            ``{"miou": float, "class_iou": {name: float or None}, "boundary_f": {"t": float},
            "class_boundary_f": {"t": {name: float}}, "boundary_f_present": {"t": float},
            "class_boundary_f_present": {"t": {name: float or None}}, "num_images": int}``; IoU of
            a class with a zero denominator is None (left out of the mean). Scores are fractions in
            [0, 1].

            ``boundary_f`` is the authors' mean: per class over all images (a class absent from
            an image's prediction and ground truth scores 1 there), then over classes.
            ``boundary_f_present`` averages each class over the images where it is present (in
            the ground truth or the prediction, on pixels that are not ignore), then over the
            classes present in at least one image (a class never present is None).
        """
        names = list(class_names) if class_names is not None else [str(c) for c in range(self.num_classes)]
        if len(names) != self.num_classes:
            raise InputError(f"class_names must have {self.num_classes} names, got {len(names)}")
        iou, miou = iou_from_confusion(self.conf)
        res = {
            "miou": _num(miou),
            "class_iou": {n: _num(v) for n, v in zip(names, iou)},
            "num_images": self.num_images,
        }
        if self.boundary:
            n = max(self.num_images, 1)
            per_class = self.f_sum / n
            res["boundary_f"] = {_tkey(t): float(per_class[:, j].mean()) for j, t in enumerate(self.thresholds)}
            res["class_boundary_f"] = {
                _tkey(t): {name: float(per_class[c, j]) for c, name in enumerate(names)}
                for j, t in enumerate(self.thresholds)
            }
            seen = self.present > 0
            pres = self.f_present_sum / np.maximum(self.present, 1)[:, None]
            res["boundary_f_present"] = {
                _tkey(t): (float(pres[seen, j].mean()) if seen.any() else None)
                for j, t in enumerate(self.thresholds)}
            res["class_boundary_f_present"] = {
                _tkey(t): {name: (float(pres[c, j]) if seen[c] else None) for c, name in enumerate(names)}
                for j, t in enumerate(self.thresholds)}
        if self.regions is not None:
            res.update(self.regions.result(names))
        return res


def present_classes(pred: np.ndarray, gt: np.ndarray, num_classes: int) -> np.ndarray:
    """bool ``(K,)``: classes in ``gt`` or ``pred`` on pixels whose ground truth is a class
    ``0..K-1`` (the pixels the boundary F evaluates)."""
    gt = np.asarray(gt).astype(np.int64, copy=False)
    pred = np.asarray(pred).astype(np.int64, copy=False)
    valid = (gt >= 0) & (gt < num_classes)
    p = pred[valid]
    p = p[(p >= 0) & (p < num_classes)]
    return (np.bincount(gt[valid], minlength=num_classes)[:num_classes] > 0) | (
        np.bincount(p, minlength=num_classes)[:num_classes] > 0)


def present_from_confusion(conf: np.ndarray) -> np.ndarray:
    """:func:`present_classes` of one image from its confusion matrix (``confusion_matrix``:
    ``(K, K + 1)``, rows the ground truth on pixels that are not ignore): a class is present when
    its row or its column (among the first ``K``) counts a pixel. The same answer without another
    pass over the pixels (which cost as much as the confusion matrix and the boundary F together)."""
    k = conf.shape[0]
    return (conf.sum(axis=1) > 0) | (conf[:, :k].sum(axis=0) > 0)


def _num(v: float):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) or np.isnan(v) else float(v)


def _tkey(t: float) -> str:
    """Threshold as a JSON key: ``0.0003 -> "0.0003"``."""
    return repr(float(t)) if t < 1 else str(int(t)) if float(t).is_integer() else repr(float(t))
