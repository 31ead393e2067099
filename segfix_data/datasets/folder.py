"""Any folder: an image glob and a label glob, paired by file stem or, with ``img_suffix`` /
``seg_suffix``, by the file name with the suffix cut off (``a_leftImg8bit.png`` pairs with
``a_gtFine_labelTrainIds.png``) and the frame key is that name (``a``, see
:func:`segfix_data.datasets.io.frame_key`). Labels are converted by a class map; without one they are train
ids already (identity, 255 = ignore)."""
from __future__ import annotations

import os
from pathlib import Path

from ._pairing import nothing_paired
from .frame import Frame, frame_key, require_dir, require_files, pair_by_stem
from segfix_data.errors import InputError
from .walk import glob_once


def _by_suffix(files: list[Path], suffix: str) -> tuple[dict[str, Path], list[Path]]:
    keyed, other = {}, []
    for p in files:
        if p.name.endswith(suffix) and len(p.name) > len(suffix):
            keyed[p.name[: -len(suffix)]] = p
        else:
            other.append(p)
    return keyed, other


def folder_frames(root: str | os.PathLike, split: str, image_glob: str, label_glob: str, *,
                  img_suffix: str | None = None, seg_suffix: str | None = None,
                  images: bool = True) -> tuple[list[Frame], list[dict]]:
    """Frames from two globs relative to ``root`` (``{split}`` is replaced by the split name).

    Args:
        img_suffix, seg_suffix: pair by name minus these endings (both or neither); default: by stem.
        images: False: labels only (the image glob is not searched; image paths are left empty).

    Returns:
        ``(frames, unpaired)`` as :func:`gta5_frames`; raises :class:`LayoutError` when nothing pairs.
    """
    root = Path(root)
    require_dir(root, "dataset root")
    if images and bool(img_suffix) != bool(seg_suffix):  # labels alone need only seg_suffix
        raise InputError("the folder layout pairs by suffix only with both --img-suffix and --seg-suffix")
    ig, lg = image_glob.replace("{split}", split), label_glob.replace("{split}", split)
    labels = require_files(sorted(Path(p) for p in glob_once(root / lg)), root, lg)
    if not images:
        if seg_suffix:
            keyed, _ = _by_suffix(labels, seg_suffix)
            pairs = sorted(keyed.items())
        else:
            pairs = sorted((p.stem, p) for p in labels)
        return [Frame(stem=frame_key(k), split=split, image="", label=str(p)) for k, p in pairs], []
    imgs = require_files(sorted(Path(p) for p in glob_once(root / ig)), root, ig)
    if not img_suffix:
        frames, unpaired = pair_by_stem(imgs, labels, split)
        rule = f"same file stem ({ig} with {lg})"
    else:
        ki, oi = _by_suffix(imgs, img_suffix)
        kl, ol = _by_suffix(labels, seg_suffix)
        frames = [Frame(stem=frame_key(ki[k].name, (img_suffix,)), split=split, image=str(ki[k]),
                        label=str(kl[k]))
                  for k in sorted(ki.keys() & kl.keys())]
        unpaired = [{"stem": k, "path": str(ki[k]), "problem": f"image without a label (no <name>{seg_suffix})"}
                    for k in sorted(ki.keys() - kl.keys())]
        unpaired += [{"stem": k, "path": str(kl[k]), "problem": f"label without an image (no <name>{img_suffix})"}
                     for k in sorted(kl.keys() - ki.keys())]
        unpaired += [{"stem": p.stem, "path": str(p), "problem": f"image without a label (name does not end in {img_suffix})"}
                     for p in oi]
        unpaired += [{"stem": p.stem, "path": str(p), "problem": f"label without an image (name does not end in {seg_suffix})"}
                     for p in ol]
        rule = f"<name>{img_suffix} ({ig}) with <name>{seg_suffix} ({lg})"
    if not frames:
        raise nothing_paired(str(root), rule, unpaired,
                             "pair by suffix with --img-suffix and --seg-suffix (e.g. _leftImg8bit.png "
                             "and _gtFine_labelTrainIds.png), or fix the globs")
    return frames, unpaired
