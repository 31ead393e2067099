"""A tiny in-memory stand-in for ``segfix_data.shards.ShardSet`` (docs/shards.md, "Reading") and a generator of
learnable scenes (class colour + noise), for the trainer tests."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from segfix_data.targets import semantic_targets

PALETTE = np.array([[128, 64, 128], [70, 70, 70], [220, 20, 60], [0, 0, 142], [107, 142, 35]], np.uint8)


def scene(seed: int, h: int = 64, w: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(image uint8 (h, w, 3), label uint8 (h, w)) with a few rectangles and disks."""
    g = np.random.default_rng(seed)
    lab = np.zeros((h, w), np.uint8)
    yy, xx = np.mgrid[:h, :w]
    for _ in range(4):
        c = int(g.integers(1, len(PALETTE)))
        if g.random() < 0.5:
            y0, x0 = g.integers(0, h - 8), g.integers(0, w - 8)
            lab[y0: y0 + g.integers(6, h // 2), x0: x0 + g.integers(6, w // 2)] = c
        else:
            cy, cx, r = g.integers(0, h), g.integers(0, w), g.integers(4, max(5, h // 4))
            lab[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = c
    if g.random() < 0.3:
        lab[: g.integers(1, 4)] = 255
    img = PALETTE[np.minimum(lab, len(PALETTE) - 1)].astype(np.int16)
    img += g.integers(-20, 21, size=img.shape).astype(np.int16)
    return np.clip(img, 0, 255).astype(np.uint8), lab


class FakeShardSet:
    """In-memory ShardSet: ``samples``, ``params``, ``read(i, fields, window)``; records windows."""

    def __init__(self, n: int = 6, h: int = 64, w: int = 64, seed: int = 0, images_per_shard: int = 2,
                 num_directions: int = 8):
        self.frames = []
        self.samples = []
        self.params = {"num_directions": num_directions, "preset": "paper", "direction_band": 15.0}
        for i in range(n):
            img, lab = scene(seed * 1000 + i, h, w)
            t = semantic_targets(lab, num_directions=num_directions)
            band = semantic_targets(lab, num_directions=num_directions, gamma=15).direction  # format 3
            self.frames.append({"image": img, "label": lab, "semantic/boundary": t.boundary,
                                "semantic/direction": t.direction, "semantic/distance": t.distance,
                                "semantic/direction_band": band})
            self.samples.append({"stem": f"img{i:03d}", "shape": [h, w],
                                 "shard": f"shard-{i // images_per_shard:05d}.h5", "index": i % images_per_shard})
        self.reads = []

    def __len__(self):
        return len(self.samples)

    def read(self, i, fields=("image", "label", "semantic/boundary", "semantic/direction"), window=None):
        f = self.frames[i]
        h, w = f["label"].shape
        y0, x0, wh, ww = window if window is not None else (0, 0, h, w)
        if not (0 <= y0 and 0 <= x0 and y0 + wh <= h and x0 + ww <= w):
            raise ValueError(f"window {window} outside image {h}x{w}")
        self.reads.append((i, (y0, x0, wh, ww)))
        return {k: f[k][y0: y0 + wh, x0: x0 + ww].copy() for k in fields}

    def close(self):
        pass


_CACHE: dict = {}


def fake_open(directory: str, split: str) -> FakeShardSet:
    """``open_set`` for ``segfix_train.loop.train``: a deterministic FakeShardSet per (dir, split)."""
    key = (str(directory), split)
    if key not in _CACHE:
        seed = sum(map(ord, f"{directory}|{split}")) % 1000
        _CACHE[key] = FakeShardSet(n=8 if split == "train" else 3, h=64, w=64, seed=seed)
    return _CACHE[key]


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Import into a test module to run its tests on one torch thread (small tests; avoids
    oversubscribing the shared CI cores). Not a conftest.py: that name would shadow tests/conftest.py
    for the modules that import from it."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def generated_shards(tmp_path_factory):
    """A tiny generated Cityscapes layout and its shards: ``root/"cs"`` and ``root/"shards"``
    (train: 2 frames, val: 1, 64x128, 32 px tiles). Returns ``root``."""
    from segfix_data.shards import BuildConfig, build
    from segfix_data.synthetic import write_example_dataset

    root = tmp_path_factory.mktemp("data")
    write_example_dataset(root / "cs", splits={"train": 2, "val": 1}, height=64, width=128)
    build(root / "cs", root / "shards", ["train", "val"], BuildConfig(tile=32))
    return root


def write_tiny_config(path, extra: str = ""):
    """A TOML training config for a tiny HRNet-W18 (CPU tests); ``extra``: more TOML lines."""
    path.write_text("[train]\nmodel = \"hrnet_w18\"\nmodel_args = {blocks = 1, modules = [1, 1, 1], "
                    "channels = [8, 16, 32, 64]}\nnum_workers = 0\nlog_every = 1\n" + extra)
    return path
