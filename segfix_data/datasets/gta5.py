"""GTA5: ``images/*.png`` and ``labels/*.png`` (Cityscapes ids) paired by name, all in one split;
frames without a pair are returned separately (reported, not fatal)."""
from __future__ import annotations

import os
from pathlib import Path

from .frame import Frame, require_dir, require_files, pair_by_stem


def gta5_frames(root: str | os.PathLike, split: str = "train") -> tuple[list[Frame], list[dict]]:
    """GTA5 frames (``images/*.png`` + ``labels/*.png``) paired by name, all in one split.

    Returns:
        ``(frames, unpaired)``: the paired frames sorted by name and one dict per file without a
        pair (``stem``, ``path``, ``problem``).
    """
    root = Path(root)
    img_dir = require_dir(root / "images", "GTA5 images/")
    lab_dir = require_dir(root / "labels", "GTA5 labels/")
    images = require_files(sorted(img_dir.glob("*.png")), img_dir, "*.png")
    labels = require_files(sorted(lab_dir.glob("*.png")), lab_dir, "*.png")
    return pair_by_stem(images, labels, split)
