"""segfix_data: SegFix ground-truth targets, shards, refinement and metrics.

numpy / numba / h5py only: this package never imports torch. The subpackages, bottom to top
(``docs/architecture.md`` has the map):

* :mod:`.targets`: label map -> distance, boundary, direction (the method).
* :mod:`.datasets`: dataset layouts, label id tables, reading files.
* :mod:`.shards`: the HDF5 cache: build, read, verify, export.
* :mod:`.refine`: offsets -> refined label maps and instance masks.
* :mod:`.metrics`: mIoU and boundary F; scoring a directory.
* :mod:`.inspect`: pictures and statistics of targets.
* :mod:`.synthetic`: generated scenes and the example dataset.
* :mod:`.interop` (the authors' ``.mat`` files) and :mod:`.atomic` (atomic file publishing).
* :mod:`.version`: ``__version__``, the one place the version is written (``setup.cfg`` reads it).
"""
from .metrics import SegmentationScore
from .refine import refine_labels, refine_masks
from .shards import ShardSet
from .targets import PRESETS, Targets, instance_targets, semantic_targets
from .version import __version__

__all__ = ["PRESETS", "Targets", "instance_targets", "semantic_targets", "ShardSet", "refine_labels",
           "refine_masks", "SegmentationScore", "__version__"]
