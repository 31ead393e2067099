"""Chessboard distance from every pixel to the nearest pixel of another label (numba, one pass pair).

This one map gives the boundary regions of every class of a label map at once, which is what
Boundary IoU and the trimap need (``docs/evaluation.md``):

* Boundary IoU erodes each class mask ``d`` times with a 3x3 square after padding it with one row /
  column of zeros. A pixel ``p`` of class ``c`` survives that erosion iff every pixel within
  chessboard (L-inf) distance ``d`` of ``p``, inside the padded frame, belongs to ``c``. So ``p``
  is in ``c``'s boundary region (the mask minus its erosion) iff ``D(p) <= d``, where ``D(p)`` is
  the chessboard distance from ``p`` to the nearest pixel whose label differs from ``p``'s, the
  zero ring around the image counting as such a pixel: :func:`other_label_distance` with
  ``border=True``. Pixels beyond the ring are never looked at (OpenCV's ``erode`` treats them as
  the maximum, which erodes nothing).
* The trimap band of width ``w`` is the pixels with ``D(p) <= w`` with ``border=False``: a pixel
  lies in it iff a pixel of another ground-truth label lies within chessboard distance ``w``.

Why one transform suffices: if ``p`` has no 8-neighbour of another label, the pixel just before
the nearest other-label pixel on a king's path from ``p`` has ``p``'s label and an other-label
neighbour, so ``D(p) = 1 + `` (chessboard distance from ``p`` to the set ``E`` of pixels with an
8-neighbour of another label); any pixel of ``E`` at a smaller distance would contradict the
minimum. The image border is added to ``E`` the same way (an edge pixel is 1 from the ring). The
two-pass chamfer transform with the 3x3 unit mask is exact for the chessboard metric.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _other_label_distance(lab, border, far, out):
    """``out[y, x]`` = chessboard distance to the nearest other label (and the ring), capped at
    ``far``. Pixels with an 8-neighbour of another label (or, with ``border``, on the image edge)
    start at 1; a forward and a backward chamfer pass with unit weights propagate the rest."""
    h, w = lab.shape
    for y in range(h):
        for x in range(w):
            out[y, x] = far
    if border:
        for x in range(w):
            out[0, x] = 1
            out[h - 1, x] = 1
        for y in range(h):
            out[y, 0] = 1
            out[y, w - 1] = 1
    # every 8-neighbour pair once: right, down-left, down, down-right; both ends get 1
    for y in range(h):
        for x in range(w):
            v = lab[y, x]
            if x + 1 < w and lab[y, x + 1] != v:
                out[y, x] = 1
                out[y, x + 1] = 1
            if y + 1 < h:
                if lab[y + 1, x] != v:
                    out[y, x] = 1
                    out[y + 1, x] = 1
                if x > 0 and lab[y + 1, x - 1] != v:
                    out[y, x] = 1
                    out[y + 1, x - 1] = 1
                if x + 1 < w and lab[y + 1, x + 1] != v:
                    out[y, x] = 1
                    out[y + 1, x + 1] = 1
    for y in range(h):
        for x in range(w):
            d = out[y, x]
            if d <= 1:
                continue
            if x > 0 and out[y, x - 1] + 1 < d:
                d = out[y, x - 1] + 1
            if y > 0:
                for qx in range(max(x - 1, 0), min(x + 2, w)):
                    if out[y - 1, qx] + 1 < d:
                        d = out[y - 1, qx] + 1
            out[y, x] = d
    for y in range(h - 1, -1, -1):
        for x in range(w - 1, -1, -1):
            d = out[y, x]
            if d <= 1:
                continue
            if x + 1 < w and out[y, x + 1] + 1 < d:
                d = out[y, x + 1] + 1
            if y + 1 < h:
                for qx in range(max(x - 1, 0), min(x + 2, w)):
                    if out[y + 1, qx] + 1 < d:
                        d = out[y + 1, qx] + 1
            out[y, x] = d


def other_label_distance(labels: np.ndarray, border: bool) -> np.ndarray:
    """Chessboard distance from each pixel to the nearest pixel of another label.

    Args:
        labels: (H, W) integer label map; every value is a label (ignore ids too).
        border: count a ring of "another label" just outside the image (Boundary IoU's zero
            padding): then an edge pixel is at distance 1, and no pixel farther than
            ``min(y + 1, x + 1, H - y, W - x)``.

    Returns:
        int32 (H, W), >= 1: the distance in pixels (L-inf); ``max(H, W) + 1`` where no other
        label exists (a single-label map without ``border``).
    """
    lab = np.asarray(labels)
    if lab.ndim != 2 or not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"labels must be a 2-D (H, W) integer map, got shape {lab.shape} dtype {lab.dtype}")
    h, w = lab.shape
    out = np.empty((h, w), dtype=np.int32)
    if lab.size:
        _other_label_distance(np.ascontiguousarray(lab), bool(border), np.int32(max(h, w) + 1), out)
    return out
