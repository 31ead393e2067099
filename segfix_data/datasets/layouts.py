"""Which layouts exist and :func:`find_frames`, the one entry point that dispatches to them.

* :func:`~segfix_data.datasets.cityscapes.cityscapes_frames`: ``gtFine/<split>/<city>/*_gtFine_labelIds.png``
  (+ ``instanceIds``), images ``leftImg8bit/<split>/<city>/*_leftImg8bit.png``.
* :func:`~segfix_data.datasets.ade20k.ade20k_frames`: ``ADEChallengeData2016/{images,annotations}/<split>/``.
* :func:`~segfix_data.datasets.gta5.gta5_frames`: ``images/*.png`` and ``labels/*.png`` paired by name.
* :func:`~segfix_data.datasets.folder.folder_frames`: an image glob and a label glob paired by stem
  (or by suffix).
* :func:`~segfix_data.datasets.voc.voc_frames`: PASCAL VOC 2012, ``ImageSets/Segmentation/<split>.txt``.
* :func:`~segfix_data.datasets.mmseg.mmseg_frames`: ``img_dir/<split>`` and ``ann_dir/<split>`` paired
  by ``img_suffix`` / ``seg_suffix``.

A split where no frame pairs raises :class:`LayoutError` listing a few unpaired files of each side
and the pairing rule (never an empty build).
"""
from __future__ import annotations

import os

from .ade20k import ade20k_frames
from .cityscapes import cityscapes_frames
from .folder import folder_frames
from .frame import Frame
from .gta5 import gta5_frames
from .mmseg import mmseg_frames
from .voc import voc_frames
from ._pairing import nothing_paired

LAYOUTS = ("cityscapes", "ade20k", "gta5", "folder", "voc", "mmseg")


def find_frames(layout: str, root: str | os.PathLike, split: str, *, image_glob: str | None = None,
                label_glob: str | None = None, img_suffix: str | None = None,
                seg_suffix: str | None = None, images: bool = True) -> tuple[list[Frame], list[dict]]:
    """Dispatch to the layout's function; always returns ``(frames, unpaired)``.

    Args:
        image_glob, label_glob: folder layout.
        img_suffix, seg_suffix: mmseg and folder layouts: pair files by name minus these endings.
        images: False: labels only, no image file or image folder required.
    """
    if layout == "voc":
        return voc_frames(root, split, images=images)
    if layout == "mmseg":
        return mmseg_frames(root, split, img_suffix=img_suffix, seg_suffix=seg_suffix, images=images)
    if layout == "cityscapes":
        return cityscapes_frames(root, split, images=images), []
    if layout == "ade20k":
        return ade20k_frames(root, split), []
    if layout == "gta5":
        frames, unpaired = gta5_frames(root, split, images=images)
        if not frames:
            raise nothing_paired(str(root), "images/<name>.png with labels/<name>.png", unpaired,
                                 "give each image its label under the same file name")
        return frames, unpaired
    if layout == "folder":
        if not image_glob or not label_glob:
            raise ValueError("layout 'folder' needs --image-glob and --label-glob")
        return folder_frames(root, split, image_glob, label_glob, img_suffix=img_suffix,
                             seg_suffix=seg_suffix, images=images)
    raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
