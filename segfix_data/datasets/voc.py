"""PASCAL VOC 2012: ``JPEGImages/<name>.jpg`` and palette ``SegmentationClass/<name>.png`` (palette
indices = the 21 class ids, 255 on object borders = ignore), split lists
``ImageSets/Segmentation/<split>.txt``.

The root may be ``VOC2012`` itself or a folder holding ``VOCdevkit/VOC2012`` (or ``VOC2012``).
SBD-style augmented lists work when given as a split: ``--split train_aug`` reads
``ImageSets/Segmentation/train_aug.txt``, and ``--split PATH.txt`` reads any list file. A line is a
name (label ``SegmentationClass/<name>.png``, else ``SegmentationClassAug/<name>.png``) or, as in
DeepLab's ``train_aug.txt``, two paths ``/JPEGImages/x.jpg /SegmentationClassAug/x.png`` relative
to the root.
"""
from __future__ import annotations

import os
from pathlib import Path

from ._pairing import nothing_paired, read_split_list, split_list_file, split_name
from .frame import Frame, LayoutError

LABEL_DIRS = ("SegmentationClass", "SegmentationClassAug")


def voc_base(root: str | os.PathLike) -> Path:
    """The ``VOC2012`` folder of ``root`` (root itself, ``VOCdevkit/VOC2012`` or ``VOC2012``)."""
    root = Path(root)
    for cand in (root, root / "VOCdevkit" / "VOC2012", root / "VOC2012"):
        if (cand / "ImageSets" / "Segmentation").is_dir() or (cand / "SegmentationClass").is_dir():
            return cand
    raise LayoutError(f"{root}: not a PASCAL VOC 2012 folder (no ImageSets/Segmentation/ or "
                      "SegmentationClass/ here, nor under VOCdevkit/VOC2012/); pass the VOC2012 folder "
                      "or the folder holding VOCdevkit/")


def available_splits(root: str | os.PathLike) -> list[str]:
    """Names of the split lists in ``ImageSets/Segmentation/``."""
    sets = voc_base(root) / "ImageSets" / "Segmentation"
    return sorted(p.stem for p in sets.glob("*.txt")) if sets.is_dir() else []


def voc_frames(root: str | os.PathLike, split: str, *, images: bool = True) -> tuple[list[Frame], list[dict]]:
    """Frames of the split list ``split`` (a name in ``ImageSets/Segmentation/`` or a list file).

    Args:
        images: False: labels only (no image file is read or required).

    Returns:
        ``(frames, unpaired)`` in list order (duplicates dropped); listed frames whose files are
        missing are reported in ``unpaired``. Raises :class:`LayoutError` when nothing pairs.
    """
    base = voc_base(root)
    list_file = split_list_file(split) or base / "ImageSets" / "Segmentation" / f"{split}.txt"
    if not list_file.is_file():
        have = ", ".join(available_splits(root)) or "none"
        raise LayoutError(f"{list_file}: no such split list; lists here: {have}; check --split "
                          "(or pass the path of a list file, e.g. SBD's train_aug.txt)")
    name = split_name(split)
    frames, unpaired, seen = [], [], set()
    for fields in read_split_list(list_file):
        if len(fields) >= 2:  # DeepLab style: image path and label path relative to the root
            image, label = base / fields[0].lstrip("/"), base / fields[1].lstrip("/")
            stem = Path(fields[0]).stem
        else:
            stem = fields[0]
            image = base / "JPEGImages" / f"{stem}.jpg"
            labels = [base / d / f"{stem}.png" for d in LABEL_DIRS]
            label = next((p for p in labels if p.is_file()), labels[0])
        if stem in seen:
            continue
        seen.add(stem)
        has_label, has_image = label.is_file(), (not images) or image.is_file()
        if has_label and has_image:
            frames.append(Frame(stem=stem, split=name, image=str(image), label=str(label)))
        elif has_label:
            unpaired.append({"stem": stem, "path": str(label),
                             "problem": f"label without an image (no {image})"})
        elif image.is_file():
            unpaired.append({"stem": stem, "path": str(image),
                             "problem": f"image without a label (no {label})"})
        else:
            unpaired.append({"stem": stem, "path": str(label),
                             "problem": f"listed in {list_file.name} but neither {image.name} nor the label exists"})
    if not frames:
        raise nothing_paired(str(base), f"each name in {list_file} -> JPEGImages/<name>.jpg with "
                             "SegmentationClass[Aug]/<name>.png", unpaired,
                             "check DATASET_DIR and --split (the list must name frames of this tree)")
    return frames, unpaired
