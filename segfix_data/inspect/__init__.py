"""Look at targets before training on them: PNG panels and per-class boundary statistics.

* :mod:`.colours`: label palettes, heat map, direction hues.
* :mod:`.panels`: :func:`render_panel` / :func:`save_panel` (one sample as a picture).
* :mod:`.stats`: :class:`BoundaryWidthStats` (the paper's Table 12).
* :mod:`.shards`: the same for samples read from built shards (``segfix-gt inspect``).
"""
from .colours import CITYSCAPES_PALETTE, colourise_labels, label_palette
from .panels import render_panel, save_panel
from .stats import BoundaryWidthStats, boundary_width_stats, format_boundary_width_table

__all__ = ["CITYSCAPES_PALETTE", "BoundaryWidthStats", "boundary_width_stats", "colourise_labels",
           "format_boundary_width_table", "label_palette", "render_panel", "save_panel"]
