"""Any folder: an image glob and a label glob paired by file stem, plus a class map."""
from __future__ import annotations

import os
import glob
from pathlib import Path

from .frame import Frame, require_dir, require_files, pair_by_stem


def folder_frames(root: str | os.PathLike, split: str, image_glob: str, label_glob: str
                  ) -> tuple[list[Frame], list[dict]]:
    """Frames from two globs relative to ``root`` (``{split}`` is replaced by the split name).

    Returns:
        ``(frames, unpaired)`` as :func:`gta5_frames`.
    """
    root = Path(root)
    require_dir(root, "dataset root")
    ig, lg = image_glob.replace("{split}", split), label_glob.replace("{split}", split)
    images = require_files(sorted(Path(p) for p in glob.glob(str(root / ig), recursive=True)), root, ig)
    labels = require_files(sorted(Path(p) for p in glob.glob(str(root / lg), recursive=True)), root, lg)
    return pair_by_stem(images, labels, split)
