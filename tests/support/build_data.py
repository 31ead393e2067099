"""Tiny Cityscapes-layout datasets drawn with numpy (a few rectangles and discs per frame), for the build tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def draw_cityscapes_frame(seed: int, height: int = 64, width: int = 128):
    """(image uint8 HxWx3, labelIds uint8 HxW, instanceIds int32 HxW) of a small street scene.

    Sky on top, building, road below; a few cars (labelId 26) and persons (24) as instances,
    some poles (17), and a strip of unlabeled (0) pixels at the bottom.
    """
    rng = np.random.default_rng(seed)
    h, w = height, width
    lab = np.full((h, w), 7, np.uint8)                      # road
    lab[: h // 4] = 23                                      # sky
    lab[h // 4: h // 2] = 11                                # building
    lab[h // 2: h // 2 + h // 16] = 8                       # sidewalk
    lab[h - 2:] = 0                                         # unlabeled
    inst = lab.astype(np.int32).copy()
    yy, xx = np.mgrid[:h, :w]
    for k in range(int(rng.integers(2, 5))):
        cls = int(rng.choice([24, 26]))
        cy, cx = int(rng.integers(h // 3, h - 4)), int(rng.integers(0, w))
        ry, rx = int(rng.integers(3, h // 5 + 4)), int(rng.integers(3, w // 6 + 4))
        m = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        lab[m] = cls
        inst[m] = cls * 1000 + k
    for _ in range(int(rng.integers(1, 3))):
        x0 = int(rng.integers(0, w - 3))
        lab[h // 5: h // 2, x0: x0 + 2] = 17
        inst[h // 5: h // 2, x0: x0 + 2] = 17
    palette = rng.integers(0, 256, (256, 3), dtype=np.uint8)
    img = palette[lab] // 2 + rng.integers(0, 128, (h, w, 3), dtype=np.uint8)
    return img.astype(np.uint8), lab, inst


def write_cityscapes(root, splits=None, height: int = 64, width: int = 128, seed: int = 0) -> Path:
    """Write a Cityscapes layout under ``root`` (2 cities per split); returns ``root``."""
    root = Path(root)
    splits = {"train": 5, "val": 2} if splits is None else splits
    n = seed * 1000
    for split, count in splits.items():
        for i in range(count):
            city = ("aachen", "bremen")[i % 2]
            base = f"{city}_{i:06d}_000019"
            img, lab, inst = draw_cityscapes_frame(n, height, width)
            n += 1
            (root / "leftImg8bit" / split / city).mkdir(parents=True, exist_ok=True)
            (root / "gtFine" / split / city).mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(root / "leftImg8bit" / split / city / f"{base}_leftImg8bit.png")
            Image.fromarray(lab).save(root / "gtFine" / split / city / f"{base}_gtFine_labelIds.png")
            Image.fromarray(inst.astype(np.uint16)).save(
                root / "gtFine" / split / city / f"{base}_gtFine_instanceIds.png")
    return root




def write_ade20k(root, splits=None, height: int = 64, width: int = 96, seed: int = 0,
                 container: bool = True) -> Path:
    """Write an ADE20K layout under ``root``: ``[ADEChallengeData2016/]images/<split>/*.jpg`` and
    ``annotations/<split>/*.png`` (uint8, 0 = other, 1..150), from the Cityscapes-like scenes with
    their labelIds shifted into 1..150. Returns ``root``."""
    root = Path(root)
    base = root / "ADEChallengeData2016" if container else root
    splits = {"training": 2, "validation": 1} if splits is None else splits
    n = seed * 1000 + 500
    for split, count in splits.items():
        tag = "train" if split == "training" else "val"
        (base / "images" / split).mkdir(parents=True, exist_ok=True)
        (base / "annotations" / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            img, lab, _ = draw_cityscapes_frame(n, height, width)
            n += 1
            ann = np.where(lab == 0, 0, (lab.astype(np.int64) * 4) % 150 + 1).astype(np.uint8)
            stem = f"ADE_{tag}_{i + 1:08d}"
            Image.fromarray(img).save(base / "images" / split / f"{stem}.jpg", quality=95)
            Image.fromarray(ann).save(base / "annotations" / split / f"{stem}.png")
    return root
