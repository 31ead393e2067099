"""mmsegmentation custom datasets: ``img_dir/<split>/`` and ``ann_dir/<split>/``, images and label
maps paired by path with ``img_suffix`` / ``seg_suffix`` cut off (mmsegmentation's
``img_suffix`` / ``seg_map_suffix``; sub-directories allowed). Label maps hold train ids (255
ignore), or ids 1..K with 0 ignore when ``reduce_zero_label``.

A ``--split`` value that is the path of a ``.txt`` file is a split list (mmsegmentation's
``split``): one key per line, relative to ``img_dir/`` and ``ann_dir/`` without the suffix; the
output split is named by the file's stem.
"""
from __future__ import annotations

import os
from pathlib import Path

from ._pairing import nothing_paired, pair_by_suffix, read_split_list, split_list_file, split_name
from .frame import Frame, LayoutError, require_dir

DEFAULT_IMG_SUFFIX = ".jpg"
DEFAULT_SEG_SUFFIX = ".png"


def available_splits(root: str | os.PathLike) -> list[str]:
    """Split names of an mmseg tree: the sub-directories of ``ann_dir/``."""
    ann = Path(root) / "ann_dir"
    return sorted(p.name for p in ann.iterdir() if p.is_dir()) if ann.is_dir() else []


def mmseg_frames(root: str | os.PathLike, split: str, *, img_suffix: str | None = None,
                 seg_suffix: str | None = None, images: bool = True) -> tuple[list[Frame], list[dict]]:
    """Frames of one split of an mmsegmentation tree.

    Args:
        root: the folder holding ``img_dir/`` and ``ann_dir/``.
        split: a split name (``img_dir/<split>``) or the path of a split list file.
        img_suffix, seg_suffix: the file name endings that pair images and labels (default
            ``.jpg`` / ``.png``), e.g. ``_leftImg8bit.png`` / ``_gtFine_labelTrainIds.png``.
        images: False: labels only (no image file is read or required).

    Returns:
        ``(frames, unpaired)``; raises :class:`LayoutError` when nothing pairs.
    """
    root = Path(root)
    img_suffix = img_suffix or DEFAULT_IMG_SUFFIX
    seg_suffix = seg_suffix or DEFAULT_SEG_SUFFIX
    require_dir(root / "ann_dir", "mmseg ann_dir/ (the label maps)")
    if images:
        require_dir(root / "img_dir", "mmseg img_dir/ (the images; --no-images for labels only)")
    list_file = split_list_file(split)
    name = split_name(split)
    if list_file is not None:
        keys = [e[0][: -len(seg_suffix)] if e[0].endswith(seg_suffix) else e[0]
                for e in read_split_list(list_file)]
        img_dir, ann_dir = root / "img_dir", root / "ann_dir"
    else:
        keys = None
        img_dir, ann_dir = root / "img_dir" / split, root / "ann_dir" / split
        if not ann_dir.is_dir():
            have = ", ".join(available_splits(root)) or "none"
            raise LayoutError(f"{ann_dir}: missing directory (mmseg ann_dir/<split>); splits here: {have}; "
                              "check --split (or give a split list file)")
    frames, unpaired = pair_by_suffix(img_dir, ann_dir, img_suffix, seg_suffix, name, images=images,
                                      keys=keys)
    if not frames:
        for d, suffix, side in ((img_dir, img_suffix, "image"), (ann_dir, seg_suffix, "label")):
            if d.is_dir() and not (side == "image" and not images):
                other = sorted(p for p in d.rglob("*") if p.is_file() and not p.name.endswith(suffix))
                unpaired += [{"stem": p.stem, "path": str(p), "problem": f"{side} without "
                              f"{'a label' if side == 'image' else 'an image'} (name does not end in {suffix})"}
                             for p in other[:3]]
        raise nothing_paired(
            str(root), f"{img_dir}/<key>{img_suffix} with {ann_dir}/<key>{seg_suffix}", unpaired,
            "set --img-suffix / --seg-suffix to the endings of your file names (mmsegmentation's "
            "img_suffix / seg_map_suffix)")
    return frames, unpaired
