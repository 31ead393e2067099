"""Find a dataset's frames and read their label files, one small function per layout.

A layout function takes the dataset root and a split name and returns the split's frames as
:class:`Frame` records sorted by source path (the order samples take in the shards):

* :func:`cityscapes_frames`: ``gtFine/<split>/<city>/*_gtFine_labelIds.png`` (+ ``instanceIds``),
  images ``leftImg8bit/<split>/<city>/*_leftImg8bit.png``.
* :func:`ade20k_frames`: ``ADEChallengeData2016/{images,annotations}/<split>/`` (``.jpg`` images,
  ``.png`` annotations); the root may be ``ADEChallengeData2016`` itself or the folder holding it.
* :func:`gta5_frames`: ``images/*.png`` and ``labels/*.png`` (Cityscapes ids) paired by name;
  frames without a pair are returned separately (reported, not fatal).
* :func:`folder_frames`: an image glob and a label glob paired by file stem, plus a class map.

:func:`read_label` and :func:`read_instance_ids` read one label file with checks that name the file
(truncated or non-PNG file, RGB where ids are expected, size differing from the image, ids outside
the layout's table) and raise :class:`FrameError`; :func:`read_image` reads the RGB image.
"""
from __future__ import annotations

import dataclasses
import glob
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from segfix_data import labels as _labels

LAYOUTS = ("cityscapes", "ade20k", "gta5", "folder")

#: Largest raw id each layout's label table knows (ids above it are "outside the table").
CITYSCAPES_MAX_LABEL_ID = 33
ADE20K_MAX_LABEL_ID = _labels.ADE20K_NUM_CLASSES

_ID_MODES = ("L", "P", "I;16", "I;16B", "I;16L", "I")


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


def _require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise LayoutError(f"{path}: missing directory ({what}); check DATASET_DIR, --layout and --split")
    return path


def _require_files(files: list, where: Path, pattern: str) -> list:
    if not files:
        raise LayoutError(f"{where}: no files matching {pattern} (empty directory?); "
                          "check DATASET_DIR, --layout and --split")
    return files


def cityscapes_frames(root: str | os.PathLike, split: str) -> list[Frame]:
    """Frames of one Cityscapes split (``train``, ``val``, ``test``), sorted by city and name."""
    root = Path(root)
    gt_dir = _require_dir(root / "gtFine" / split, "Cityscapes labels gtFine/<split>")
    img_dir = _require_dir(root / "leftImg8bit" / split, "Cityscapes images leftImg8bit/<split>")
    suffix = "_gtFine_labelIds.png"
    label_files = _require_files(sorted(gt_dir.glob(f"*/*{suffix}")), gt_dir, f"<city>/*{suffix}")
    frames = []
    for lab in label_files:
        base = lab.name[: -len(suffix)]
        image = img_dir / lab.parent.name / f"{base}_leftImg8bit.png"
        instance = lab.parent / f"{base}_gtFine_instanceIds.png"
        frames.append(Frame(stem=image.stem, split=split, image=str(image), label=str(lab),
                            instance=str(instance)))
    return frames


def _ade20k_base(root: Path) -> Path:
    if (root / "ADEChallengeData2016").is_dir():
        return root / "ADEChallengeData2016"
    return root


def ade20k_frames(root: str | os.PathLike, split: str) -> list[Frame]:
    """Frames of one ADE20K split (``training``, ``validation``), sorted by name."""
    base = _ade20k_base(Path(root))
    ann_dir = _require_dir(base / "annotations" / split, "ADE20K annotations/<split>")
    img_dir = _require_dir(base / "images" / split, "ADE20K images/<split>")
    label_files = _require_files(sorted(ann_dir.glob("*.png")), ann_dir, "*.png")
    return [Frame(stem=lab.stem, split=split, image=str(img_dir / f"{lab.stem}.jpg"), label=str(lab))
            for lab in label_files]


def _pair_by_stem(images: list[Path], labels: list[Path], split: str) -> tuple[list[Frame], list[dict]]:
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


def gta5_frames(root: str | os.PathLike, split: str = "train") -> tuple[list[Frame], list[dict]]:
    """GTA5 frames (``images/*.png`` + ``labels/*.png``) paired by name, all in one split.

    Returns:
        ``(frames, unpaired)``: the paired frames sorted by name and one dict per file without a
        pair (``stem``, ``path``, ``problem``).
    """
    root = Path(root)
    img_dir = _require_dir(root / "images", "GTA5 images/")
    lab_dir = _require_dir(root / "labels", "GTA5 labels/")
    images = _require_files(sorted(img_dir.glob("*.png")), img_dir, "*.png")
    labels = _require_files(sorted(lab_dir.glob("*.png")), lab_dir, "*.png")
    return _pair_by_stem(images, labels, split)


def folder_frames(root: str | os.PathLike, split: str, image_glob: str, label_glob: str
                  ) -> tuple[list[Frame], list[dict]]:
    """Frames from two globs relative to ``root`` (``{split}`` is replaced by the split name).

    Returns:
        ``(frames, unpaired)`` as :func:`gta5_frames`.
    """
    root = Path(root)
    _require_dir(root, "dataset root")
    ig, lg = image_glob.replace("{split}", split), label_glob.replace("{split}", split)
    images = _require_files(sorted(Path(p) for p in glob.glob(str(root / ig), recursive=True)), root, ig)
    labels = _require_files(sorted(Path(p) for p in glob.glob(str(root / lg), recursive=True)), root, lg)
    return _pair_by_stem(images, labels, split)


def find_frames(layout: str, root: str | os.PathLike, split: str, *, image_glob: str | None = None,
                label_glob: str | None = None) -> tuple[list[Frame], list[dict]]:
    """Dispatch to the layout's function; always returns ``(frames, unpaired)``."""
    if layout == "cityscapes":
        return cityscapes_frames(root, split), []
    if layout == "ade20k":
        return ade20k_frames(root, split), []
    if layout == "gta5":
        return gta5_frames(root, split)
    if layout == "folder":
        if not image_glob or not label_glob:
            raise ValueError("layout 'folder' needs --image-glob and --label-glob")
        return folder_frames(root, split, image_glob, label_glob)
    raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")


# --------------------------------------------------------------------------------------------
# Reading files


def _open_png(path: str) -> Image.Image:
    if not os.path.isfile(path):
        raise FrameError(path, "file not found", "restore the file or remove the frame")
    try:
        im = Image.open(path)
        fmt = im.format
        im.load()
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError... for bad files
        raise FrameError(path, f"cannot decode the image ({type(exc).__name__}: {exc}); "
                         "truncated or corrupt file", "re-extract or re-download it") from None
    if fmt != "PNG":
        raise FrameError(path, f"not a PNG file (found {fmt})", "label files must be lossless PNG")
    return im


def _ids_array(path: str, im: Image.Image, what: str) -> np.ndarray:
    if im.mode not in _ID_MODES:
        raise FrameError(path, f"{what} has mode {im.mode} (colour) where a single-channel id image "
                         "is expected", "use the id PNG (e.g. *_labelIds.png), not a colour rendering")
    return np.asarray(im)


def _check_range(path: str, ids: np.ndarray, valid: np.ndarray, table: str) -> None:
    bad = ~valid
    if bad.any():
        values = np.unique(ids[bad])[:8].tolist()
        raise FrameError(path, f"ids outside the {table} table: {values} at {int(bad.sum())} pixels",
                         "check --layout (or the class map) matches this dataset")


def _check_size(path: str, shape: tuple, expect: tuple | None, image_path: str | None) -> None:
    if expect is not None and tuple(shape) != tuple(expect):
        raise FrameError(path, f"size {shape[1]}x{shape[0]} differs from its image {image_path} "
                         f"({expect[1]}x{expect[0]})", "the label must match the image pixel for pixel")


def image_size(path: str) -> tuple[int, int]:
    """(H, W) of an image file from its header (no decoding); raises :class:`FrameError`."""
    if not os.path.isfile(path):
        raise FrameError(path, "image file not found", "restore it or remove its label")
    try:
        with Image.open(path) as im:
            w, h = im.size
    except Exception as exc:
        raise FrameError(path, f"cannot read the image header ({type(exc).__name__}: {exc})",
                         "re-extract or re-download it") from None
    return h, w


def read_image(path: str) -> np.ndarray:
    """Decode an image file to uint8 (H, W, 3) RGB (greyscale and palette images are expanded)."""
    if not os.path.isfile(path):
        raise FrameError(path, "image file not found", "restore it or remove its label")
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode not in ("RGB", "L", "P", "RGBA", "LA", "CMYK", "YCbCr"):
                raise FrameError(path, f"image mode {im.mode} is not 8-bit colour or greyscale",
                                 "convert it to 8-bit RGB")
            rgb = np.asarray(im if im.mode == "RGB" else im.convert("RGB"))
    except FrameError:
        raise
    except Exception as exc:
        raise FrameError(path, f"cannot decode the image ({type(exc).__name__}: {exc}); "
                         "truncated or corrupt file", "re-extract or re-download it") from None
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def load_class_map(path: str | os.PathLike) -> np.ndarray:
    """Read a folder-layout class map: JSON ``{"raw id": train id, ...}`` (train id 255 = ignore).

    Returns:
        int16 table of length 65536: raw id -> train id, -1 for ids not in the map.
    """
    try:
        with open(path) as f:
            mapping = json.load(f)
        table = np.full(65536, -1, dtype=np.int16)
        for raw, train in mapping.items():
            raw, train = int(raw), int(train)
            if not (0 <= raw < 65536 and 0 <= train <= 255):
                raise ValueError(f"entry {raw}: {train} out of range (raw 0..65535, train 0..255)")
            table[raw] = train
    except (OSError, ValueError, AttributeError) as exc:
        raise ValueError(f"{path}: bad class map ({exc}); expected a JSON object "
                         '{"raw id": train id, ...} with train id 255 for ignore') from None
    return table


def read_label(path: str, layout: str, *, expect_shape: tuple | None = None,
               image_path: str | None = None, class_map: np.ndarray | None = None) -> np.ndarray:
    """Read one semantic label PNG and convert it to train ids.

    Args:
        path: the label file (raw ids of ``layout``).
        layout: one of :data:`LAYOUTS`.
        expect_shape: (H, W) of the image, checked when given.
        image_path: the image file, named in a size-mismatch error.
        class_map: folder layout only, the table of :func:`load_class_map`.

    Returns:
        uint8 (H, W) train ids, 255 = ignore.
    """
    ids = _ids_array(path, _open_png(path), "label")
    _check_size(path, ids.shape, expect_shape, image_path)
    if layout in ("cityscapes", "gta5") and ids.dtype == np.uint8:  # the common case: one LUT pass
        if int(ids.max()) > CITYSCAPES_MAX_LABEL_ID:
            _check_range(path, ids, ids <= CITYSCAPES_MAX_LABEL_ID, "Cityscapes labelIds (0..33)")
        return _labels.cityscapes_label_to_train_id_table()[ids]
    ids = ids.astype(np.int64)
    if layout in ("cityscapes", "gta5"):
        _check_range(path, ids, (ids >= 0) & (ids <= CITYSCAPES_MAX_LABEL_ID), "Cityscapes labelIds (0..33)")
        return _labels.cityscapes_label_ids_to_train_ids(ids)
    if layout == "ade20k":
        _check_range(path, ids, (ids >= 0) & (ids <= ADE20K_MAX_LABEL_ID), "ADE20K (0..150)")
        return _labels.ade20k_to_train_ids(ids)
    if layout == "folder":
        if class_map is None:
            raise ValueError("layout 'folder' needs a class map (--class-map FILE)")
        inside = (ids >= 0) & (ids < class_map.size)
        train = np.where(inside, class_map[np.clip(ids, 0, class_map.size - 1)], -1)
        _check_range(path, ids, train >= 0, "class map")
        return train.astype(np.uint8)
    raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")


def read_instance_ids(path: str, *, expect_shape: tuple | None = None,
                      label_path: str | None = None) -> np.ndarray:
    """Read a Cityscapes ``instanceIds`` PNG (16- or 32-bit, or 8-bit for stuff-only frames).

    Valid values: labelIds 0..33 and ``class * 1000 + k`` with class 0..33.

    Returns:
        int32 (H, W) raw instance ids.
    """
    ids = _ids_array(path, _open_png(path), "instanceIds").astype(np.int64)
    _check_size(path, ids.shape, expect_shape, label_path)
    cls = np.where(ids >= 1000, ids // 1000, ids)
    _check_range(path, ids, (ids >= 0) & (cls <= CITYSCAPES_MAX_LABEL_ID),
                 "Cityscapes instanceIds (labelIds 0..33, class*1000+k)")
    return ids.astype(np.int32)
