"""ADE20K: ``ADEChallengeData2016/{images,annotations}/<split>/`` (``.jpg`` images, ``.png``
annotations); the root may be ``ADEChallengeData2016`` itself or the folder holding it."""
from __future__ import annotations

import os
from pathlib import Path

from .frame import Frame, require_dir, require_files


def _ade20k_base(root: Path) -> Path:
    if (root / "ADEChallengeData2016").is_dir():
        return root / "ADEChallengeData2016"
    return root


def ade20k_frames(root: str | os.PathLike, split: str) -> list[Frame]:
    """Frames of one ADE20K split (``training``, ``validation``), sorted by name."""
    base = _ade20k_base(Path(root))
    ann_dir = require_dir(base / "annotations" / split, "ADE20K annotations/<split>")
    img_dir = require_dir(base / "images" / split, "ADE20K images/<split>")
    label_files = require_files(sorted(ann_dir.glob("*.png")), ann_dir, "*.png")
    return [Frame(stem=lab.stem, split=split, image=str(img_dir / f"{lab.stem}.jpg"), label=str(lab))
            for lab in label_files]
