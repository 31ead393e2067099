"""Which layouts exist and :func:`find_frames`, the one entry point that dispatches to them.

* :func:`~segfix_data.datasets.cityscapes.cityscapes_frames`: ``gtFine/<split>/<city>/*_gtFine_labelIds.png``
  (+ ``instanceIds``), images ``leftImg8bit/<split>/<city>/*_leftImg8bit.png``.
* :func:`~segfix_data.datasets.ade20k.ade20k_frames`: ``ADEChallengeData2016/{images,annotations}/<split>/``.
* :func:`~segfix_data.datasets.gta5.gta5_frames`: ``images/*.png`` and ``labels/*.png`` paired by name.
* :func:`~segfix_data.datasets.folder.folder_frames`: an image glob and a label glob paired by stem.
"""
from __future__ import annotations

import os

from .ade20k import ade20k_frames
from .cityscapes import cityscapes_frames
from .folder import folder_frames
from .frame import Frame
from .gta5 import gta5_frames

LAYOUTS = ("cityscapes", "ade20k", "gta5", "folder")


def find_frames(layout: str, root: str | os.PathLike, split: str, *, image_glob: str | None = None,
                label_glob: str | None = None) -> tuple[list[Frame], list[dict]]:
    """Dispatch to the layout's function; always returns ``(frames, unpaired)``."""
    if layout == "cityscapes":
        return cityscapes_frames(root, split), []
    if layout == "ade20k":
        return ade20k_frames(root, split), []
    if layout == "gta5":
        return gta5_frames(root, split)
    if layout == "folder":
        if not image_glob or not label_glob:
            raise ValueError("layout 'folder' needs --image-glob and --label-glob")
        return folder_frames(root, split, image_glob, label_glob)
    raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
