"""Cityscapes: ``gtFine/<split>/<city>/*_gtFine_labelIds.png`` (+ ``instanceIds``), images
``leftImg8bit/<split>/<city>/*_leftImg8bit.png``."""
from __future__ import annotations

import os
from pathlib import Path

from .frame import Frame, require_dir, require_files


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
