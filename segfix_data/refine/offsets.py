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
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from segfix_data.atomic import atomic_path
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


def npz_declared_shapes(path: str | os.PathLike) -> dict:
    """``{array name: declared shape}`` of an ``.npz`` file, from each member's ``.npy`` header
    only (a few hundred bytes inflated per member), so a compressed member declaring a huge array
    is measured before it is decompressed. Raises ValueError naming the file if a header cannot
    be read."""
    import zipfile

    out = {}
    try:
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if not name.endswith(".npy"):
                    continue
                with z.open(name) as fp:
                    version = np.lib.format.read_magic(fp)
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                            else np.lib.format.read_array_header_2_0)
                    shape, _, _ = read(fp)
                out[name[:-4]] = tuple(int(v) for v in shape)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read offsets file ({exc}); re-run `segfix predict`") from None
    return out


def read_offsets(path: str | os.PathLike, expect_shape=None) -> dict:
    """Read a file written by :func:`write_offsets`.

    With ``expect_shape`` (H, W), the shapes the file declares are checked against it before any
    array is decompressed (:func:`npz_declared_shapes`): a file declaring larger maps is refused.

    Returns:
        ``dict(boundary=uint8 (H, W) 0/1, direction=uint8 (H, W) bins or 255,
        num_directions=int)``.

    Raises:
        ValueError: naming the file when it is not a valid offsets file.
    """
    path = Path(path)
    if expect_shape is not None and path.is_file():
        want = (int(expect_shape[0]), int(expect_shape[1]))
        for name, shape in npz_declared_shapes(path).items():
            if np.prod(shape, dtype=np.float64) > want[0] * want[1] or (
                    name in ("boundary", "direction") and shape != want):
                raise InputError(f"{path}: {name} declares shape {shape}, but the frame is {want}; "
                                 "refusing to decompress it (re-run `segfix predict` for this frame)")
    try:
        z = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except Exception as exc:  # BadZipFile, UnpicklingError, ValueError, EOFError ...
        raise InputError(f"{path}: cannot read offsets file ({exc}); re-run `segfix predict`") from exc
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise InputError(f"{path}: not a segfix offsets file (a single .npy array, not an .npz)")
    with z:
        missing = {"boundary", "direction", "num_directions"} - set(z.files)
        if missing:
            raise InputError(
                f"{path}: not a segfix offsets file (missing {sorted(missing)}); "
                "write it with segfix_data.refine.offsets.write_offsets or `segfix predict`"
            )
        version = int(z["format_version"]) if "format_version" in z.files else 1
        if version > OFFSETS_FORMAT_VERSION:
            raise InputError(
                f"{path}: offsets format version {version} is newer than this segfix "
                f"({OFFSETS_FORMAT_VERSION}); upgrade segfix"
            )
        boundary, direction = z["boundary"], z["direction"]
        m = int(z["num_directions"])
    try:
        m = check_num_directions(m)
        boundary, direction = _check_maps(boundary, direction, m)
    except ValueError as exc:
        raise InputError(f"{path}: {exc}") from exc
    return {"boundary": boundary, "direction": direction, "num_directions": m}
