"""The method itself: label map -> distance, boundary band and direction targets.

* :mod:`.edt`: exact multi-label Euclidean distance transform (numba).
* :mod:`.gradient`: the label-masked direction filter, in the paper's and the authors' orders.
* :mod:`.direction`: angle -> bin -> offset tables and flips of bins.
* :mod:`.core`: :class:`Targets`, :func:`semantic_targets`, :func:`instance_targets`, the presets.
"""
from .core import PRESETS, Targets, instance_targets, min_distance_bound, resolve_params, semantic_targets
from .direction import (DIRECTION_IGNORE, SUPPORTED_DIRECTIONS, angle_to_bin, bin_centres, bin_offsets,
                        flip_bins, flip_direction_map)
from .edt import multilabel_distance, multilabel_sqdist

__all__ = ["PRESETS", "Targets", "semantic_targets", "instance_targets", "min_distance_bound",
           "resolve_params", "DIRECTION_IGNORE",
           "SUPPORTED_DIRECTIONS", "angle_to_bin", "bin_centres", "bin_offsets", "flip_bins",
           "flip_direction_map", "multilabel_distance", "multilabel_sqdist"]
