"""Dataset accumulator of the boundary-region scores: Boundary IoU and trimap IoU.

:class:`RegionMetrics` says which of them to compute (and their widths); :class:`RegionScore`
sums their counts one image at a time, as :class:`~.score.SegmentationScore` sums the confusion
(it holds one when given ``regions=``). Definitions in :mod:`.boundary_iou` and :mod:`.trimap`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .boundary_iou import BIOU_DILATION_RATIO, biou_dilation, boundary_iou_counts, boundary_iou_from_counts
from .chessboard import other_label_distance
from .confusion import check_num_classes, check_pair
from .trimap import check_widths, ring_confusion, trimap_iou


@dataclass(frozen=True)
class RegionMetrics:
    """Which boundary-region scores to compute.

    Attributes:
        biou: Boundary IoU.
        biou_px: its ``d`` in pixels for every image; None: ``round(biou_ratio * diagonal)`` per
            image size (the authors' default, 0.02).
        biou_ratio: ``d`` as a fraction of the image diagonal when ``biou_px`` is None.
        trimap_px: trimap band widths in pixels to report (empty: no trimap IoU).
        curve_px: also keep the trimap curve (mIoU of every band width) up to this width, for the
            ``--plots`` figure; the curve always reaches ``max(trimap_px)``.
    """

    biou: bool = False
    biou_px: int | None = None
    biou_ratio: float = BIOU_DILATION_RATIO
    trimap_px: tuple[int, ...] = ()
    curve_px: int = 0

    def __post_init__(self):
        if self.biou_px is not None and (int(self.biou_px) != self.biou_px or self.biou_px < 1):
            raise ValueError(f"biou_px must be an integer >= 1 pixel, got {self.biou_px!r}")
        if not self.biou_ratio > 0:
            raise ValueError(f"biou_ratio must be > 0, got {self.biou_ratio!r}")
        object.__setattr__(self, "trimap_px", check_widths(self.trimap_px) if self.trimap_px else ())
        if int(self.curve_px) != self.curve_px or self.curve_px < 0:
            raise ValueError(f"curve_px must be an integer >= 0, got {self.curve_px!r}")

    @property
    def rings(self) -> int:
        """How many distance rings to count: the widest band or curve width (0: no trimap)."""
        return max((*self.trimap_px, int(self.curve_px)), default=0)

    def dilation(self, shape: tuple[int, int]) -> int:
        """Boundary IoU's ``d`` in pixels for an image of this (H, W)."""
        return int(self.biou_px) if self.biou_px is not None else biou_dilation(shape, self.biou_ratio)


class RegionScore:
    """Sums Boundary IoU intersections / unions and trimap ring confusions over a dataset.

    Example (a 4 x 6 map, class 0 left of class 1; the prediction moves the edge one column right;
    with d = 1 class 0's boundary regions hold 10 (truth) and 12 (prediction) pixels, 8 shared):
        >>> import numpy as np
        >>> gt = np.zeros((4, 6), np.uint8); gt[:, 3:] = 1
        >>> pred = gt.copy(); pred[:, 3] = 0
        >>> score = RegionScore(2, RegionMetrics(biou=True, biou_px=1, trimap_px=(1,)))
        >>> score.update(pred, gt)        # (H, W) integer train ids each; call once per image
        >>> res = score.result(["road", "car"])
        >>> round(res["class_boundary_iou"]["road"], 4), res["class_boundary_iou"]["car"]   # 8/14, 6/12
        (0.5714, 0.5)
    """

    def __init__(self, num_classes: int, metrics: RegionMetrics):
        self.num_classes = check_num_classes(num_classes)
        self.metrics = metrics
        k = self.num_classes
        self.inter = np.zeros(k, dtype=np.int64)
        self.union = np.zeros(k, dtype=np.int64)
        self.rings = np.zeros((metrics.rings, k, k + 1), dtype=np.int64)
        self.dilations: dict[tuple[int, int], int] = {}

    def update(self, pred: np.ndarray, gt: np.ndarray) -> None:
        """Add one image: (H, W) integer predicted and ground-truth train ids."""
        pred, gt = check_pair(pred, gt)
        dg = other_label_distance(gt, border=False)  # both scores start from it
        if self.metrics.biou:
            shape = (int(gt.shape[0]), int(gt.shape[1]))
            d = self.dilations.setdefault(shape, self.metrics.dilation(shape))
            i, u = boundary_iou_counts(pred, gt, self.num_classes, d, gt_distance=dg)
            self.inter += i
            self.union += u
        if self.metrics.rings:
            self.rings += ring_confusion(pred, gt, self.num_classes, self.metrics.rings, gt_distance=dg)

    def result(self, names: list[str]) -> dict:
        """The scores (fractions in [0, 1]; None where a class has an empty union / band).

        Returns:
            with Boundary IoU: ``boundary_iou`` (mean over the classes with a non-empty union),
            ``class_boundary_iou`` ``{name: float or None}``, ``boundary_iou_px`` ``{"HxW": d}``
            and ``boundary_iou_ratio`` (None when ``biou_px`` fixed ``d``); with trimap widths:
            ``trimap_px``, ``trimap_iou`` ``{"w": mean}`` and ``class_trimap_iou``
            ``{"w": {name: float or None}}``; whenever rings are counted, ``trimap_curve``
            ``{"width_px": [1..R], "miou": [...]}``.
        """
        m = self.metrics
        out: dict = {}
        if m.biou:
            biou, mean = boundary_iou_from_counts(self.inter, self.union)
            out["boundary_iou"] = _num(mean)
            out["class_boundary_iou"] = {n: _num(v) for n, v in zip(names, biou)}
            out["boundary_iou_px"] = {f"{h}x{w}": d for (h, w), d in sorted(self.dilations.items())}
            out["boundary_iou_ratio"] = None if m.biou_px is not None else float(m.biou_ratio)
        if m.trimap_px:
            ious, means = trimap_iou(self.rings, m.trimap_px)
            out["trimap_px"] = list(m.trimap_px)
            out["trimap_iou"] = {str(w): _num(v) for w, v in zip(m.trimap_px, means)}
            out["class_trimap_iou"] = {str(w): {n: _num(v) for n, v in zip(names, ious[j])}
                                       for j, w in enumerate(m.trimap_px)}
        if m.rings:
            widths = tuple(range(1, m.rings + 1))
            out["trimap_curve"] = {"width_px": list(widths),
                                   "miou": [_num(v) for v in trimap_iou(self.rings, widths)[1]]}
        return out


def _num(v):
    return None if v is None or math.isnan(v) else float(v)
