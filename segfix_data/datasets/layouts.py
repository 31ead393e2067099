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

Split names are the layout's own everywhere (build, eval, refine, train): Cityscapes ``train`` /
``val`` / ``test``, ADE20K ``training`` / ``validation``. :func:`available_splits` lists the splits
present on disk, one function per layout family; :func:`normalise_split` maps a requested name to
one of them, accepting ``train`` <-> ``training`` and ``val`` <-> ``validation`` as aliases when
exactly one of the pair exists, and otherwise raises a :class:`LayoutError` listing the splits found.
"""
from __future__ import annotations

import os
from pathlib import Path

from .ade20k import _ade20k_base, ade20k_frames
from .cityscapes import cityscapes_frames, cityscapes_unpaired
from .folder import folder_frames
from .frame import Frame, LayoutError, unreadable_dirs
from .gta5 import gta5_frames
from . import mmseg as _mmseg
from . import voc as _voc
from .mmseg import mmseg_frames
from .voc import voc_frames
from ._pairing import nothing_paired, split_list_file
from segfix_data.errors import InputError

LAYOUTS = ("cityscapes", "ade20k", "gta5", "folder", "voc", "mmseg")

#: The splits ``segfix-gt build`` builds when no ``--split`` is given (those present on disk).
DEFAULT_SPLITS = {"cityscapes": ("train", "val"), "ade20k": ("training", "validation"),
                  "gta5": ("train",), "folder": ("train",), "voc": ("train", "val"),
                  "mmseg": ("train", "val")}
#: The split ``segfix eval`` scores when no ``--split`` is given (None: every ground-truth file).
EVAL_SPLITS = {"cityscapes": "val", "ade20k": "validation", "gta5": None, "folder": None,
               "voc": "val", "mmseg": "val"}
#: Interchangeable split names (accepted when exactly one of a pair exists).
SPLIT_ALIASES = {"train": ("training",), "training": ("train",), "val": ("validation",),
                 "validation": ("val",)}
#: Layouts whose splits are named on disk (the others hold one split under any name).
SPLIT_DIRS = {"cityscapes": "gtFine/<split>", "ade20k": "[ADEChallengeData2016/]annotations/<split>",
              "voc": "ImageSets/Segmentation/<split>.txt", "mmseg": "ann_dir/<split>"}


#: The directories right under a layout's dataset root, by which a root is recognised.
ROOT_DIRS = {"cityscapes": ("gtFine", "leftImg8bit"), "ade20k": ("annotations", "images"),
             "gta5": ("labels", "images"), "voc": ("ImageSets", "JPEGImages", "SegmentationClass"),
             "mmseg": ("ann_dir", "img_dir")}


def _is_root(layout: str, d: Path) -> bool:
    """Whether ``d`` holds one of the layout's :data:`ROOT_DIRS` (ADE20K and VOC: also their
    container folders, which their layouts accept)."""
    cands = [d]
    if layout == "ade20k":
        cands.append(d / "ADEChallengeData2016")
    if layout == "voc":
        cands += [d / "VOCdevkit" / "VOC2012", d / "VOC2012"]
    return any((c / n).is_dir() for c in cands for n in ROOT_DIRS[layout])


def layouts_of_root(root: str | os.PathLike) -> list[str]:
    """The layouts whose dataset root ``root`` looks like: at least two of their :data:`ROOT_DIRS`
    are in it (``gtFine/`` and ``leftImg8bit/``, ...), or it holds ``ADEChallengeData2016/``."""
    root = Path(root)
    out = []
    for layout, dirs in ROOT_DIRS.items():
        if sum((root / d).is_dir() for d in dirs) >= 2 or (layout == "ade20k" and (root / "ADEChallengeData2016").is_dir()):
            out.append(layout)
    return out


def root_hint(layout: str, root: str | os.PathLike) -> str:
    """Where the dataset root is when ``root`` is one level off, as words for an error message
    (``"it is inside the cityscapes dataset data/cs: pass data/cs instead"``); ``""`` when
    ``root`` is a root of ``layout`` (by :data:`ROOT_DIRS`) or no root is near."""
    root = Path(root)
    if layout not in ROOT_DIRS or not root.is_dir() or _is_root(layout, root):
        return ""
    for up in list(root.parents)[:3]:  # too deep: root is inside the dataset (gtFine, gtFine/val)
        if _is_root(layout, up):
            return f"it is inside the {layout} dataset {up}: pass {up} instead"
    try:  # too high: a folder right below root is the dataset
        kids = sorted(c for c in root.iterdir() if c.is_dir())[:1000]
    except OSError:
        return ""
    found = [c for c in kids if _is_root(layout, c)]
    if found:
        return f"it holds the {layout} dataset {found[0]}: pass {found[0]} instead"
    return ""


def check_root(layout: str, root: str | os.PathLike) -> None:
    """Raise :class:`LayoutError` naming the directory to pass when ``root`` is one level off the
    dataset root of ``layout`` (:func:`root_hint`), before anything looks for splits or frames."""
    hint = root_hint(layout, root)
    if hint:
        want = " or ".join(f"{n}/" for n in ROOT_DIRS[layout])
        raise LayoutError(f"{root}: no {want} here (--layout {layout} reads the dataset root); {hint}")


def _subdirs_with(base: Path, pattern: str) -> list[str]:
    if not base.is_dir():
        return []
    return sorted(d.name for d in base.iterdir() if d.is_dir() and next(d.glob(pattern), None) is not None)


def cityscapes_label_root(root: str | os.PathLike) -> Path:
    """The ``gtFine`` directory of a Cityscapes root (or ``root`` itself when it is ``gtFine``)."""
    root = Path(root)
    return root if root.name == "gtFine" and not (root / "gtFine").is_dir() else root / "gtFine"


def available_splits(layout: str, root: str | os.PathLike) -> list[str]:
    """Names of the splits of ``layout`` present under ``root`` (sorted), found by their label files.

    * cityscapes: the directories ``gtFine/<split>`` holding ``<city>/*_gtFine_labelIds.png``;
    * ade20k: the directories ``[ADEChallengeData2016/]annotations/<split>`` holding ``*.png``;
    * gta5: ``["train"]`` when ``labels/*.png`` exist (GTA5 is one split);
    * folder: the sub-directories of ``root`` holding ``*.png`` (below them, at any depth);
    * voc: the split lists ``ImageSets/Segmentation/*.txt`` (:func:`.voc.available_splits`);
    * mmseg: the sub-directories of ``ann_dir/`` (:func:`.mmseg.available_splits`).
    """
    root = Path(root)
    if layout == "cityscapes":
        return _subdirs_with(cityscapes_label_root(root), "*/*_gtFine_labelIds.png")
    if layout == "ade20k":
        return _subdirs_with(_ade20k_base(root) / "annotations", "*.png")
    if layout == "gta5":
        return ["train"] if next((root / "labels").glob("*.png"), None) is not None else []
    if layout == "folder":
        return _subdirs_with(root, "**/*.png")
    if layout == "voc":
        try:
            return _voc.available_splits(root)
        except LayoutError:  # not a VOC folder at all: no split
            return []
    if layout == "mmseg":
        return _mmseg.available_splits(root)
    raise InputError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")


def normalise_split(split: str, available, where: str | os.PathLike = "", what: str = "--split") -> str:
    """``split`` if it is in ``available``, else its one alias present (``val`` -> ``validation``).

    Raises:
        LayoutError: naming ``where``, the splits found and the option ``what`` to change.
    """
    available = list(available)
    if split in available:
        return split
    alias = [a for a in SPLIT_ALIASES.get(split, ()) if a in available]
    if len(alias) == 1:
        return alias[0]
    if not available:
        raise LayoutError(f"{where}: no split {split!r} and no other split found; check the directory "
                          "and --layout")
    raise LayoutError(f"{where}: no split {split!r} (splits found: {', '.join(available)}); pass {what} "
                      "with one of them")


def resolve_split(layout: str, root: str | os.PathLike, split: str) -> str:
    """The on-disk name of ``split`` for a layout with named splits (aliases accepted); layouts
    without (gta5, folder) and split list files (``--split PATH.txt``, voc and mmseg) are kept.
    A ``root`` one level off the dataset root raises :class:`LayoutError` (:func:`check_root`)."""
    check_root(layout, root)
    if layout not in SPLIT_DIRS or split_list_file(split) is not None:
        return split
    return normalise_split(split, available_splits(layout, root), f"{root} ({SPLIT_DIRS[layout]})")


def splits_present(layout: str, root: str | os.PathLike) -> list[str]:
    """The layout's default splits (:data:`DEFAULT_SPLITS`) that exist under ``root``.

    Raises:
        LayoutError: none exists, the message lists the directories looked for; or ``root`` is
            one level off the dataset root (:func:`check_root`).
    """
    check_root(layout, root)
    if layout not in SPLIT_DIRS:
        return list(DEFAULT_SPLITS[layout])
    found = available_splits(layout, root)
    present = [s for s in DEFAULT_SPLITS[layout] if s in found]
    if not present:
        looked = ", ".join(str(Path(root) / SPLIT_DIRS[layout].replace("<split>", s)) for s in DEFAULT_SPLITS[layout])
        other = f"; other splits found: {', '.join(found)} (pass --split)" if found else ""
        raise LayoutError(f"{root}: none of the {layout} splits found (looked for {looked}){other}; "
                          "check DATASET_DIR and --layout")
    return present


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
            raise InputError("layout 'folder' needs --image-glob and --label-glob")
        frames, unpaired = folder_frames(root, split, image_glob, label_glob, img_suffix=img_suffix,
                                         seg_suffix=seg_suffix, images=images)
        return frames, unpaired + unreadable_dirs(root_p)
    raise InputError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
