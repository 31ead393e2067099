"""``segfix-gt inspect``: a panel and boundary statistics for samples of built shards.

Reads through :class:`segfix_data.shards.ShardSet`; the drawing and counting live in
:mod:`segfix_data.inspect.panels` and :mod:`segfix_data.inspect.stats`.
"""
from __future__ import annotations

import numpy as np

from segfix_data.datasets.labels import (ADE20K_CLASS_NAMES, ADE20K_NUM_CLASSES, CITYSCAPES_CLASS_NAMES,
                                         VOC_CLASS_NAMES)

from .colours import palette_of_layout

from .panels import render_panel
from .stats import BoundaryWidthStats, boundary_width_stats
from segfix_data.errors import InputError

__all__ = ["num_classes_of", "choose_split", "sample_panel", "split_boundary_stats"]


def num_classes_of(ds) -> int:
    """Number of train ids of a built split: 19 (cityscapes, gta5), 150 (ade20k), otherwise one
    more than the largest train id counted in the manifest."""
    layout = ds.params.get("layout")
    if layout in ("cityscapes", "gta5"):
        return len(CITYSCAPES_CLASS_NAMES)
    if layout == "ade20k":
        return ADE20K_NUM_CLASSES
    if layout == "voc":
        return len(VOC_CLASS_NAMES)
    if ds.params.get("class_names"):
        return len(ds.params["class_names"])
    ids = [int(k) for s in ds.samples for k in s.get("class_pixels", {})]
    return max(ids, default=0) + 1


def choose_split(splits: list[str], wanted: str | None) -> str:
    """The split to look at: ``wanted`` if given (must exist; ``val`` / ``validation`` and
    ``train`` / ``training`` are aliases), else 'val'/'validation' if built, else the first one."""
    if wanted is not None:
        if wanted in splits:
            return wanted
        from segfix_data.datasets.layouts import SPLIT_ALIASES

        alias = [a for a in SPLIT_ALIASES.get(wanted, ()) if a in splits]
        if len(alias) == 1:
            return alias[0]
        raise InputError(f"split {wanted!r} is not built here; built splits: {', '.join(splits) or 'none'}")
    if not splits:
        raise InputError("no built split found (no <split>/manifest.json); run `segfix-gt build` first")
    for name in ("val", "validation"):
        if name in splits:
            return name
    return splits[0]


def _variant_of(ds, variant: str | None) -> str:
    built = ds.params.get("variants") or [ds.params.get("variant", "semantic")]
    if variant is None:
        return built[0]
    if variant not in built:
        raise InputError(f"{ds.root}: variant {variant!r} was not built (built: {', '.join(built)})")
    return variant


def sample_panel(ds, i: int, variant: str | None = None, **panel_kwargs) -> tuple[np.ndarray, str]:
    """Panel (uint8 (P, Q, 3)) of sample ``i`` of a ShardSet and the variant shown.

    The image is shown when stored (``--images``); otherwise the label colours stand in.
    """
    variant = _variant_of(ds, variant)
    fields = ["label", f"{variant}/distance", f"{variant}/boundary", f"{variant}/direction"]
    if variant == "instance":
        fields.append("instance/segments")
    data = ds.read(i, fields=fields)
    try:
        image = ds.read(i, fields=("image",))["image"]
    except KeyError:
        image = None
    stem = ds.samples[i]["stem"]
    params = ds.params.get("targets", {})
    title = (f"{ds.root.name} / {stem}  [{variant} targets, preset {ds.params.get('preset')}, "
             f"gamma {params.get('gamma')}, ksize {params.get('ksize')}]")
    panel = render_panel(image, data["label"], data[f"{variant}/distance"], data[f"{variant}/boundary"],
                         data[f"{variant}/direction"], int(ds.params["num_directions"]), title=title,
                         segments=data.get("instance/segments"),
                         palette=palette_of_layout(ds.params.get("layout")), **panel_kwargs)
    return panel, variant


def split_boundary_stats(ds, indices, widths=(1, 2, 3, 4, 5), progress=None) -> BoundaryWidthStats:
    """Sum of :func:`~segfix_data.inspect.boundary_width_stats` over samples ``indices``."""
    k = num_classes_of(ds)
    total = None
    for i in indices:
        s = boundary_width_stats(ds.read(i, fields=("label",))["label"], k, widths)
        total = s if total is None else total + s
        if progress is not None:
            progress(1)
    if total is None:
        raise InputError(f"{ds.root}: no samples to count")
    return total


def class_names_of(ds) -> list[str] | None:
    """Class names for the table (Cityscapes names for cityscapes/gta5, ADE20K's for ade20k, VOC names
    for voc, the ``--class-names`` file's names when the build had one), else None (ids)."""
    if ds.params.get("layout") in ("cityscapes", "gta5"):
        return list(CITYSCAPES_CLASS_NAMES)
    if ds.params.get("layout") == "ade20k":
        return list(ADE20K_CLASS_NAMES)
    if ds.params.get("layout") == "voc":
        return list(VOC_CLASS_NAMES)
    if ds.params.get("class_names"):
        return list(ds.params["class_names"])
    return None
