"""Cityscapes: ``gtFine/<split>/<city>/*_gtFine_labelIds.png`` (+ ``instanceIds``), images
``leftImg8bit/<split>/<city>/*_leftImg8bit.png``."""
from __future__ import annotations

import os
from pathlib import Path

from .frame import Frame, require_dir, require_files, unreadable_dirs


def cityscapes_frames(root: str | os.PathLike, split: str, *, images: bool = True) -> list[Frame]:
    """Frames of one Cityscapes split (``train``, ``val``, ``test``), sorted by city and name.

    ``images=False``: labels only, ``leftImg8bit/`` need not exist."""
    root = Path(root)
    gt_dir = require_dir(root / "gtFine" / split, "Cityscapes labels gtFine/<split>")
    img_dir = root / "leftImg8bit" / split
    if images:
        require_dir(img_dir, "Cityscapes images leftImg8bit/<split>; --no-images for labels only")
    suffix = "_gtFine_labelIds.png"
    label_files = require_files(sorted(gt_dir.glob(f"*/*{suffix}")), gt_dir, f"<city>/*{suffix}")
    frames = []
    for lab in label_files:
        base = lab.name[: -len(suffix)]
        image = img_dir / lab.parent.name / f"{base}_leftImg8bit.png"
        instance = lab.parent / f"{base}_gtFine_instanceIds.png"
        frames.append(Frame(stem=image.stem, split=split, image=str(image), label=str(lab),
                            instance=str(instance)))
    return frames


def cityscapes_unpaired(root: str | os.PathLike, split: str, frames: list[Frame]) -> list[dict]:
    """Images without a label (``leftImg8bit/<split>/<city>/*_leftImg8bit.png`` that no frame uses)
    and directories of the split that cannot be read: the frames :func:`cityscapes_frames` misses.

    (A label without its image is a frame whose image is missing: the build reports it as failed.)
    """
    root = Path(root)
    gt_dir, img_dir = root / "gtFine" / split, root / "leftImg8bit" / split
    used = {Path(f.image) for f in frames}
    out = [{"stem": p.stem, "path": str(p), "problem": "image without a label"}
           for p in sorted(img_dir.glob("*/*_leftImg8bit.png")) if p not in used]
    return out + unreadable_dirs(gt_dir, img_dir)
