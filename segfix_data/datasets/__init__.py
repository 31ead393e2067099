"""What is on disk: dataset layouts -> :class:`Frame` records, label id tables, reading files.

* :mod:`.layouts`: :data:`LAYOUTS` and :func:`find_frames`, dispatching to one small module per
  family (:mod:`.cityscapes`, :mod:`.ade20k`, :mod:`.gta5`, :mod:`.folder`).
* :mod:`.frame`: the :class:`Frame` record and the layout errors.
* :mod:`.labels`: id tables and conversions (Cityscapes, ADE20K, GTA5).
* :mod:`.io`: PNG reading with checks that name the file; :func:`frame_key`, the name refinement
  and evaluation match files by.
"""
from .ade20k import ade20k_frames
from .cityscapes import cityscapes_frames
from .folder import folder_frames
from .frame import Frame, FrameError, LayoutError
from .gta5 import gta5_frames
from .io import frame_key, image_size, load_class_map, read_image, read_instance_ids, read_label
from .layouts import LAYOUTS, find_frames

__all__ = ["LAYOUTS", "Frame", "FrameError", "LayoutError", "find_frames", "cityscapes_frames",
           "ade20k_frames", "gta5_frames", "folder_frames", "frame_key", "image_size",
           "load_class_map", "read_image", "read_instance_ids", "read_label"]
