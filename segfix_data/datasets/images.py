"""Which files of a dataset are images: one split's images of a layout (``segfix predict --layout``),
and the label maps that a plain folder of images must not feed to a model.

* :func:`layout_images`: ``[(image path, frame key)]`` of one split, found from the images alone
  (label maps need not exist, so a test split works too):

  ==============  ======================================================  =========================
  layout          images under the dataset root                           frame key
  ==============  ======================================================  =========================
  ``cityscapes``  ``leftImg8bit/<split>/<city>/*_leftImg8bit.png``         ``city_seq_frame``
  ``ade20k``      ``[ADEChallengeData2016/]images/<split>/*.jpg``          the file stem
  ``gta5``        ``images/*.png`` (one split)                             the file stem
  ``voc``         ``JPEGImages/<name>.jpg`` of the split list's names      ``<name>``
  ``mmseg``       ``img_dir/<split>/**/*<img_suffix>`` (``.jpg``)          the name without the suffix
  ``folder``      ``image_glob`` (``{split}`` replaced)                    as ``segfix-gt build``
  ==============  ======================================================  =========================

  The keys are the ones ``segfix-gt build`` gives the frames, so offsets meet predictions and
  ground truth in ``segfix refine`` and ``segfix eval``.
* :func:`image_splits`: the splits a layout has images for; :func:`resolve_image_split` maps a
  requested name (or the layout's default) to one of them.
* :func:`is_label_path`: whether a path found below a plain folder is a label map by its place or
  name (a layout's label directory such as ``gtFine/`` or ``annotations/``, or a Cityscapes label
  name such as ``*_gtFine_labelIds.png``).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from segfix_data.errors import InputError

from ._pairing import read_split_list, split_list_file
from .ade20k import _ade20k_base
from .frame import LayoutError, frame_key, require_dir
from .layouts import EVAL_SPLITS, LAYOUTS, check_root, normalise_split
from .walk import glob_once

#: Directories that hold label maps in the layouts this package reads (never images).
LABEL_DIR_NAMES = frozenset({"gtFine", "gtCoarse", "annotations", "ann_dir", "labels", "SegmentationClass",
                             "SegmentationClassAug", "SegmentationObject"})
#: File stems of label maps: Cityscapes' ``_gtFine_*`` / ``_gtCoarse_*`` files and the usual id-map names.
_LABEL_STEM = re.compile(r"_(gtFine|gtCoarse)_[A-Za-z]+$|_(labelIds|labelTrainIds|instanceIds|instanceTrainIds|"
                         r"trainIds)$")

_IMAGE_DIRS = {"cityscapes": "leftImg8bit/<split>/<city>/*_leftImg8bit.png",
               "ade20k": "[ADEChallengeData2016/]images/<split>/*.jpg", "gta5": "images/*.png",
               "voc": "JPEGImages/<name>.jpg of ImageSets/Segmentation/<split>.txt",
               "mmseg": "img_dir/<split>/**/*<img_suffix>", "folder": "--image-glob"}


def is_label_path(path: str | os.PathLike, root: str | os.PathLike | None = None) -> bool:
    """Whether ``path`` is a label map by its place or name: a directory between ``root`` and the
    file is one of :data:`LABEL_DIR_NAMES`, or its stem ends like a label map's
    (``_gtFine_labelIds``, ``_gtFine_color``, ``_instanceIds``, ...)."""
    p = Path(path)
    if _LABEL_STEM.search(p.stem):
        return True
    dirs = p.parent.parts
    if root is not None:
        try:
            dirs = p.parent.relative_to(root).parts
        except ValueError:
            pass
    return any(d in LABEL_DIR_NAMES for d in dirs)


def _subdirs(base: Path, pattern: str) -> list[str]:
    if not base.is_dir():
        return []
    return sorted(d.name for d in base.iterdir() if d.is_dir() and next(d.glob(pattern), None) is not None)


def _voc_base(root: Path) -> Path:
    from .voc import voc_base

    return voc_base(root)


def image_splits(layout: str, root: str | os.PathLike) -> list[str]:
    """The splits of ``layout`` under ``root`` that hold images (sorted); ``[]`` for the layouts
    without named splits (gta5, folder)."""
    root = Path(root)
    if layout == "cityscapes":
        return _subdirs(root / "leftImg8bit", "*/*_leftImg8bit.png")
    if layout == "ade20k":
        return _subdirs(_ade20k_base(root) / "images", "*.jpg")
    if layout == "mmseg":
        return _subdirs(root / "img_dir", "**/*")
    if layout == "voc":
        sets = _voc_base(root) / "ImageSets" / "Segmentation"
        return sorted(p.stem for p in sets.glob("*.txt")) if sets.is_dir() else []
    return []


def resolve_image_split(layout: str, root: str | os.PathLike, split: str | None) -> str | None:
    """The split whose images are read: ``split`` (default: the split ``segfix eval`` scores,
    ``val`` / ``validation``) as named on disk, aliases accepted; a voc / mmseg split list file is
    kept; None for gta5 and folder without a split.

    Raises:
        LayoutError: ``root`` is one level off the dataset root (naming the directory to pass), or
            the split has no images (listing the splits that have).
    """
    if layout not in LAYOUTS:
        raise InputError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    check_root(layout, root)
    split = EVAL_SPLITS[layout] if split is None else split
    if layout in ("gta5", "folder") or split is None or split_list_file(split) is not None:
        return split
    return normalise_split(split, image_splits(layout, root), f"{root} (images {_IMAGE_DIRS[layout]})")


def layout_images(layout: str, root: str | os.PathLike, split: str | None, *, img_suffix: str | None = None,
                  image_glob: str | None = None) -> list[tuple[str, str]]:
    """``[(image path, frame key)]`` of one split of a dataset, sorted by path (the module's table).

    Args:
        layout: one of :data:`~segfix_data.datasets.layouts.LAYOUTS`.
        root: the dataset root (the directory ``segfix-gt build`` reads).
        split: the split as :func:`resolve_image_split` returns it.
        img_suffix: mmseg (default ``.jpg``) and folder layouts: the images' file name ending,
            cut off to give the frame key.
        image_glob: folder layout: the images, relative to ``root``.

    Raises:
        LayoutError: the image directory is missing or holds no image (naming where it looked).
    """
    root = Path(root)
    if layout == "cityscapes":
        d = require_dir(root / "leftImg8bit" / split, "Cityscapes images leftImg8bit/<split>")
        files = sorted(d.glob("*/*_leftImg8bit.png"))
        out = [(str(p), frame_key(p)) for p in files]
    elif layout == "ade20k":
        d = require_dir(_ade20k_base(root) / "images" / split, "ADE20K images/<split>")
        out = [(str(p), p.stem) for p in sorted(d.glob("*.jpg"))]
    elif layout == "gta5":
        d = require_dir(root / "images", "GTA5 images/")
        out = [(str(p), p.stem) for p in sorted(d.glob("*.png"))]
    elif layout == "voc":
        out = _voc_images(root, split)
    elif layout == "mmseg":
        suffix = img_suffix or ".jpg"
        base = root / "img_dir"
        list_file = split_list_file(split)
        d = require_dir(base if list_file is not None else base / split, "mmseg img_dir/<split>")
        files = sorted(p for p in d.rglob(f"*{suffix}") if p.is_file() and len(p.name) > len(suffix))
        if list_file is not None:
            wanted = {e[0] for e in read_split_list(list_file)}
            files = [p for p in files if p.relative_to(d).as_posix()[: -len(suffix)] in wanted]
        out = [(str(p), frame_key(p.name, (suffix,))) for p in files]
    elif layout == "folder":
        if not image_glob:
            raise InputError("layout 'folder' needs --image-glob (the images below the dataset root)")
        pattern = image_glob.replace("{split}", split or "")
        files = sorted(Path(p) for p in glob_once(root / pattern) if os.path.isfile(p))
        out = [(str(p), frame_key(p.name, (img_suffix,) if img_suffix else ())) for p in files]
    else:
        raise InputError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    if not out:
        raise LayoutError(f"{root}: no images of split {split!r} ({_IMAGE_DIRS[layout]}); "
                          "check the dataset root, --layout and --split")
    return out


def _voc_images(root: Path, split: str) -> list[tuple[str, str]]:
    base = _voc_base(root)
    list_file = split_list_file(split) or base / "ImageSets" / "Segmentation" / f"{split}.txt"
    if not list_file.is_file():
        raise LayoutError(f"{list_file}: no such split list; check --split")
    out, seen = [], set()
    for fields in read_split_list(list_file):
        image = base / fields[0].lstrip("/") if len(fields) >= 2 else base / "JPEGImages" / f"{fields[0]}.jpg"
        key = Path(fields[0]).stem
        if key not in seen and image.is_file():
            seen.add(key)
            out.append((str(image), key))
    return out
