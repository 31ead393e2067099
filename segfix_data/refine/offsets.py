"""Per-image offsets files: the predicted boundary mask and direction bins, one ``.npz`` each.

``segfix predict`` writes one file per image (``<stem>.npz``); ``segfix refine --offsets DIR``
reads them back. A file holds what refinement needs and nothing more:

* ``boundary``        uint8 (H, W): 1 on predicted boundary pixels, 0 elsewhere;
* ``direction``       uint8 (H, W): direction bin ``0 .. m-1`` (``segfix_data.targets.direction``), 255
  where no direction is given;
* ``num_directions``  the number of bins ``m`` (4, 8 or 16), which fixes the bin -> offset table.

The arrays are stored with ``numpy.savez_compressed`` (a 2048x1024 frame takes a few tens of KiB
because both maps are mostly constant). Writes are atomic: a temporary file in the same
directory is renamed over the target, so a crash never leaves a half-written file.

Reading trusts nothing a file declares (:func:`read_offsets`): every member's ``.npy`` header is
judged against the frame (shape times item size) before anything is inflated, and only the members
judged are read, exactly their declared bytes, never through :func:`numpy.load`.
"""
from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from segfix_data.atomic import atomic_path
from segfix_data.datasets.npy import MAX_INT_ITEMSIZE, read_npy_data, read_npy_header
from segfix_data.datasets.pixels import max_image_pixels
from segfix_data.targets.direction import DIRECTION_IGNORE, check_num_directions
from segfix_data.errors import InputError

#: Format version stored in every file; bump it when the layout changes.
OFFSETS_FORMAT_VERSION = 1

OFFSETS_SUFFIX = ".npz"


def _check_maps(boundary: np.ndarray, direction: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    boundary = np.asarray(boundary)
    direction = np.asarray(direction)
    if boundary.ndim != 2:
        raise InputError(f"boundary must be a 2-D (H, W) array, got shape {boundary.shape}")
    if direction.shape != boundary.shape:
        raise InputError(
            f"direction must have the boundary's shape {boundary.shape}, got {direction.shape}"
        )
    for name, arr in (("boundary", boundary), ("direction", direction)):
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
            raise InputError(f"{name} must be an integer (uint8) array, got dtype {arr.dtype}")
    if boundary.size and (boundary.min() < 0 or boundary.max() > 1):
        raise InputError("boundary must hold only 0 and 1 (no ignore value in predicted masks)")
    d = direction.astype(np.int64, copy=False)
    bad = (d != DIRECTION_IGNORE) & ((d < 0) | (d >= m))
    if bad.any():
        raise InputError(
            f"direction must hold bins 0..{m - 1} or {DIRECTION_IGNORE}, "
            f"got e.g. {int(d[bad].flat[0])}"
        )
    return boundary.astype(np.uint8, copy=False), direction.astype(np.uint8, copy=False)


def write_offsets(
    path: str | os.PathLike, boundary: np.ndarray, direction: np.ndarray, num_directions: int
) -> Path:
    """Write one image's boundary mask and direction bins to ``path`` (``.npz``), atomically.

    Args:
        path: target file; ``.npz`` is appended when missing. Parent directories are created.
        boundary: uint8 (H, W), 1 = boundary pixel, 0 = not.
        direction: uint8 (H, W), bin ``0 .. num_directions-1`` or 255 (none).
        num_directions: 4, 8 or 16.

    Returns:
        The path written.
    """
    m = check_num_directions(num_directions)
    boundary, direction = _check_maps(boundary, direction, m)
    path = Path(path)
    if path.suffix != OFFSETS_SUFFIX:
        path = path.with_name(path.name + OFFSETS_SUFFIX)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(
            f,
            boundary=boundary,
            direction=direction,
            num_directions=np.int64(m),
            format_version=np.int64(OFFSETS_FORMAT_VERSION),
        )
    return path


#: The members :func:`read_offsets` reads (``format_version`` may be absent: version 1).
_MAPS = ("boundary", "direction")
_SCALARS = ("num_directions", "format_version")
#: Bytes of an ``.npy`` header: a member's zip entry may be this much larger than its data.
_NPY_HEADER_MAX = 64 << 10
#: What reading a damaged, encrypted or oddly compressed zip member raises.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError)


def _members(z, path: Path) -> dict:
    """``{array name: ZipInfo}`` of an ``.npz`` (names with or without ``.npy``, as numpy reads
    them); two entries for one array (a repeated name, or ``x`` and ``x.npy``) are refused."""
    out = {}
    for info in z.infolist():
        name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        if name in out:
            raise InputError(f"{path}: two members for the array {name!r} ({out[name].filename} and "
                             f"{info.filename}); re-run `segfix predict` for this frame")
        out[name] = info
    return out


def _rule(name: str, header, want) -> str | None:
    """What is wrong with member ``name`` declaring ``header`` for a frame of shape ``want`` (None:
    the frame is unknown, so the decompression-bomb pixel limit bounds the maps), or None if fine."""
    if name in _MAPS:
        if not header.is_integer(bool_ok=True):
            return f"{name} must be an integer (uint8) map, got {header.describe()}"
        if want is not None and header.shape != want:
            return f"{name} declares shape {header.shape}, but the frame is {want}"
        if len(header.shape) != 2 or (want is None and header.shape[0] * header.shape[1] > max_image_pixels()):
            return f"{name} declares {header.describe()}: not a 2-D map of at most {max_image_pixels():,} pixels"
        return None
    if name in _SCALARS:
        if header.shape not in ((), (1,)) or not header.is_integer():
            return f"{name} must be one integer, got {header.describe()}"
        return None
    pixels = want[0] * want[1] if want is not None else max_image_pixels()
    if header.nbytes > pixels * MAX_INT_ITEMSIZE:
        return f"{name} declares {header.describe()} ({header.nbytes:,} bytes), more than a map of the frame"
    return None


def _read_member(z, info, path: Path, want, data: bool = True, judge: bool = True):
    """One member's header, judged by :func:`_rule` (with ``judge``) before anything else is
    inflated, then (with ``data``) exactly its declared bytes, from the same open member:
    ``(header, array or None)``."""
    name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
    where = f"{path}: member {info.filename}"
    try:
        with z.open(info) as fp:
            header = read_npy_header(fp, where)
            problem = _rule(name, header, want) if judge else None
            if judge and problem is None and info.file_size > header.nbytes + _NPY_HEADER_MAX:
                problem = f"{name}'s zip entry declares {info.file_size:,} bytes for {header.describe()}"
            if problem is not None:
                raise InputError(f"{path}: {problem}; refusing to decompress it (re-run `segfix predict` "
                                 "for this frame)")
            return header, (read_npy_data(fp, header, where) if data else None)
    except _ZIP_ERRORS as exc:
        raise InputError(f"{where}: cannot be read ({type(exc).__name__}: {exc}); re-run `segfix predict` "
                         "for this frame") from None


def _open_npz(path: Path, file=None):
    try:
        return zipfile.ZipFile(path if file is None else file)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise InputError(f"{path}: cannot read offsets file ({exc}); re-run `segfix predict`") from None


def npz_declared_shapes(path: str | os.PathLike) -> dict:
    """``{array name: declared shape}`` of an ``.npz`` file, from each member's ``.npy`` header
    only (a few hundred bytes inflated per member). Raises InputError naming the file if a header
    cannot be read."""
    path = Path(path)
    with _open_npz(path) as z:
        return {name: _read_member(z, info, path, None, data=False, judge=False)[0].shape
                for name, info in _members(z, path).items()}


def _scalar(arr: np.ndarray) -> int:
    return int(arr.reshape(-1)[0])


def read_offsets(path: str | os.PathLike, expect_shape=None, file=None) -> dict:
    """Read a file written by :func:`write_offsets`.

    Every member's declared size is judged before anything is decompressed: ``boundary`` and
    ``direction`` must be integer maps of the frame's shape ``expect_shape`` (H, W) (without it, of
    at most ``--max-image-pixels`` pixels), ``num_directions`` and ``format_version`` one integer
    each, any other member no larger than a map, and each zip entry no larger than its array. Only
    then are the four arrays read, each from the member whose header was judged (never through
    :func:`numpy.load`, which reads members by name whatever their header declares).

    Args:
        path: the ``.npz`` file (named in every message).
        expect_shape: the frame's (H, W), or None.
        file: a binary file already opened on ``path``, read instead of opening ``path`` again.

    Returns:
        ``dict(boundary=uint8 (H, W) 0/1, direction=uint8 (H, W) bins or 255,
        num_directions=int)``.

    Raises:
        InputError (a ValueError): naming the file when it is not a valid offsets file.
    """
    path = Path(path)
    want = None if expect_shape is None else (int(expect_shape[0]), int(expect_shape[1]))
    with _open_npz(path, file) as z:
        members = _members(z, path)
        missing = {"boundary", "direction", "num_directions"} - set(members)
        if missing:
            raise InputError(
                f"{path}: not a segfix offsets file (missing {sorted(missing)}); "
                "write it with segfix_data.refine.offsets.write_offsets or `segfix predict`"
            )
        for info in members.values():  # every declared size first, nothing inflated beyond headers
            _read_member(z, info, path, want, data=False)
        got = {name: _read_member(z, members[name], path, want)[1]
               for name in _MAPS + _SCALARS if name in members}
    version = _scalar(got["format_version"]) if "format_version" in got else 1
    if version > OFFSETS_FORMAT_VERSION or version < 1:
        raise InputError(
            f"{path}: offsets format version {version} is "
            + (f"newer than this segfix ({OFFSETS_FORMAT_VERSION}); upgrade segfix" if version > 1
               else "not a segfix offsets version; re-run `segfix predict`")
        )
    try:
        m = check_num_directions(_scalar(got["num_directions"]))
        boundary, direction = _check_maps(got["boundary"], got["direction"], m)
    except ValueError as exc:
        raise InputError(f"{path}: {exc}") from exc
    return {"boundary": boundary, "direction": direction, "num_directions": m}
