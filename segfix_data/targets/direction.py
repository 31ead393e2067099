"""Direction kernels, angle -> bin -> offset tables and the horizontal flip of bins.

Conventions (``docs/targets.md`` section 4): row ``y`` grows downward, column ``x``
rightward; an offset is ``(dy, dx)``; an angle ``theta = atan2(gy, gx)`` is in degrees in
``(-180, 180]`` and points from a boundary pixel into its object's interior.

``m`` (the number of direction bins) is 4, 8 or 16:

* ``m = 8`` and ``m = 16``: bins centred at ``c_i = -180 + i * 360 / m``; bin ``i`` holds
  ``(c_i - 180/m, c_i + 180/m]``; bin 0 also holds ``theta <= -180 + 180/m`` and
  ``theta > 180 - 180/m``.
* ``m = 4``: quadrants, bin ``i`` holds ``[-180 + 90 i, -90 + 90 i)``; 180 goes to bin 3.

Every bin edge is a multiple of 11.25 degrees, exactly representable in binary floating point,
so binning compares against exact edges and never divides.
"""
from __future__ import annotations

import numpy as np
from segfix_data.errors import InputError

SUPPORTED_DIRECTIONS = (4, 8, 16)

#: Value of a direction map where no direction is defined (ignore, non-boundary, zero gradient).
DIRECTION_IGNORE = 255


def check_num_directions(m: int) -> int:
    """Return ``m`` as an int, or raise ``ValueError`` naming the supported values."""
    if int(m) != m or int(m) not in SUPPORTED_DIRECTIONS:
        raise InputError(f"num_directions must be one of {SUPPORTED_DIRECTIONS}, got {m!r}")
    return int(m)


def direction_kernels(ksize: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``ksize x ksize`` cross-correlation kernels ``(Ky, Kx)`` of targets.md section 4.

    ``Kx[j, i] = i / (i*i + j*j)`` and ``Ky[j, i] = j / (i*i + j*j)`` with ``i, j`` the column and
    row offsets from the centre; the centre tap is 0.

    Returns:
        Two float64 arrays of shape ``(ksize, ksize)``.
    """
    if int(ksize) != ksize or ksize < 3 or ksize % 2 == 0:
        raise InputError(f"ksize must be an odd integer >= 3, got {ksize!r}")
    r = ksize // 2
    j, i = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float64)
    norm = i * i + j * j
    norm[r, r] = 1.0  # centre tap: numerator is 0 anyway
    return j / norm, i / norm


def bin_edges(m: int) -> np.ndarray:
    """The ``m - 1`` (m = 4) or ``m`` (m = 8, 16) interior bin edges in degrees, ascending."""
    m = check_num_directions(m)
    if m == 4:
        return np.array([-90.0, 0.0, 90.0])
    width = 360.0 / m
    return -180.0 + width / 2 + width * np.arange(m, dtype=np.float64)


def angle_to_bin(theta_deg: np.ndarray, m: int = 8) -> np.ndarray:
    """Bin index of each angle.

    Args:
        theta_deg: angles in degrees, any shape, float; expected in ``[-180, 180]``.
        m: number of bins (4, 8 or 16).

    Returns:
        uint8 array of the same shape with values in ``0 .. m-1``.
    """
    m = check_num_directions(m)
    theta = np.asarray(theta_deg, dtype=np.float64)
    edges = bin_edges(m)
    if m == 4:
        # bin i holds [-180 + 90 i, -90 + 90 i): count edges <= theta; 180 lands in bin 3.
        idx = np.searchsorted(edges, theta, side="right")
        return idx.astype(np.uint8)
    # bin i holds (e_{i-1}, e_i]: count edges strictly below theta, wrap m -> 0.
    idx = np.searchsorted(edges, theta, side="left")
    return (idx % m).astype(np.uint8)


def bin_centres(m: int) -> np.ndarray:
    """Centre angle in degrees of each bin, shape ``(m,)``, float64 (``-180`` written as 180)."""
    m = check_num_directions(m)
    if m == 4:
        return np.array([-135.0, -45.0, 45.0, 135.0])
    c = -180.0 + np.arange(m) * 360.0 / m
    c[0] = 180.0
    return c


_OFFSETS = {
    4: [(-1, -1), (-1, 1), (1, 1), (1, -1)],
    8: [(0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1)],
    16: [
        (0, -2), (-1, -2), (-2, -2), (-2, -1), (-2, 0), (-2, 1), (-2, 2), (-1, 2),
        (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (2, -1), (2, -2), (1, -2),
    ],
}


def bin_offsets(m: int = 8) -> np.ndarray:
    """Bin -> offset table: int64 array of shape ``(m, 2)`` holding ``(dy, dx)`` per bin."""
    return np.array(_OFFSETS[check_num_directions(m)], dtype=np.int64)


def flip_bins(m: int = 8) -> np.ndarray:
    """Permutation of bins under a horizontal flip of the image.

    A horizontal flip maps an offset ``(dy, dx)`` to ``(dy, -dx)`` (an angle ``theta`` to
    ``180 - theta``); every bin is mirrored, including the purely horizontal ones (targets.md
    section 7, fault 1). The permutation is an involution.

    Returns:
        int64 array of shape ``(m,)``: ``flipped_bin = table[bin]``.
    """
    offsets = bin_offsets(m)
    lookup = {tuple(o): b for b, o in enumerate(offsets.tolist())}
    return np.array([lookup[(dy, -dx)] for dy, dx in offsets.tolist()], dtype=np.int64)


def flip_direction_map(direction: np.ndarray, m: int = 8) -> np.ndarray:
    """Horizontally flip a direction map (``(..., H, W)`` uint8 bins, 255 = ignore).

    Mirrors the pixel grid and every bin; ignore stays ignore.
    """
    table = np.full(256, DIRECTION_IGNORE, dtype=np.uint8)
    table[:m] = flip_bins(m)
    return table[np.asarray(direction)[..., ::-1]]
