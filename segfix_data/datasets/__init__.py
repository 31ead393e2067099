"""What is on disk: dataset layouts -> :class:`Frame` records, label id tables, reading files.

* :mod:`.layouts`: :data:`LAYOUTS` and :func:`find_frames`, dispatching to one small module per
  family (:mod:`.cityscapes`, :mod:`.ade20k`, :mod:`.gta5`, :mod:`.folder`, :mod:`.voc`,
  :mod:`.mmseg`); split lists and suffix pairing shared by the last three live in :mod:`._pairing`.
* :mod:`.frame`: the :class:`Frame` record and the layout errors.
* :mod:`.labels`: id tables and conversions (Cityscapes, ADE20K, GTA5, VOC, mmseg), class names.
* :mod:`.instance_list`: :func:`read_instance_list`, Cityscapes instance results (``.txt`` lists).
* :mod:`.io`: PNG reading with checks that name the file; :func:`frame_key`, the name refinement
  and evaluation match files by.
* :mod:`.images`: one split's images of a layout (``segfix predict --layout``) and which files
  below a plain folder are label maps (never fed to a model).
"""
from .ade20k import ade20k_frames
from .cityscapes import cityscapes_frames
from .folder import folder_frames
from .frame import Frame, FrameError, LayoutError
from .gta5 import gta5_frames
from .instance_list import read_instance_list
from .io import frame_key, image_size, load_class_map, read_image, read_instance_ids, read_label
from .layouts import (DEFAULT_SPLITS, EVAL_SPLITS, LAYOUTS, available_splits, find_frames, normalise_split,
                      resolve_split, splits_present)
from .mmseg import mmseg_frames
from .voc import voc_frames
from ._pairing import split_list_file, split_name

__all__ = ["LAYOUTS", "DEFAULT_SPLITS", "EVAL_SPLITS", "available_splits", "normalise_split",
           "resolve_split", "splits_present", "Frame", "FrameError", "LayoutError", "find_frames",
           "cityscapes_frames", "ade20k_frames", "gta5_frames", "folder_frames", "voc_frames", "mmseg_frames",
           "split_name", "split_list_file", "frame_key", "read_instance_list", "image_size",
           "load_class_map", "read_image", "read_instance_ids", "read_label"]
