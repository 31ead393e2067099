"""Helpers the list- and suffix-based layouts share (internal).

* :func:`split_name` / :func:`split_list_file`: a ``--split`` value may be a split name or the path
  of a split list (a ``.txt`` file, one frame per line, e.g. SBD's augmented ``train_aug.txt``);
  the split's output name is then the file's stem.
* :func:`pair_by_suffix`: files of two directory trees paired by their path with the suffix cut off
  (mmsegmentation's ``img_suffix`` / ``seg_map_suffix`` rule).
* :func:`nothing_paired`: the error for a split where no frame pairs, listing a few files of each
  side and the rule used.
"""
from __future__ import annotations

import os
from pathlib import Path

from .frame import Frame, LayoutError, frame_key


def split_list_file(split: str) -> Path | None:
    """The split list file when ``split`` names an existing ``.txt`` file, else None."""
    p = Path(split)
    return p if p.suffix == ".txt" and p.is_file() else None


def split_name(split: str) -> str:
    """The split's name: the stem of a split list file, else ``split`` itself."""
    p = split_list_file(split)
    return p.stem if p is not None else split


def read_split_list(path: Path) -> list[list[str]]:
    """Non-blank lines of a split list, each as its whitespace-separated fields."""
    try:
        lines = Path(path).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LayoutError(f"{path}: cannot read the split list ({exc}); expected a text file with "
                          "one frame name per line") from None
    entries = [line.split() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not entries:
        raise LayoutError(f"{path}: the split list is empty; list one frame name per line")
    return entries


def _files_with_suffix(directory: Path, suffix: str) -> dict[str, Path]:
    """Relative path without ``suffix`` -> file, for every file below ``directory`` ending in it."""
    out = {}
    for dirpath, _, names in os.walk(directory):
        for n in names:
            if n.endswith(suffix) and len(n) > len(suffix):
                p = Path(dirpath) / n
                rel = p.relative_to(directory).as_posix()
                out[rel[: -len(suffix)]] = p
    return out


def pair_by_suffix(img_dir: Path, ann_dir: Path, img_suffix: str, seg_suffix: str, split: str, *,
                   images: bool = True, keys: list[str] | None = None) -> tuple[list[Frame], list[dict]]:
    """Pair ``img_dir/<key><img_suffix>`` with ``ann_dir/<key><seg_suffix>`` (``key`` may hold
    sub-directories).

    Args:
        keys: when given (a split list), only these keys, in this order; else every label's key.
        images: False: frames come from the labels alone (image paths are where the image would
            be; nothing under ``img_dir`` is read or required).

    Returns:
        ``(frames, unpaired)``: frames sorted by key (list order with ``keys``); one dict per file
        without its pair (``stem``, ``path``, ``problem``).
    """
    labels = _files_with_suffix(ann_dir, seg_suffix) if ann_dir.is_dir() else {}
    imgs = _files_with_suffix(img_dir, img_suffix) if images and img_dir.is_dir() else {}
    unpaired: list[dict] = []
    if keys is None:
        wanted = sorted(labels.keys() | imgs.keys()) if images else sorted(labels)
    else:
        wanted = list(keys)
    frames = []
    for key in wanted:
        lab, img = labels.get(key), imgs.get(key)
        stem = frame_key(Path(key + img_suffix).name, (img_suffix,))  # the key without directories
        if lab is not None and (img is not None or not images):
            image = img if img is not None else img_dir / f"{key}{img_suffix}"
            frames.append(Frame(stem=stem, split=split, image=str(image), label=str(lab)))
        elif lab is not None:
            unpaired.append({"stem": stem, "path": str(lab),
                             "problem": f"label without an image (no {img_dir / (key + img_suffix)})"})
        elif img is not None:
            unpaired.append({"stem": stem, "path": str(img),
                             "problem": f"image without a label (no {ann_dir / (key + seg_suffix)})"})
        else:
            unpaired.append({"stem": stem, "path": str(ann_dir / (key + seg_suffix)),
                             "problem": "listed in the split list but neither image nor label exists"})
    return frames, unpaired


def nothing_paired(where: str, rule: str, unpaired: list[dict], fix: str) -> LayoutError:
    """The error for a split with no usable frame: a few unpaired files of each side and the rule."""
    lines = [f"{where}: no frame pairs an image with a label (rule: {rule})"]
    for side in ("image without", "label without", "listed"):
        some = [u for u in unpaired if u["problem"].startswith(side)]
        for u in some[:3]:
            lines.append(f"  {u['path']}: {u['problem']}")
        if len(some) > 3:
            lines.append(f"  ... and {len(some) - 3} more ({side.split()[0]}s)")
    if not unpaired:
        lines.append("  (no image and no label files found)")
    lines.append(f"  fix: {fix}")
    return LayoutError("\n".join(lines))
