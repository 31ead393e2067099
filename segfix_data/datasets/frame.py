"""The :class:`Frame` record every layout returns, the layout errors, and helpers the layouts share.

A layout function takes the dataset root and a split name and returns the split's frames as
:class:`Frame` records sorted by source path (the order samples take in the shards).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path


class LayoutError(ValueError):
    """A dataset directory does not have the expected layout (missing or empty directory)."""


class FrameError(ValueError):
    """One frame's files cannot be used; the message names the file, the problem and the fix."""

    def __init__(self, path: str | os.PathLike, problem: str, fix: str = "") -> None:
        self.path = str(path)
        self.problem = problem
        msg = f"{self.path}: {problem}"
        if fix:
            msg += f" ({fix})"
        super().__init__(msg)


@dataclasses.dataclass(frozen=True)
class Frame:
    """One sample's source files.

    Attributes:
        stem: the image file's name without extension (``frankfurt_000000_000294_leftImg8bit``,
            ``ADE_val_00000001``); unique within a split.
        split: split name (``train``, ``validation``, ...).
        image: path of the RGB image.
        label: path of the semantic label file (raw layout ids).
        instance: path of the instance-id file (Cityscapes ``instanceIds``) or None.
    """

    stem: str
    split: str
    image: str
    label: str
    instance: str | None = None

    def sources(self) -> dict:
        """The source paths as a JSON-able dict."""
        return {"image": self.image, "label": self.label, "instance": self.instance}


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise LayoutError(f"{path}: missing directory ({what}); check DATASET_DIR, --layout and --split")
    return path


def require_files(files: list, where: Path, pattern: str) -> list:
    if not files:
        raise LayoutError(f"{where}: no files matching {pattern} (empty directory?); "
                          "check DATASET_DIR, --layout and --split")
    return files


def pair_by_stem(images: list[Path], labels: list[Path], split: str) -> tuple[list[Frame], list[dict]]:
    by_stem_img = {p.stem: p for p in images}
    by_stem_lab = {p.stem: p for p in labels}
    frames = [Frame(stem=s, split=split, image=str(by_stem_img[s]), label=str(by_stem_lab[s]))
              for s in sorted(by_stem_img.keys() & by_stem_lab.keys())]
    unpaired = [{"stem": s, "path": str(by_stem_img[s]), "problem": "image without a label"}
                for s in sorted(by_stem_img.keys() - by_stem_lab.keys())]
    unpaired += [{"stem": s, "path": str(by_stem_lab[s]), "problem": "label without an image"}
                 for s in sorted(by_stem_lab.keys() - by_stem_img.keys())]
    unpaired.sort(key=lambda u: u["stem"])
    return frames, unpaired
