"""Scores: confusion matrix and mIoU, boundary F-score, and scoring a directory of predictions.

* :mod:`.confusion`: confusion matrix and mIoU as the Cityscapes benchmark computes them.
* :mod:`.boundary`: the boundary F-score as the authors compute it (without dilation).
* :mod:`.boundary_iou`: Boundary IoU per class (Cheng et al. 2021's ``mask_to_boundary``).
* :mod:`.trimap`: trimap IoU, mIoU within bands around the ground-truth boundaries.
* :mod:`.chessboard`: the distance to another label that gives both all classes' regions at once.
* :mod:`.region_score`: :class:`RegionMetrics` / :class:`RegionScore`, their dataset accumulator.
* :mod:`.score`: :class:`SegmentationScore`, the dataset accumulator.
* :mod:`.directory`: ``segfix eval``: match prediction files to ground truth and score them.
* :mod:`.report`: tables of those scores and their deltas against a baseline.
* :mod:`.plots`: ``segfix eval --plots`` figures (matplotlib, imported when used).
* :mod:`.instances`: ``segfix eval --instances``, Cityscapes instance AP (the official evaluator).
"""
from .boundary import BOUNDARY_THRESHOLDS, boundary_f_image, boundary_radius, seg2bmap
from .boundary_iou import biou_dilation, boundary_iou_counts, boundary_iou_from_counts
from .confusion import confusion_matrix, iou_from_confusion
from .region_score import RegionMetrics, RegionScore
from .score import SegmentationScore
from .trimap import TRIMAP_WIDTHS, ring_confusion, trimap_iou

__all__ = ["BOUNDARY_THRESHOLDS", "SegmentationScore", "boundary_f_image", "boundary_radius",
           "confusion_matrix", "iou_from_confusion", "seg2bmap", "biou_dilation", "boundary_iou_counts",
           "boundary_iou_from_counts", "RegionMetrics", "RegionScore", "TRIMAP_WIDTHS", "ring_confusion",
           "trimap_iou"]
