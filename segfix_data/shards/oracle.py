"""Built shards as an offsets source: the stored ground-truth boundary and direction per frame.

``segfix refine PRED --offsets SHARD_DIR`` refines with the ground truth's own boundary and
direction targets (the oracle of the paper's Table 1). :class:`ShardOffsets` has the interface of
:class:`segfix_data.refine.directory.OffsetsSource` (``kind``, ``root``, ``keys``, ``get``), so
the refinement reads it without importing the shard package; the CLI picks the source.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from segfix_data.datasets.io import frame_key
from segfix_data.errors import InputError

from .reader import ShardSet


class StoredOffsets(NamedTuple):
    """One frame's stored targets: boundary (H, W) uint8 (1 = boundary), direction (H, W) uint8
    bins (255 = none), and the number of direction bins m."""

    boundary: np.ndarray
    direction: np.ndarray
    num_directions: int


def is_shard_dir(root: str | os.PathLike) -> bool:
    """True when ROOT holds at least one built split (``<split>/manifest.json``)."""
    return any(Path(root).glob("*/manifest.json"))


class ShardOffsets:
    """Every built split of ROOT, indexed by frame key (``city_seq_frame``, the stem without the
    dataset's suffixes, or the file stem): ``suffixes`` (``--img-suffix`` / ``--seg-suffix``) and
    each split's own (its build parameters) are cut off the stored stems.

    Attributes:
        kind: "shards".
        root: the shard directory.
        keys: the frame keys available.
    """

    kind = "shards"

    def __init__(self, root: str | os.PathLike, suffixes=()) -> None:
        self.root = Path(root)
        manifests = sorted(self.root.glob("*/manifest.json"))
        if not manifests:
            raise FileNotFoundError(f"{self.root}: no built split (<split>/manifest.json); run "
                                    "`segfix-gt build` first")
        self._samples: dict[str, tuple[ShardSet, int]] = {}
        for m in manifests:
            ds = ShardSet(self.root, m.parent.name)
            own = tuple(ds.params.get(k) for k in ("img_suffix", "seg_suffix") if ds.params.get(k))
            for i, s in enumerate(ds.samples):
                self._samples[frame_key(s["stem"], tuple(x for x in suffixes if x) + own)] = (ds, i)
        self.keys = set(self._samples)

    def get(self, key: str, *, instance: bool = False, expect_shape=None) -> StoredOffsets:
        """Targets of one frame; ``instance`` picks the instance targets when the split has them.
        ``expect_shape`` (H, W), when given, must be the stored frame's size."""
        ds, i = self._samples[key]
        variant = "instance" if instance and "instance" in ds.params.get("variants", ("semantic",)) else "semantic"
        if expect_shape is not None:
            stored = tuple(int(v) for v in ds.samples[i]["shape"][:2])
            if stored != tuple(int(v) for v in expect_shape[:2]):
                raise InputError(f"{ds.root}: frame {key!r} is {stored[0]}x{stored[1]} in the shards but "
                                 f"{expect_shape[0]}x{expect_shape[1]} in the predictions; refine "
                                 "predictions made at the label maps' size")
        arrays = ds.read(i, fields=(f"{variant}/boundary", f"{variant}/direction"))
        return StoredOffsets(arrays[f"{variant}/boundary"], arrays[f"{variant}/direction"],
                             int(ds.params["num_directions"]))
