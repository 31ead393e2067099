"""A small example dataset of synthetic frames on disk, in the Cityscapes layout."""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from segfix_data.atomic import atomic_path

from .street import synthetic_cityscapes_frame
from segfix_data.errors import InputError


TRAIN_CITIES = ("aachen", "bochum", "bremen", "cologne")
VAL_CITIES = ("frankfurt", "lindau", "munster")


def _cities_for(split: str) -> tuple[str, ...]:
    return VAL_CITIES if split in ("val", "test") else TRAIN_CITIES


def _frame_seed(seed: int, split: str, index: int) -> int:
    """A per-frame seed from the dataset seed, the split name and the frame's index."""
    ss = np.random.SeedSequence(entropy=int(seed), spawn_key=(zlib.crc32(split.encode()), int(index)))
    return int(ss.generate_state(1, dtype=np.uint64)[0])


def _save_png_atomic(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as a PNG under a temporary name, then rename it into place."""
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")


def example_frame_paths(root, split: str, city: str, seq: int, frame: int) -> dict[str, Path]:
    """Paths of one frame's image, labelIds and instanceIds in the Cityscapes layout under ``root``."""
    root = Path(root)
    stem = f"{city}_{seq:06d}_{frame:06d}"
    return {
        "image": root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png",
        "label_ids": root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png",
        "instance_ids": root / "gtFine" / split / city / f"{stem}_gtFine_instanceIds.png",
    }


def write_example_dataset(root, *, splits=None, height: int = 256, width: int = 512, seed: int = 0,
                          progress=None) -> list[dict[str, Path]]:
    """Write a small Cityscapes-layout dataset of synthetic frames under ``root``.

    Layout (as the real dataset)::

        leftImg8bit/<split>/<city>/<city>_<seq:06d>_<frame:06d>_leftImg8bit.png       RGB uint8
        gtFine/<split>/<city>/<city>_<seq:06d>_<frame:06d>_gtFine_labelIds.png        L uint8
        gtFine/<split>/<city>/<city>_<seq:06d>_<frame:06d>_gtFine_instanceIds.png     16-bit

    Frame ``i`` of a split goes to city ``i % n_cities`` with sequence ``i // n_cities`` and frame
    number 19 (the annotated frame of a Cityscapes snippet). Each file is written under a temporary
    name and renamed into place, so an interrupted run leaves no half-written PNG.

    Args:
        root: output directory (created if needed).
        splits: ``{split name: number of frames}``; default ``{"train": 4, "val": 2}``.
            Splits ``val`` and ``test`` use validation city names.
        height, width: frame size in pixels.
        seed: dataset seed; frame seeds derive from it, the split name and the frame index.
        progress: optional callable ``progress(done, total)`` called after each frame.

    Returns:
        One dict of paths (``image``, ``label_ids``, ``instance_ids``) per frame, in writing order.
    """
    splits = {"train": 4, "val": 2} if splits is None else dict(splits)
    for name, n in splits.items():
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise InputError(f"splits[{name!r}] must be a non-negative frame count, got {n!r}")
    total = sum(int(n) for n in splits.values())
    written: list[dict[str, Path]] = []
    for split, n in splits.items():
        cities = _cities_for(split)
        for i in range(int(n)):
            paths = example_frame_paths(root, split, cities[i % len(cities)], i // len(cities), 19)
            frame = synthetic_cityscapes_frame(_frame_seed(seed, split, i), height, width)
            for p in paths.values():
                p.parent.mkdir(parents=True, exist_ok=True)
            _save_png_atomic(paths["image"], frame.image)
            _save_png_atomic(paths["label_ids"], frame.label_ids)
            _save_png_atomic(paths["instance_ids"], frame.instance_ids.astype(np.uint16))
            written.append(paths)
            if progress is not None:
                progress(len(written), total)
    return written
