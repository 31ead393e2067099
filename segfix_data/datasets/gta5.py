"""GTA5: ``images/*.png`` and ``labels/*.png`` (Cityscapes ids) paired by name, all in one split;
frames without a pair are returned separately (reported, not fatal)."""
from __future__ import annotations

import os
from pathlib import Path

from .frame import Frame, require_dir, require_files, pair_by_stem


def gta5_frames(root: str | os.PathLike, split: str = "train", *, images: bool = True
                ) -> tuple[list[Frame], list[dict]]:
    """GTA5 frames (``images/*.png`` + ``labels/*.png``) paired by name, all in one split
    (``images=False``: every label, ``images/`` need not exist).

    Returns:
        ``(frames, unpaired)``: the paired frames sorted by name and one dict per file without a
        pair (``stem``, ``path``, ``problem``).
    """
    root = Path(root)
    lab_dir = require_dir(root / "labels", "GTA5 labels/")
    labels = require_files(sorted(lab_dir.glob("*.png")), lab_dir, "*.png")
    if not images:
        return [Frame(stem=p.stem, split=split, image=str(root / "images" / p.name), label=str(p))
                for p in labels], []
    img_dir = require_dir(root / "images", "GTA5 images/; --no-images for labels only")
    image_files = require_files(sorted(img_dir.glob("*.png")), img_dir, "*.png")
    return pair_by_stem(image_files, labels, split)
