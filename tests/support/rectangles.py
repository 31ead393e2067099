"""How far a coarse copy of a label map moves a region: the measure of a coarse map's bias, shared by
the coarse-map tests and ``benchmarks/coarse_bias.py``."""
from __future__ import annotations

from typing import Callable

import numpy as np

#: Rectangle sizes (height, width) placed at all 64 offsets against an 8x8 tile grid.
SIZES = ((13, 21), (20, 20), (9, 30))


def rectangle_shifts(coarse: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """(192, 2) float64: per placement, the (dy, dx) pixels that ``coarse`` (a uint8 (64, 64) label map
    -> its coarse copy, same shape) moves the centroid of a rectangle of label 1 on label 0, for each
    of :data:`SIZES` at every offset 0..7 in each axis."""
    shifts = []
    for hh, ww in SIZES:
        for oy in range(8):
            for ox in range(8):
                lab = np.zeros((64, 64), np.uint8)
                lab[16 + oy: 16 + oy + hh, 16 + ox: 16 + ox + ww] = 1
                shifts.append(np.argwhere(coarse(lab) == 1).mean(0) - np.argwhere(lab == 1).mean(0))
    return np.array(shifts)
