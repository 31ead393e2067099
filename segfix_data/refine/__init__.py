"""Offsets -> refined label maps and instance masks; offsets files; refining a directory.

* :mod:`.shift`: the index shift on label maps and masks (numba).
* :mod:`.offsets`: the project's offsets files (``segfix predict`` output).
* :mod:`.directory`: offsets sources (predict, ``.mat``, shards) and ``segfix refine`` over a folder.
"""
from .directory import OffsetsSource, RefineReport, plan_directory, refine_directory, write_report
from .offsets import read_offsets, write_offsets
from .shift import (offsets_from_direction, refine_labels, refine_labels_with_offsets, refine_masks,
                    source_index_pairs)

__all__ = ["refine_labels", "refine_labels_with_offsets", "refine_masks", "offsets_from_direction",
           "source_index_pairs", "read_offsets", "write_offsets", "OffsetsSource", "RefineReport",
           "plan_directory", "refine_directory", "write_report"]
