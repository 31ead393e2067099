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


def _load_mat(path, keys: tuple[str, ...]) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such .mat file; check the path (or re-run the export)")
    try:
        data = scipy.io.loadmat(path, variable_names=list(keys))
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


#: MAT v5 data types read by :func:`mat_declared_shapes`.
_MI_MATRIX, _MI_COMPRESSED = 14, 15
#: Inflated bytes of a compressed variable read for its header (flags, dimensions, name).
_HEADER_BYTES = 1024


def _matrix_header(b: bytes, e: str) -> tuple[str, tuple]:
    """(name, dims) from the subelements of a MAT v5 miMATRIX element (``b`` starts after its tag)."""
    def element(off):
        (w0,) = struct.unpack_from(e + "I", b, off)
        if w0 >> 16:  # small data element: size in the high half, data in the tag's second word
            return w0 >> 16, off + 4, off + 8
        _, nb = struct.unpack_from(e + "II", b, off)
        return nb, off + 8, off + 8 + (nb + 7) // 8 * 8

    _, _, off = element(0)                       # array flags
    nb, start, off = element(off)                # dimensions, int32
    dims = struct.unpack_from(e + f"{nb // 4}i", b, start)
    nb, start, off = element(off)                # array name
    return bytes(b[start:start + nb]).decode("latin-1"), tuple(int(d) for d in dims)


def mat_declared_shapes(path) -> dict:
    """``{variable name: declared shape}`` of a MAT v5 file, read from the variables' headers only.

    A compressed variable's header is the start of its zlib stream: at most 1 KiB of it is
    inflated, so a file declaring a huge array (a zlib bomb) is measured before anything large
    is decompressed. Returns ``{}`` for a file that is not MAT v5 (v4 files are not compressed,
    so their size bounds what loading them costs; :func:`scipy.io.loadmat` judges the rest).

    Raises:
        ValueError: naming the file when a variable header cannot be read.
    """
    out = {}
    with open(path, "rb") as f:
        head = f.read(128)
        if len(head) < 128 or head[126:128] not in (b"IM", b"MI"):
            return {}
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
                    typ, _ = struct.unpack_from(e + "II", body, 0)
                    body = body[8:]
                else:
                    body = f.read(min(nbytes, _HEADER_BYTES))
                if typ == _MI_MATRIX:
                    name, dims = _matrix_header(body, e)
                    out[name] = dims
            except (struct.error, zlib.error) as exc:
                raise InputError(f"{path}: a variable header at byte {pos} cannot be read ({exc}); the "
                                 "file is damaged or not a MATLAB .mat file: write it again") from None
            pos += 8 + nbytes
    return out


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


def load_openseg_offsets_mat(path, expect_shape=None) -> np.ndarray:
    """Read the authors' offsets ``.mat`` (key ``mat``) -> int16 (H, W, 2) ``(dy, dx)``.

    Float files holding whole numbers (as MATLAB writes doubles) are accepted. With
    ``expect_shape`` (H, W), the shapes the file declares are checked against it before any
    variable is decompressed (:func:`mat_declared_shapes`): a file declaring more than an
    ``(H, W, 2)`` array is refused at once, whatever its compressed size.
    """
    if expect_shape is not None and Path(path).is_file():
        want = (int(expect_shape[0]), int(expect_shape[1]), 2)
        for name, dims in mat_declared_shapes(path).items():
            if (name == "mat" and dims != want) or int(np.prod(dims, dtype=np.float64)) > want[0] * want[1] * 2:
                raise InputError(f"{path}: {name} declares shape {dims}, but the frame needs mat of shape "
                                 f"{want}; refusing to decompress it (write the offsets for this frame again)")
    mat = _check_map(_load_mat(path, ("mat",))["mat"], "mat", str(path), ndim=3)
    if mat.shape[2] != 2:
        raise InputError(f"{path}: mat must have shape (H, W, 2) of (dy, dx), got {mat.shape}")
    if not (np.issubdtype(mat.dtype, np.integer) or np.issubdtype(mat.dtype, np.floating)):
        raise InputError(f"{path}: mat must be numeric, got dtype {mat.dtype}")
    if np.issubdtype(mat.dtype, np.floating) and not np.array_equal(mat, np.round(mat)):
        raise InputError(f"{path}: mat must hold whole-pixel offsets, found fractions")
    if mat.min() < -32768 or mat.max() > 32767:
        raise InputError(f"{path}: offsets out of the int16 range")
    return mat.astype(np.int16)
