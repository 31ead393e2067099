"""Per-class boundary statistics of label maps (the paper's Table 12).

:func:`boundary_width_stats` counts, per class, the share of the class's pixels that lie within ``w``
pixels of another label, using the exact distance transform; :func:`format_boundary_width_table`
prints it. Stats of several images add up with ``+``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segfix_data.datasets.labels import CITYSCAPES_CLASS_NAMES
from segfix_data.ignore import IGNORE_INDEX
from segfix_data.targets.edt import multilabel_distance


@dataclass
class BoundaryWidthStats:
    """Per-class pixel counts near boundaries (add several images' stats with ``+``).

    Attributes:
        widths: the widths ``w`` in pixels.
        pixels: int64 (K,) pixels of each class.
        within: int64 (K, len(widths)) pixels of each class with distance <= w to another label.
    """

    widths: tuple
    pixels: np.ndarray
    within: np.ndarray

    @property
    def share(self) -> np.ndarray:
        """float64 (K, len(widths)): ``within / pixels``; NaN for classes without pixels."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.pixels[:, None] > 0, self.within / np.maximum(self.pixels, 1)[:, None], np.nan)

    def __add__(self, other: "BoundaryWidthStats") -> "BoundaryWidthStats":
        if tuple(self.widths) != tuple(other.widths) or self.pixels.shape != other.pixels.shape:
            raise ValueError("cannot add stats with different widths or numbers of classes")
        return BoundaryWidthStats(tuple(self.widths), self.pixels + other.pixels, self.within + other.within)


def boundary_width_stats(label: np.ndarray, num_classes: int, widths=(1, 2, 3, 4, 5),
                         ignore_index: int = IGNORE_INDEX) -> BoundaryWidthStats:
    """Per class, the pixels within ``w`` pixels of a boundary (paper's Table 12).

    A pixel is within width ``w`` when its exact Euclidean distance to the nearest pixel of another
    label (ignore pixels count as another label; the image border does not) is ``<= w``.

    Args:
        label: integer (H, W) train ids ``0..num_classes-1``; ``ignore_index`` is left out.
        num_classes: K.
        widths: increasing positive widths in pixels.

    Returns:
        :class:`BoundaryWidthStats`; ``.share`` gives the fractions.
    """
    label = np.asarray(label)
    if label.ndim != 2 or not np.issubdtype(label.dtype, np.integer):
        raise ValueError(f"label must be an integer (H, W) array, got shape {label.shape} dtype {label.dtype}")
    widths = tuple(float(x) for x in widths)
    if not widths or min(widths) <= 0:
        raise ValueError(f"widths must be positive numbers of pixels, got {widths}")
    valid = label != ignore_index
    bad = valid & ((label < 0) | (label >= num_classes))
    if bad.any():
        raise ValueError(f"label holds ids outside 0..{num_classes - 1} (and ignore {ignore_index}): "
                         f"{np.unique(label[bad])[:10].tolist()}")
    dist = multilabel_distance(label)
    cls = label[valid].astype(np.int64)
    d = dist[valid]
    pixels = np.bincount(cls, minlength=num_classes).astype(np.int64)
    within = np.stack([np.bincount(cls[d <= w], minlength=num_classes) for w in widths], axis=1)
    return BoundaryWidthStats(widths, pixels, within.astype(np.int64))


def format_boundary_width_table(stats: BoundaryWidthStats, class_names=None) -> str:
    """Text table: one row per class with pixels, then the share (%) within each width."""
    k = stats.pixels.size
    if class_names is None:
        class_names = CITYSCAPES_CLASS_NAMES if k == len(CITYSCAPES_CLASS_NAMES) else [str(i) for i in range(k)]
    name_w = max(8, max(len(n) for n in class_names))
    head = f"{'class':<{name_w}} {'pixels':>11} " + " ".join(f"{'w<=' + format(w, 'g'):>7}" for w in stats.widths)
    lines = [head, "-" * len(head)]
    share = stats.share
    for i in range(k):
        if stats.pixels[i] == 0:
            continue
        lines.append(f"{class_names[i]:<{name_w}} {stats.pixels[i]:>11d} "
                     + " ".join(f"{100 * s:>6.1f}%" for s in share[i]))
    total = stats.pixels.sum()
    if total:
        all_share = stats.within.sum(0) / total
        lines.append("-" * len(head))
        lines.append(f"{'all':<{name_w}} {total:>11d} " + " ".join(f"{100 * s:>6.1f}%" for s in all_share))
    return "\n".join(lines)
