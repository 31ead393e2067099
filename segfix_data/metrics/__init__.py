"""Scores: confusion matrix and mIoU, boundary F-score, and scoring a directory of predictions.

* :mod:`.confusion`: confusion matrix and mIoU as the Cityscapes benchmark computes them.
* :mod:`.boundary`: the boundary F-score as the authors compute it (without dilation).
* :mod:`.score`: :class:`SegmentationScore`, the dataset accumulator.
* :mod:`.directory`: ``segfix eval``: match prediction files to ground truth and score them.
* :mod:`.report`: tables of those scores and their deltas against a baseline.
* :mod:`.plots`: ``segfix eval --plots`` figures (matplotlib, imported when used).
* :mod:`.instances`: ``segfix eval --instances``, Cityscapes instance AP (the official evaluator).
"""
from .boundary import BOUNDARY_THRESHOLDS, boundary_f_image, boundary_radius, seg2bmap
from .confusion import confusion_matrix, iou_from_confusion
from .score import SegmentationScore

__all__ = ["BOUNDARY_THRESHOLDS", "SegmentationScore", "boundary_f_image", "boundary_radius",
           "confusion_matrix", "iou_from_confusion", "seg2bmap"]
