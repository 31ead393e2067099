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

from pathlib import Path

from .ade20k import _ade20k_base, ade20k_frames
from .cityscapes import cityscapes_frames, cityscapes_unpaired
from .folder import folder_frames
from .frame import Frame, LayoutError, unreadable_dirs
from .gta5 import gta5_frames
from .mmseg import mmseg_frames
from .voc import voc_frames
from ._pairing import nothing_paired

LAYOUTS = ("cityscapes", "ade20k", "gta5", "folder", "voc", "mmseg")


def find_frames(layout: str, root: str | os.PathLike, split: str, *, image_glob: str | None = None,
                label_glob: str | None = None, img_suffix: str | None = None,
                seg_suffix: str | None = None, images: bool = True) -> tuple[list[Frame], list[dict]]:
    """Dispatch to the layout's function; always returns ``(frames, unpaired)``.

    ``unpaired`` lists, as ``{stem, path, problem}``, every file or directory of the split whose
    frame is not built: files without their pair and directories that cannot be read. Two frames
    with one key (stem) raise :class:`LayoutError`.

    Args:
        image_glob, label_glob: folder layout.
        img_suffix, seg_suffix: mmseg and folder layouts: pair files by name minus these endings.
        images: False: labels only, no image file or image folder required.
    """
    frames, unpaired = _dispatch(layout, root, split, image_glob, label_glob, img_suffix, seg_suffix, images)
    seen: dict = {}
    for f in frames:
        if f.stem in seen:
            raise LayoutError(f"{seen[f.stem]} and {f.label}: two frames with the key {f.stem!r} in split "
                              f"{split!r}; keys must be unique within a split (export, refine and lookups "
                              "use them): rename or remove one")
        seen[f.stem] = f.label
    return frames, unpaired


def _dispatch(layout, root, split, image_glob, label_glob, img_suffix, seg_suffix,
              images) -> tuple[list[Frame], list[dict]]:
    root_p = Path(root)
    if layout == "voc":
        return voc_frames(root, split, images=images)
    if layout == "mmseg":
        return mmseg_frames(root, split, img_suffix=img_suffix, seg_suffix=seg_suffix, images=images)
    if layout == "cityscapes":
        frames = cityscapes_frames(root, split, images=images)
        if not images:
            return frames, unreadable_dirs(root_p / "gtFine" / split)
        return frames, cityscapes_unpaired(root, split, frames)
    if layout == "ade20k":
        frames = ade20k_frames(root, split)
        base = _ade20k_base(root_p)
        used = {Path(f.image) for f in frames}
        img_dir = base / "images" / split
        lost = [{"stem": p.stem, "path": str(p), "problem": "image without a label"}
                for p in sorted(img_dir.glob("*.jpg")) if p not in used]
        return frames, lost + unreadable_dirs(base / "annotations" / split, img_dir)
    if layout == "gta5":
        frames, unpaired = gta5_frames(root, split, images=images)
        if not frames:
            raise nothing_paired(str(root), "images/<name>.png with labels/<name>.png", unpaired,
                                 "give each image its label under the same file name")
        dirs = [root_p / "labels"] + ([root_p / "images"] if images else [])
        return frames, unpaired + unreadable_dirs(*dirs)
    if layout == "folder":
        if not image_glob or not label_glob:
            raise ValueError("layout 'folder' needs --image-glob and --label-glob")
        frames, unpaired = folder_frames(root, split, image_glob, label_glob, img_suffix=img_suffix,
                                         seg_suffix=seg_suffix, images=images)
        return frames, unpaired + unreadable_dirs(root_p)
    raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
