"""Checks made before a training run starts, so that a wrong input is one line, not a crash
minutes later (``segfix train``).

* :func:`require_images`: shards built with ``--no-images`` hold no image, which training and
  validation read on every step.
* :func:`check_val_split`: the validation split must exist in the first shard directory; the
  error names the splits found and the option that fixes it (``--val-split``), since a folder or
  GTA5 build has only ``train`` and the default ``--val-split val`` then cannot be found.
"""
from __future__ import annotations

import os

from segfix_data.errors import InputError
from segfix_data.datasets.frame import LayoutError


def require_images(sets, names) -> None:
    """Raise ``ValueError`` naming the set (``names[k]``, ``DIR:SPLIT``) when a shard set of
    ``sets`` was built with ``--no-images`` (its manifest's ``params["images"]`` is False)."""
    for ds, where in zip(sets, names):
        if getattr(ds, "params", {}).get("images", True) is False:
            raise InputError(f"{where}: these shards were built with --no-images (their manifest says "
                             "so) and training reads images; rebuild them without --no-images")


def check_val_split(directory: str, split: str) -> None:
    """Raise :class:`LayoutError` when ``directory`` (a shard OUT_DIR on disk) has no split
    ``split`` nor its alias; names the splits found and ``--val-split``."""
    from segfix_data.datasets.layouts import normalise_split
    from segfix_data.shards import list_splits

    if not os.path.isdir(directory):
        return  # the opener names the missing directory
    available = list_splits(directory)
    try:
        normalise_split(split, available, directory)
    except LayoutError:
        found = ", ".join(available) or "none"
        raise LayoutError(f"{directory}: no validation split {split!r} (splits found: {found}); pass "
                          f"--val-split '' to train without validation, or build a validation split "
                          f"and pass --val-split with its name") from None
