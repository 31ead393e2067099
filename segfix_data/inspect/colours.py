"""Colours for pictures of labels and targets: label palettes, heat map, direction hues."""
from __future__ import annotations

import numpy as np

from segfix_data.targets.direction import bin_centres, check_num_directions
from segfix_data.errors import InputError
from segfix_data.ignore import IGNORE_INDEX

#: Cityscapes colours of the 19 train ids (the official palette).
CITYSCAPES_PALETTE = np.array([
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
    (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152),
    (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100),
    (0, 80, 100), (0, 0, 230), (119, 11, 32)], dtype=np.uint8)



def voc_palette() -> np.ndarray:
    """uint8 (256, 3): the PASCAL VOC colour of every index (the bit pattern of the official
    ``VOCdevkit`` colour map; 255, the ignore border, is (224, 224, 192))."""
    pal = np.zeros((256, 3), dtype=np.uint8)
    ids = np.arange(256)
    for bit in range(8):
        for ch in range(3):
            pal[:, ch] |= (((ids >> (3 * bit + ch)) & 1) << (7 - bit)).astype(np.uint8)
    return pal


def palette_of_layout(layout: str | None) -> str:
    """The palette name for pictures of a layout's train ids: "voc" for VOC, else "cityscapes"."""
    return "voc" if layout == "voc" else "cityscapes"

# Anchors of a perceptually ordered colour map (viridis-like), dark = near the boundary.
_HEAT_ANCHORS = np.array([(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)], float)


def label_palette(ignore_index: int = IGNORE_INDEX, palette: str = "cityscapes") -> np.ndarray:
    """uint8 (256, 3) colour of every id, black for ``ignore_index``.

    ``palette="cityscapes"``: Cityscapes colours for 0..18, distinct generated colours (the PASCAL
    VOC bit pattern) above, ``ignore_index`` black; ``palette="voc"``: the PASCAL VOC colours for
    every id (background is black there, so ignore keeps VOC's cream (224, 224, 192)).
    """
    if palette not in ("cityscapes", "voc"):
        raise InputError(f"unknown palette {palette!r}; choose 'cityscapes' or 'voc'")
    pal = voc_palette()
    if palette == "cityscapes":
        pal[: len(CITYSCAPES_PALETTE)] = CITYSCAPES_PALETTE
    if palette == "voc":
        if 0 <= ignore_index < 256:
            pal[ignore_index] = (224, 224, 192)
        return pal
    if 0 <= ignore_index < 256:
        pal[ignore_index] = 0
    return pal


def colourise_labels(label: np.ndarray, ignore_index: int = IGNORE_INDEX, palette: str = "cityscapes") -> np.ndarray:
    """(H, W) integer train ids -> uint8 (H, W, 3) colours (ignore black; ids >= 256 wrap);
    ``palette`` as :func:`label_palette`."""
    label = np.asarray(label).astype(np.int64)
    return label_palette(ignore_index, palette)[np.where(label == ignore_index, ignore_index, label % 256)]


def colourise_segments(segments: np.ndarray, ignore: np.ndarray | None = None) -> np.ndarray:
    """(H, W) integer segment ids -> uint8 (H, W, 3), one hashed colour per id (ignore black)."""
    ids, inverse = np.unique(np.asarray(segments).astype(np.int64), return_inverse=True)
    h = (ids * 2654435761 + 12345) % (1 << 32)
    cols = np.stack([(h >> 8) & 255, (h >> 16) & 255, (h >> 24) & 255], axis=1)
    cols = (60 + (cols * 195) // 255).astype(np.uint8)  # never too dark to tell from ignore
    out = cols[inverse.reshape(np.shape(segments))]
    if ignore is not None:
        out[ignore] = 0
    return out


def heatmap(values: np.ndarray, vmax: float) -> np.ndarray:
    """float (H, W) in ``[0, vmax]`` -> uint8 (H, W, 3) colours (values above vmax saturate)."""
    t = np.clip(np.nan_to_num(values / max(vmax, 1e-9), posinf=1.0), 0.0, 1.0) * (len(_HEAT_ANCHORS) - 1)
    lo = np.minimum(t.astype(np.int64), len(_HEAT_ANCHORS) - 2)
    frac = (t - lo)[..., None]
    return (_HEAT_ANCHORS[lo] * (1 - frac) + _HEAT_ANCHORS[lo + 1] * frac).astype(np.uint8)


def hue_colours(angles_deg: np.ndarray) -> np.ndarray:
    """Fully saturated colours (float (..., 3), 0..255) whose hue is the angle (0 deg = red)."""
    h = (np.mod(np.asarray(angles_deg, float), 360.0) / 60.0)[..., None]
    k = np.mod(np.array([5.0, 3.0, 1.0]) + h, 6.0)
    return 255.0 * (1.0 - np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0))


def direction_colours(num_directions: int) -> np.ndarray:
    """uint8 (256, 3): colour of each direction bin (hue = the bin's centre angle); 255 -> grey."""
    m = check_num_directions(num_directions)
    table = np.full((256, 3), 60, dtype=np.uint8)
    table[:m] = hue_colours(bin_centres(m)).astype(np.uint8)
    return table
