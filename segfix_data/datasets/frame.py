"""The :class:`Frame` record every layout returns, the layout errors, and helpers the layouts share.

A layout function takes the dataset root and a split name and returns the split's frames as
:class:`Frame` records sorted by source path (the order samples take in the shards).
"""
from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

from segfix_data.errors import InputError
from .walk import walk_once

_FRAME_KEY = re.compile(r"^(.+?_\d{6}_\d{6})(?:_|$)")


class LayoutError(InputError):
    """A dataset directory does not have the expected layout (missing or empty directory)."""


class FrameError(InputError):
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


def unreadable_dirs(*dirs: Path) -> list[dict]:
    """Directories under ``dirs`` that cannot be listed (their frames would vanish without a word).

    Returns one dict per directory: ``stem`` (empty), ``path``, ``problem`` (the OS error), the
    shape of the ``unpaired`` records so that the build counts and reports them the same way.
    """
    out = []

    def onerror(exc: OSError) -> None:
        out.append({"stem": "", "path": str(exc.filename), "problem": f"directory cannot be read "
                    f"({exc.strerror or type(exc).__name__}); its frames are not built"})

    for d in dirs:
        if not os.path.isdir(d):  # a missing directory is the layout's own error, not a loss
            continue
        for _ in walk_once(d, onerror=onerror):  # each real directory once, whatever the links
            pass
    return sorted(out, key=lambda u: u["path"])


def unique_by_stem(paths: list[Path], what: str) -> dict:
    """``{stem: path}``; two files with one stem raise :class:`LayoutError` (the stem is the key)."""
    out: dict = {}
    for p in paths:
        if p.stem in out:
            raise LayoutError(f"{out[p.stem]} and {p}: two {what} files with the frame key {p.stem!r}; keys "
                              "must be unique within a split (export, refine and lookups use them): "
                              "rename or remove one")
        out[p.stem] = p
    return out


def pair_by_stem(images: list[Path], labels: list[Path], split: str) -> tuple[list[Frame], list[dict]]:
    by_stem_img = unique_by_stem(images, "image")
    by_stem_lab = unique_by_stem(labels, "label")
    frames = [Frame(stem=s, split=split, image=str(by_stem_img[s]), label=str(by_stem_lab[s]))
              for s in sorted(by_stem_img.keys() & by_stem_lab.keys())]
    unpaired = [{"stem": s, "path": str(by_stem_img[s]), "problem": "image without a label"}
                for s in sorted(by_stem_img.keys() - by_stem_lab.keys())]
    unpaired += [{"stem": s, "path": str(by_stem_lab[s]), "problem": "label without an image"}
                 for s in sorted(by_stem_lab.keys() - by_stem_img.keys())]
    unpaired.sort(key=lambda u: u["stem"])
    return frames, unpaired


def frame_key(path: str | os.PathLike, suffixes=()) -> str:
    """The frame key of a file: the one name every tool (build, predict, refine, eval) gives a frame.

    * A name ending in one of ``suffixes`` (a layout's image or label suffix, ``--img-suffix`` /
      ``--seg-suffix`` such as ``_rgb.png`` or ``_gtFine_labelTrainIds.png``) loses it:
      ``s0_rgb.png`` -> ``s0``. A suffix also matches with another extension (``s0_rgb.npz``
      or ``.npy`` for ``_rgb.png``), so offsets and predictions named after the image agree;
      a bare extension (``.jpg``) strips nothing more than the extension.
    * Then a Cityscapes name gives ``city_seq_frame``
      (``aachen_000000_000019_leftImg8bit`` -> ``aachen_000000_000019``), anything else its stem.
    """
    name = Path(path).name
    stem = Path(name).stem
    for suffix in suffixes:
        if not suffix:
            continue
        core = suffix[: -len(Path(suffix).suffix)] if Path(suffix).suffix else suffix
        if name.endswith(suffix) and len(name) > len(suffix):
            stem = name[: -len(suffix)]
            break
        if core and stem.endswith(core) and len(stem) > len(core):
            stem = stem[: -len(core)]
            break
    m = _FRAME_KEY.match(stem)
    return m.group(1) if m else stem
