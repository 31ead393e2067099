"""Read one frame's files with checks that name the file, and the frame keys files are matched by.

:func:`read_label` and :func:`read_instance_ids` read one label file with checks that name the file
(truncated or non-PNG file, RGB where ids are expected, size differing from the image, ids outside
the layout's table) and raise :class:`~segfix_data.datasets.frame.FrameError`; :func:`read_image`
reads the RGB image; :func:`frame_key` names the frame a file belongs to.

Decoding: :func:`decode_png` decodes the common PNG kinds (8-bit RGB, RGBA, grey; 16-bit grey)
with ``pyspng`` (libspng, the optional extra ``segfix[fast]``: ~0.7x PIL's time on a 2048x1024
frame) into exactly the arrays PIL gives; every other file (palette, grey+alpha, 16-bit colour,
1/2/4-bit, interlaced, JPEG, damaged or unreadable files) and every machine without the wheel
goes through PIL as before, with the same checks and messages. Label ids become train ids by one
table lookup with the range check in the same pass (:func:`_map_ids`).
"""
from __future__ import annotations

import errno
import json
import os
import stat

import numba
import numpy as np
from PIL import Image

from . import labels as _labels
from .frame import FrameError, frame_key  # noqa: F401  (frame_key: its historical home)
from .layouts import LAYOUTS
from segfix_data.errors import InputError
from segfix_data.ignore import IGNORE_INDEX
from .pixels import check_declared, check_pixels

#: Largest raw id each layout's label table knows (ids above it are "outside the table").
CITYSCAPES_MAX_LABEL_ID = 33
ADE20K_MAX_LABEL_ID = _labels.ADE20K_NUM_CLASSES

_ID_MODES = ("L", "P", "I;16", "I;16B", "I;16L", "I")


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_spng = None  # the pyspng module once imported, False where it is not installed


def _pyspng():
    global _spng
    if _spng is None:
        try:
            import pyspng
        except ImportError:  # the optional extra is missing: PIL decodes everything
            pyspng = False
        _spng = pyspng
    return _spng


def decode_png(path: str, kind: str, data: bytes | None = None) -> np.ndarray | None:
    """Decode a PNG of a kind known to give exactly PIL's array; None for anything else.

    Args:
        path: the file.
        kind: ``"rgb"`` (an image: 8-bit RGB, RGBA or grey -> uint8 (H, W, 3), what
            ``PIL ... .convert("RGB")`` gives: alpha dropped, grey repeated) or ``"ids"`` (an id
            map: 8- or 16-bit grey -> uint8 / uint16 (H, W), what ``np.asarray(PIL image)``
            gives).
        data: the file's bytes when already read (then the file is not opened here).

    Returns:
        The array, or None when pyspng is not installed, the file cannot be read or is not a
        PNG, its kind is another (palette, grey+alpha, 16-bit colour, under 8 bits, interlaced),
        or pyspng fails on it: the caller then reads it with PIL, which reports bad files.
    """
    spng = _pyspng()
    if not spng:
        return None
    if data is None:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return None
    # IHDR: signature (8), length + type (8), width, height (4 + 4), depth, colour type,
    # compression, filter, interlace (1 each).
    if len(data) < 33 or data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR" or data[28] != 0:
        return None
    depth, colour = data[24], data[25]
    h = int.from_bytes(data[20:24], "big")
    w = int.from_bytes(data[16:20], "big")
    check_declared(path, w, h)  # a bomb is refused before libspng allocates its pixels
    try:
        if kind == "rgb" and depth == 8 and colour in (0, 2, 6):  # grey, RGB, RGBA
            arr = spng.load(data, "RGB")
        elif kind == "ids" and colour == 0 and depth in (8, 16):
            arr = spng.load(data)
            if depth == 16:  # libspng gives 16-bit grey as grey+alpha (alpha 65535)
                if arr.ndim != 3 or arr.shape[2] != 2:
                    return None
                arr = arr[:, :, 0]
        else:
            return None
    except Exception:  # damaged file: PIL reads it again and names the problem
        return None
    want = (h, w, 3) if kind == "rgb" else (h, w)
    if arr.shape != want or arr.dtype != (np.uint16 if depth == 16 else np.uint8):
        return None
    return np.ascontiguousarray(arr)


@numba.njit(cache=True, nogil=True)
def _map_ids_kernel(ids, table, out):
    bad = 0
    for i in range(ids.shape[0]):
        v = table[ids[i]]
        bad += v < 0
        out[i] = v
    return bad


def _map_ids(ids: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, int]:
    """``table[ids]`` in one pass, with the number of ids outside the table (entry < 0).

    Args:
        ids: uint8 or uint16 (H, W) raw ids.
        table: int16 table of length 256 (uint8 ids) or 65536 (uint16 ids): raw id -> train id
            0..255, -1 outside the table.

    Returns:
        ``(uint8 (H, W) train ids, number of pixels outside the table)``.
    """
    flat = np.ascontiguousarray(ids).reshape(-1)
    out = np.empty(flat.shape, np.uint8)
    bad = _map_ids_kernel(flat, table, out)
    return out.reshape(ids.shape), int(bad)


def _id_table(layout: str, class_map: np.ndarray | None, size: int) -> np.ndarray | None:
    """int16 table raw id -> train id (-1 outside the layout's table) for ids below ``size``."""
    table = np.full(size, -1, np.int16)
    if layout in ("cityscapes", "gta5"):
        table[: CITYSCAPES_MAX_LABEL_ID + 1] = _labels.cityscapes_label_to_train_id_table()[
            : CITYSCAPES_MAX_LABEL_ID + 1]
    elif layout == "ade20k":
        table[: ADE20K_MAX_LABEL_ID + 1] = _labels.ade20k_to_train_ids(
            np.arange(ADE20K_MAX_LABEL_ID + 1)[None])[0]
    elif layout == "folder" and class_map is not None:
        table[:] = class_map[:size]
    else:
        return None
    return table


def check_file(path: str, what: str = "file", fix: str = "restore the file or remove the frame") -> None:
    """Raise :class:`FrameError` naming what is wrong with ``path`` before it is opened: missing,
    a dangling symbolic link, a symbolic link loop, a directory, not a regular file, permission
    denied (on the file or a directory above it)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        problem = "dangling symbolic link" if os.path.islink(path) else f"{what} not found"
        raise FrameError(path, problem, fix) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FrameError(path, "symbolic link loop", "point the link at the real file") from None
        if exc.errno == errno.EACCES:
            raise FrameError(path, "permission denied (on a directory above it)",
                             "make it readable by this user") from None
        raise FrameError(path, f"cannot access the {what} ({exc.strerror})", fix) from None
    if stat.S_ISDIR(st.st_mode):
        raise FrameError(path, f"is a directory, not a {what}", "remove or rename the directory")
    if not stat.S_ISREG(st.st_mode):
        raise FrameError(path, f"is not a regular file (a device, socket or pipe) where a {what} "
                         "is expected", fix)
    if not os.access(path, os.R_OK):
        raise FrameError(path, "permission denied", "make it readable by this user (chmod a+r)")


def _decode_problem(path: str, exc: BaseException) -> FrameError:
    if isinstance(exc, PermissionError):
        return FrameError(path, "permission denied", "make it readable by this user (chmod a+r)")
    if isinstance(exc, OSError) and exc.errno not in (None, 0) and not isinstance(exc, FileNotFoundError):
        return FrameError(path, f"cannot read the file ({exc.strerror or exc})", "check the disk and the file")
    return FrameError(path, f"cannot decode the image ({type(exc).__name__}: {exc}); "
                      "truncated or corrupt file", "re-extract or re-download it")


def _open_png(path: str) -> Image.Image:
    check_file(path)
    try:
        im = Image.open(path)
        fmt = im.format
        im.load()
    except PermissionError as exc:
        raise _decode_problem(path, exc) from None
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError... for bad files
        raise FrameError(path, f"cannot decode the image ({type(exc).__name__}: {exc}); "
                         "truncated or corrupt file", "re-extract or re-download it") from None
    if fmt != "PNG":
        raise FrameError(path, f"not a PNG file (found {fmt})", "label files must be lossless PNG")
    return im


def _ids_array(path: str, im: Image.Image, what: str) -> np.ndarray:
    if im.mode == "1":
        raise FrameError(path, f"{what} is a 1-bit (black and white) image where 8- or 16-bit ids are "
                         "expected", "save it as an 8-bit greyscale or palette PNG of ids")
    if im.mode not in _ID_MODES:
        if is_grey_rgb(im):
            raise FrameError(path, f"{what} has mode {im.mode} with three equal channels: ids saved as "
                             "colour", "convert it to a single-channel PNG, e.g. "
                             "Image.open(path).convert('L').save(path)")
        raise FrameError(path, f"{what} has mode {im.mode} (colour) where a single-channel id image "
                         "is expected", "use the id PNG (e.g. *_labelIds.png), not a colour rendering")
    return np.asarray(im)


def is_grey_rgb(im: Image.Image) -> bool:
    """True for an 8-bit RGB / RGBA image whose R, G and B channels are equal everywhere (an id map
    saved as colour, which ``convert('L')`` turns into the ids without loss)."""
    if im.mode not in ("RGB", "RGBA"):
        return False
    a = np.asarray(im)
    return bool(np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(a[..., 0], a[..., 2]))


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
    check_file(path, "image file", "restore it or remove its label")
    check_pixels(path)
    try:
        with Image.open(path) as im:
            w, h = im.size
    except PermissionError as exc:
        raise _decode_problem(path, exc) from None
    except Exception as exc:
        raise FrameError(path, f"cannot read the image header ({type(exc).__name__}: {exc})",
                         "re-extract or re-download it") from None
    return h, w


def read_image(path: str, *, data: bytes | None = None) -> np.ndarray:
    """Decode an image file to uint8 (H, W, 3) RGB (greyscale and palette images are expanded);
    ``data``: the file's bytes when already read (the fast PNG path decodes them)."""
    check_file(path, "image file", "restore it or remove its label")
    check_pixels(path)
    rgb = decode_png(path, "rgb", data)
    if rgb is not None:
        return rgb
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode == "1":
                raise FrameError(path, "image is 1-bit (black and white)", "convert it to 8-bit RGB")
            if im.mode not in ("RGB", "L", "P", "RGBA", "LA", "CMYK", "YCbCr"):
                raise FrameError(path, f"image mode {im.mode} is not 8-bit colour or greyscale",
                                 "convert it to 8-bit RGB")
            rgb = np.asarray(im if im.mode == "RGB" else im.convert("RGB"))
    except FrameError:
        raise
    except Exception as exc:
        raise _decode_problem(path, exc) from None
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
                raise InputError(f"entry {raw}: {train} out of range (raw 0..65535, train 0..255)")
            table[raw] = train
    except (OSError, ValueError, AttributeError) as exc:
        raise InputError(f"{path}: bad class map ({exc}); expected a JSON object "
                         '{"raw id": train id, ...} with train id 255 for ignore') from None
    return table


def read_label(path: str, layout: str, *, expect_shape: tuple | None = None,
               image_path: str | None = None, class_map: np.ndarray | None = None,
               reduce_zero_label: bool = False, data: bytes | None = None) -> np.ndarray:
    """Read one semantic label PNG and convert it to train ids.

    Args:
        path: the label file (raw ids of ``layout``).
        layout: one of :data:`LAYOUTS`.
        expect_shape: (H, W) of the image, checked when given.
        image_path: the image file, named in a size-mismatch error.
        class_map: folder layout only, the table of :func:`load_class_map`; None: the labels are
            train ids already (0..254, 255 = ignore).
        reduce_zero_label: mmseg layout: ids 1..K are classes 0..K-1 and 0 is ignore.
        data: the file's bytes when already read (the fast PNG path decodes them).

    Returns:
        uint8 (H, W) train ids, 255 = ignore.
    """
    check_file(path)
    check_pixels(path)
    ids = decode_png(path, "ids", data)
    if ids is None:
        ids = _ids_array(path, _open_png(path), "label")
    _check_size(path, ids.shape, expect_shape, image_path)
    if ids.dtype in (np.uint8, np.uint16):  # the common case: one table pass, range check included
        table = _id_table(layout, class_map, 256 if ids.dtype == np.uint8 else 65536)
        if table is not None:
            train, bad = _map_ids(ids, table)
            if not bad:
                return train
    ids = ids.astype(np.int64)  # other dtypes, or ids outside the table: checked and named below
    if layout in ("cityscapes", "gta5"):
        _check_range(path, ids, (ids >= 0) & (ids <= CITYSCAPES_MAX_LABEL_ID), "Cityscapes labelIds (0..33)")
        return _labels.cityscapes_label_ids_to_train_ids(ids)
    if layout == "ade20k":
        _check_range(path, ids, (ids >= 0) & (ids <= ADE20K_MAX_LABEL_ID), "ADE20K (0..150)")
        return _labels.ade20k_to_train_ids(ids)
    if layout == "voc":  # palette PNG: the indices are the class ids
        _check_range(path, ids, (ids >= 0) & ((ids < len(_labels.VOC_CLASS_NAMES)) | (ids == IGNORE_INDEX)),
                     "PASCAL VOC (0..20, 255)")
        return _labels.voc_to_train_ids(ids)
    if layout == "mmseg" or (layout == "folder" and class_map is None):
        _check_range(path, ids, (ids >= 0) & (ids <= IGNORE_INDEX), "train ids (0..254, 255 ignore)")
        return _labels.reduce_zero_label(ids) if reduce_zero_label else ids.astype(np.uint8)
    if layout == "folder":
        inside = (ids >= 0) & (ids < class_map.size)
        train = np.where(inside, class_map[np.clip(ids, 0, class_map.size - 1)], -1)
        _check_range(path, ids, train >= 0, "class map")
        return train.astype(np.uint8)
    raise InputError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")


def read_instance_ids(path: str, *, expect_shape: tuple | None = None,
                      label_path: str | None = None, data: bytes | None = None) -> np.ndarray:
    """Read a Cityscapes ``instanceIds`` PNG (16- or 32-bit, or 8-bit for stuff-only frames).

    Valid values: labelIds 0..33 and ``class * 1000 + k`` with class 0..33; ``data``: the file's
    bytes when already read (the fast PNG path decodes them).

    Returns:
        int32 (H, W) raw instance ids.
    """
    check_file(path)
    check_pixels(path)
    ids = decode_png(path, "ids", data)
    if ids is None:
        ids = _ids_array(path, _open_png(path), "instanceIds")
    ids = ids.astype(np.int64)
    _check_size(path, ids.shape, expect_shape, label_path)
    cls = np.where(ids >= 1000, ids // 1000, ids)
    _check_range(path, ids, (ids >= 0) & (cls <= CITYSCAPES_MAX_LABEL_ID),
                 "Cityscapes instanceIds (labelIds 0..33, class*1000+k)")
    return ids.astype(np.int32)
