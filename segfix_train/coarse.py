"""Coarse label maps for measuring refinement: the label map as a stride-8 model would see it.

:func:`block_majority` gives each ``block x block`` tile the most frequent valid label of the
tile and repeats it over the tile (down-sampling by the tile's mode, up-sampling by repetition).
Validation (``segfix_train.validate``) and the direction ablation refine these maps with a model's
offsets and score the gain.

Why the mode and not a picked pixel: keeping one pixel of each tile moves the coarse map by that
pixel's distance from the tile's centre. The top-left pixel (what nearest down-sampling with
``F.interpolate(mode="nearest")`` or ``lab[::8, ::8]`` keeps) moves it 3.5 px down and right, so a
model that shifts every boundary pixel up-left by a constant gains more than one that predicts the
true directions. An 8-pixel tile has no centre pixel: the nearer of the two middle ones
(``mode="nearest-exact"``) still moves the map 0.5 px. The tile's mode has no preferred direction:
an edge that cuts a tile is kept on the side holding more of the tile, so over edge positions the
map is not moved; only an exact tie (half the tile each) is decided by the smaller label, which
shrinks that label's regions by 0.5 px on average on all sides alike (their centres do not move).
"""
from __future__ import annotations

import numpy as np

from segfix_data.ignore import IGNORE_INDEX

#: Side of the tiles, pixels: the output stride of the models SegFix refines (the paper's Table 1).
COARSE_BLOCK = 8


def block_majority(label: np.ndarray, block: int = COARSE_BLOCK, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """The coarse copy of a label map.

    Args:
        label: ``(H, W)`` integer label map (any integer dtype), ``ignore_index`` for unlabelled
            pixels. ``H`` and ``W`` need not be multiples of ``block``: the last tiles are partial.
        block: tile side in pixels (>= 1).
        ignore_index: value that no tile takes unless all its pixels have it.

    Returns:
        ``(H, W)`` array of ``label``'s dtype: each tile holds the most frequent label among its
        pixels other than ``ignore_index`` (ties: the smaller label), ``ignore_index`` where the
        whole tile is ignored.
    """
    lab = np.asarray(label)
    if lab.ndim != 2:
        raise ValueError(f"expected an (H, W) label map, got shape {lab.shape}")
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    h, w = lab.shape
    hb, wb = -(-h // block), -(-w // block)
    values, inverse = np.unique(lab, return_inverse=True)
    inverse = inverse.reshape(h, w)
    ignored = np.flatnonzero(values == ignore_index)
    k = len(values)
    tile = (np.arange(h)[:, None] // block) * wb + np.arange(w)[None, :] // block
    counts = np.bincount((tile * k + inverse).ravel(), minlength=hb * wb * k).reshape(hb * wb, k)
    if ignored.size:
        counts[:, ignored[0]] = np.where(counts.sum(1) == counts[:, ignored[0]], 1, 0)  # all ignored
    small = values[counts.argmax(1)].reshape(hb, wb)
    return np.repeat(np.repeat(small, block, 0), block, 1)[:h, :w].astype(lab.dtype, copy=False)
