"""The authors' ``.mat`` files (openseg.pytorch), both ways.

Two kinds of file (``docs/targets.md`` section 6):

* ground-truth targets, one per label map: keys ``depth`` (uint8 HxW, distance capped at 250),
  ``dir_deg`` (uint8 HxW, ``(angle_deg + 180) / 2`` truncated, 0..180) and ``deg_reduce`` (= 2);
* predicted offsets, one per image: key ``mat``, H x W x 2 integers ``(dy, dx)``.

Files are written compressed with :func:`scipy.io.savemat` under a temporary name in the target's
folder and renamed into place, so a crash never leaves a half-written ``.mat``. Readers check keys,
shapes and dtypes and raise a ``ValueError`` naming the file and what is wrong.
"""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy.io

from segfix_data.atomic import atomic_path
from segfix_data.errors import InputError

DEG_REDUCE = 2

__all__ = [
    "DEG_REDUCE", "save_openseg_targets_mat", "load_openseg_targets_mat",
    "save_openseg_offsets_mat", "load_openseg_offsets_mat",
]


def _save_mat_atomic(path, arrays: dict) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        scipy.io.savemat(fh, arrays, do_compression=True, oned_as="column")
    return path


def _load_mat(path, keys: tuple[str, ...], file=None) -> dict:
    """The variables ``keys`` of the ``.mat`` at ``path`` (read from ``file``, a binary file already
    opened on it, when given)."""
    path = Path(path)
    if file is None and not path.is_file():
        raise FileNotFoundError(f"{path}: no such .mat file; check the path (or re-run the export)")
    try:
        if file is not None:
            file.seek(0)
        data = scipy.io.loadmat(path if file is None else file, variable_names=list(keys))
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError, MatReadError, ...
        raise InputError(
            f"{path}: not a readable MATLAB .mat file ({type(exc).__name__}: {exc}); the file is "
            "damaged or truncated: delete it and write it again"
        ) from exc
    missing = [k for k in keys if k not in data]
    if missing:
        raise InputError(f"{path}: missing key(s) {missing} (expected keys {list(keys)}); "
                         "is this file of the right kind?")
    return data


#: MAT v5 data types read by :func:`mat_declared`.
_MI_MATRIX, _MI_COMPRESSED = 14, 15
#: Inflated bytes of a compressed variable read for its header (flags, dimensions, name).
_HEADER_BYTES = 1024
#: Bytes per element of the MAT v5 numeric array classes (mxDOUBLE_CLASS = 6 .. mxUINT64_CLASS = 15),
#: as :func:`scipy.io.loadmat` returns them.
_CLASS_ITEMSIZE = {6: 8, 7: 4, 8: 1, 9: 1, 10: 2, 11: 2, 12: 4, 13: 4, 14: 8, 15: 8}
_CLASS_NAMES = {1: "a cell array", 2: "a struct", 3: "an object", 4: "a char array", 5: "a sparse matrix",
                16: "a function handle", 17: "an opaque object"}
_COMPLEX_FLAG = 0x800


class MatVariable(NamedTuple):
    """One variable's header in a MAT v5 file: ``name``, ``dims``, the array class (6..15 numeric,
    1 cell, 2 struct...), ``complex``, and ``data_bytes``, the size its real part's data element
    declares (numeric classes; None otherwise). ``nbytes`` is what the loaded array takes (numeric
    classes: the product of ``dims`` times the item size, twice for complex; None for other
    classes, whose size their header does not give)."""

    name: str
    dims: tuple
    array_class: int
    complex: bool
    data_bytes: int | None = None

    @property
    def elements(self) -> int:
        n = 1
        for d in self.dims:
            n *= d
        return n

    @property
    def nbytes(self) -> int | None:
        size = _CLASS_ITEMSIZE.get(self.array_class)
        return None if size is None else size * (2 if self.complex else 1) * self.elements

    def kind(self) -> str:
        return _CLASS_NAMES.get(self.array_class, f"of array class {self.array_class}")


def _matrix_header(b: bytes, e: str) -> MatVariable:
    """The header of a MAT v5 miMATRIX element (``b`` starts after its tag)."""
    def element(off):
        (w0,) = struct.unpack_from(e + "I", b, off)
        if w0 >> 16:  # small data element: size in the high half, data in the tag's second word
            return w0 >> 16, off + 4, off + 8
        _, nb = struct.unpack_from(e + "II", b, off)
        return nb, off + 8, off + 8 + (nb + 7) // 8 * 8

    _, start, off = element(0)                   # array flags: class in the low byte
    (flags,) = struct.unpack_from(e + "I", b, start)
    nb, start, off = element(off)                # dimensions, int32
    dims = struct.unpack_from(e + f"{nb // 4}i", b, start)
    nb, start, off = element(off)                # array name
    name = bytes(b[start:start + nb]).decode("latin-1")
    cls = flags & 0xFF
    data = element(off)[0] if cls in _CLASS_ITEMSIZE else None  # the real part: what a reader allocates
    return MatVariable(name, tuple(int(d) for d in dims), cls, bool(flags & _COMPLEX_FLAG), data)


def mat_declared(source, where=None) -> list[MatVariable]:
    """Every variable's header of a MAT v5 file, in file order (duplicates included).

    ``source``: a path, or a seekable binary file (read from its start). A compressed variable's
    header is the start of its zlib stream: at most 1 KiB of it is inflated, so a file declaring a
    huge array (a zlib bomb) is measured before anything large is decompressed. Returns ``[]`` for
    a file that is not MAT v5 (v4 files are not compressed, so their size bounds what loading them
    costs; :func:`scipy.io.loadmat` judges the rest).

    Raises:
        ValueError: naming the file when a variable header cannot be read.
    """
    if not hasattr(source, "read"):
        with open(source, "rb") as f:
            return _declared(f, source if where is None else where)
    return _declared(source, getattr(source, "name", "the .mat file") if where is None else where)


def _declared(f, path) -> list[MatVariable]:
    out = []
    f.seek(0)
    head = f.read(128)
    if len(head) < 128 or head[126:128] not in (b"IM", b"MI"):
        return []
    e = "<" if head[126:128] == b"IM" else ">"
    size = os.fstat(f.fileno()).st_size
    pos = 128
    while pos + 8 <= size:
        f.seek(pos)
        typ, nbytes = struct.unpack(e + "II", f.read(8))
        try:
            if typ == _MI_COMPRESSED:
                d = zlib.decompressobj()
                body = d.decompress(f.read(min(nbytes, 64 << 10)), _HEADER_BYTES)
                typ, inner = struct.unpack_from(e + "II", body, 0)
                body = body[8:]
            else:
                inner = nbytes
                body = f.read(min(nbytes, _HEADER_BYTES))
            if typ == _MI_MATRIX and inner:  # an empty miMATRIX (no bytes) is an empty array
                out.append(_matrix_header(body, e))
        except (struct.error, zlib.error, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: a variable header at byte {pos} cannot be read ({exc}); the "
                             "file is damaged or not a MATLAB .mat file: write it again") from None
        pos += 8 + nbytes
    return out


def mat_declared_shapes(path) -> dict:
    """``{variable name: declared shape}`` of a MAT v5 file (:func:`mat_declared`; of two variables
    with one name, the first, as :func:`scipy.io.loadmat` reads)."""
    out = {}
    for v in mat_declared(path):
        out.setdefault(v.name, v.dims)
    return out


def check_offsets_mat(path, variables: list[MatVariable], expect_shape) -> None:
    """Refuse (InputError naming ``path``) an offsets ``.mat`` whose declared variables could take
    more memory than the frame ``expect_shape`` (H, W) allows, before anything is decompressed.

    The rule: one variable per name (:func:`scipy.io.loadmat` and a header check could otherwise
    see different ones); every variable a real numeric array (a cell, struct or object declares
    nothing of what its elements hold; a complex part lies beyond the header); ``mat`` of shape
    (H, W, 2); and no variable needing more bytes than an (H, W, 2) double array, neither as
    loaded (shape times item size) nor as its data element declares (what a reader allocates
    before it checks the shape).
    """
    want = (int(expect_shape[0]), int(expect_shape[1]), 2)
    budget = want[0] * want[1] * 2 * 8
    seen = set()
    for v in variables:
        if v.name in seen:
            raise InputError(f"{path}: two variables named {v.name!r}; an offsets file holds one `mat` "
                             "(write the offsets for this frame again)")
        seen.add(v.name)
    for v in variables:
        if v.nbytes is None:
            raise InputError(f"{path}: variable {v.name!r} is {v.kind()}, not a numeric array; refusing to "
                             "load it (an offsets file holds one numeric (H, W, 2) array `mat`)")
        if v.complex:
            raise InputError(f"{path}: variable {v.name!r} is complex; offsets are real (dy, dx): write "
                             "the offsets for this frame again")
        if (v.name == "mat" and v.dims != want) or v.nbytes > budget or min(v.dims, default=1) < 0 \
                or v.data_bytes > min(budget, 8 * v.elements):
            raise InputError(f"{path}: {v.name} declares shape {v.dims} ({v.nbytes:,} bytes, a data element of "
                             f"{v.data_bytes:,}), but the frame "
                             f"needs mat of shape {want}; refusing to decompress it (write the offsets "
                             "for this frame again)")


def _check_map(arr, name: str, where: str, ndim: int = 2) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim != ndim or 0 in arr.shape:
        want = "(H, W)" if ndim == 2 else "(H, W, 2)"
        raise InputError(f"{where}: {name} must have shape {want}, got {arr.shape}")
    return arr


def _as_uint8(arr: np.ndarray, name: str, where: str, upper: int) -> np.ndarray:
    """Integer map with values in 0..upper -> uint8 (a float map holding whole numbers is accepted)."""
    if arr.dtype == np.uint8:
        if arr.max() > upper:
            raise InputError(f"{where}: {name} holds values up to {int(arr.max())}, expected 0..{upper}")
        return arr
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise InputError(f"{where}: {name} must be an integer array (uint8), got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating) and not np.array_equal(arr, np.round(arr)):
        raise InputError(f"{where}: {name} must hold whole numbers, got dtype {arr.dtype} with fractions")
    if arr.min() < 0 or arr.max() > upper:
        raise InputError(f"{where}: {name} values must lie in 0..{upper}, got {arr.min()}..{arr.max()}")
    return arr.astype(np.uint8)


def save_openseg_targets_mat(path, depth: np.ndarray, dir_deg: np.ndarray) -> Path:
    """Write the authors' ground-truth ``.mat``: keys ``depth``, ``dir_deg``, ``deg_reduce`` = 2.

    Args:
        path: output file (``*.mat``); its folder is created if needed.
        depth: uint8 (H, W) distance in pixels, capped at 250 (0 on ignored / skipped pixels).
        dir_deg: uint8 (H, W) direction ``(angle_deg + 180) / 2``, 0..180.

    Returns:
        The path written.
    """
    depth = _as_uint8(_check_map(depth, "depth", "save_openseg_targets_mat"), "depth",
                      "save_openseg_targets_mat", 255)
    dir_deg = _as_uint8(_check_map(dir_deg, "dir_deg", "save_openseg_targets_mat"), "dir_deg",
                        "save_openseg_targets_mat", 180)
    if depth.shape != dir_deg.shape:
        raise InputError(f"save_openseg_targets_mat: depth {depth.shape} and dir_deg {dir_deg.shape} "
                         "must have the same (H, W) shape")
    return _save_mat_atomic(path, {"depth": depth, "dir_deg": dir_deg, "deg_reduce": DEG_REDUCE})


def load_openseg_targets_mat(path) -> dict:
    """Read the authors' ground-truth ``.mat``.

    Returns:
        ``dict(depth=uint8 (H, W), dir_deg=uint8 (H, W), deg_reduce=int)``.

    Raises:
        FileNotFoundError: no such file. ValueError: unreadable file, missing key, wrong shape,
        dtype or value range (the message names the file).
    """
    data = _load_mat(path, ("depth", "dir_deg", "deg_reduce"))
    depth = _as_uint8(_check_map(data["depth"], "depth", str(path)), "depth", str(path), 255)
    dir_deg = _as_uint8(_check_map(data["dir_deg"], "dir_deg", str(path)), "dir_deg", str(path), 180)
    if depth.shape != dir_deg.shape:
        raise InputError(f"{path}: depth {depth.shape} and dir_deg {dir_deg.shape} differ in shape")
    reduce = np.asarray(data["deg_reduce"])
    if reduce.size != 1 or not np.isfinite(reduce.astype(np.float64)).all():
        raise InputError(f"{path}: deg_reduce must be one number, got shape {reduce.shape}")
    return {"depth": depth, "dir_deg": dir_deg, "deg_reduce": int(reduce.ravel()[0])}


def save_openseg_offsets_mat(path, offsets: np.ndarray) -> Path:
    """Write the authors' offsets ``.mat``: key ``mat``, int16 (H, W, 2) ``(dy, dx)`` in pixels.

    Args:
        path: output file (``*.mat``).
        offsets: integer (H, W, 2) offsets ``(dy, dx)`` (the authors' are in {-1, 0, 1}).
    """
    offsets = _check_map(offsets, "offsets", "save_openseg_offsets_mat", ndim=3)
    if offsets.shape[2] != 2 or not np.issubdtype(offsets.dtype, np.integer):
        raise InputError(f"save_openseg_offsets_mat: offsets must be an integer (H, W, 2) array of "
                         f"(dy, dx), got shape {offsets.shape} dtype {offsets.dtype}")
    if offsets.size and (offsets.min() < -32768 or offsets.max() > 32767):
        raise InputError("save_openseg_offsets_mat: offsets do not fit in int16")
    return _save_mat_atomic(path, {"mat": offsets.astype(np.int16)})


def load_openseg_offsets_mat(path, expect_shape=None, file=None) -> np.ndarray:
    """Read the authors' offsets ``.mat`` (key ``mat``) -> int16 (H, W, 2) ``(dy, dx)``.

    Float files holding whole numbers (as MATLAB writes doubles) are accepted. With
    ``expect_shape`` (H, W), the variables the file declares are checked against it before any
    is decompressed (:func:`check_offsets_mat`): a file declaring more than an ``(H, W, 2)``
    array, two ``mat`` variables or a cell array is refused at once, whatever its compressed size.
    ``file``: a binary file already opened on ``path``; the check and the load read it (the same
    bytes), not ``path`` again.
    """
    if file is None:
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: no such .mat file; check the path (or re-run the export)")
        with open(path, "rb") as f:
            return load_openseg_offsets_mat(path, expect_shape, f)
    if expect_shape is not None:
        check_offsets_mat(path, mat_declared(file, path), expect_shape)
    mat = _check_map(_load_mat(path, ("mat",), file)["mat"], "mat", str(path), ndim=3)
    if mat.shape[2] != 2:
        raise InputError(f"{path}: mat must have shape (H, W, 2) of (dy, dx), got {mat.shape}")
    if not (np.issubdtype(mat.dtype, np.integer) or np.issubdtype(mat.dtype, np.floating)):
        raise InputError(f"{path}: mat must be numeric, got dtype {mat.dtype}")
    if np.issubdtype(mat.dtype, np.floating) and not np.array_equal(mat, np.round(mat)):
        raise InputError(f"{path}: mat must hold whole-pixel offsets, found fractions")
    if mat.min() < -32768 or mat.max() > 32767:
        raise InputError(f"{path}: offsets out of the int16 range")
    return mat.astype(np.int16)
