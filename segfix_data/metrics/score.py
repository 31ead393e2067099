"""Dataset scores: :class:`SegmentationScore` accumulates mIoU and boundary F one image at a time."""
from __future__ import annotations

import math

import numpy as np

from .boundary import BOUNDARY_THRESHOLDS, boundary_f_image
from .confusion import check_num_classes, confusion_matrix, iou_from_confusion


class SegmentationScore:
    """Accumulates mIoU and boundary F over a dataset, one image at a time.

    Example:
        >>> score = SegmentationScore(num_classes=19)
        >>> for pred, gt in pairs:            # (H, W) integer train ids each
        ...     score.update(pred, gt)
        >>> score.result(class_names)["miou"]
    """

    def __init__(self, num_classes: int, thresholds=BOUNDARY_THRESHOLDS, boundary: bool = True):
        self.num_classes = check_num_classes(num_classes)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.boundary = bool(boundary)
        self.conf = np.zeros((self.num_classes, self.num_classes + 1), dtype=np.int64)
        self.f_sum = np.zeros((self.num_classes, len(self.thresholds)), dtype=np.float64)
        self.num_images = 0

    def update(self, pred: np.ndarray, gt: np.ndarray) -> None:
        """Add one image: (H, W) integer predicted and ground-truth train ids."""
        self.conf += confusion_matrix(pred, gt, self.num_classes)
        if self.boundary:
            self.f_sum += boundary_f_image(pred, gt, self.num_classes, self.thresholds)
        self.num_images += 1

    def result(self, class_names=None) -> dict:
        """Scores so far.

        Returns:
            ``{"miou": float, "class_iou": {name: float or None}, "boundary_f": {"t": float},
            "class_boundary_f": {"t": {name: float}}, "num_images": int}``; IoU of a class with a
            zero denominator is None (left out of the mean). Scores are fractions in [0, 1].
        """
        names = list(class_names) if class_names is not None else [str(c) for c in range(self.num_classes)]
        if len(names) != self.num_classes:
            raise ValueError(f"class_names must have {self.num_classes} names, got {len(names)}")
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
        return res


def _num(v: float):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) or np.isnan(v) else float(v)


def _tkey(t: float) -> str:
    """Threshold as a JSON key: ``0.0003 -> "0.0003"``."""
    return repr(float(t)) if t < 1 else str(int(t)) if float(t).is_integer() else repr(float(t))
