"""Generated PASCAL VOC and mmsegmentation trees for the layout tests (small frames, palette PNGs,
255 borders, split lists)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from segfix_data.datasets import labels as _labels
from segfix_data.inspect.colours import voc_palette

from .build_data import draw_cityscapes_frame

#: Cityscapes labelIds of the drawn scene -> a VOC class (sky/road/etc. are background 0).
_TO_VOC = {24: 15, 26: 7, 17: 5, 11: 0, 7: 0, 8: 0, 23: 0, 0: 0}


def voc_frame(seed: int, height: int = 48, width: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(image uint8 HxWx3, VOC indices uint8 HxW with 0..20 and a 1-pixel 255 border around objects)."""
    img, lab, _ = draw_cityscapes_frame(seed, height, width)
    voc = np.zeros(lab.shape, np.uint8)
    for k, v in _TO_VOC.items():
        voc[lab == k] = v
    voc[: height // 6, : width // 4] = 1 + seed % 20       # one more class somewhere
    edge = np.zeros_like(voc, bool)
    edge[:, 1:] |= voc[:, 1:] != voc[:, :-1]
    edge[1:, :] |= voc[1:, :] != voc[:-1, :]
    voc[edge] = 255                                        # VOC's "void" object borders
    return img, voc


def save_palette_png(path: Path, indices: np.ndarray) -> None:
    im = Image.fromarray(indices.astype(np.uint8), mode="P")
    im.putpalette(voc_palette().ravel().tolist())
    im.save(path)


def write_voc(root, splits=None, *, devkit: bool = False, height: int = 48, width: int = 64,
              extra_unlisted: int = 1) -> Path:
    """A VOC2012 tree (``JPEGImages``, palette ``SegmentationClass``, ``ImageSets/Segmentation``).

    Returns the ``VOC2012`` folder (under ``root/VOCdevkit/`` when ``devkit``). Frame names are
    ``2007_00000k``; ``extra_unlisted`` frames exist on disk but in no list.
    """
    splits = {"train": 3, "val": 2} if splits is None else splits
    base = Path(root) / "VOCdevkit" / "VOC2012" if devkit else Path(root)
    for d in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (base / d).mkdir(parents=True, exist_ok=True)
    n = 0
    for split, count in list(splits.items()) + [("_unlisted", extra_unlisted)]:
        names = []
        for _ in range(count):
            name = f"2007_{n:06d}"
            img, voc = voc_frame(n, height, width)
            Image.fromarray(img).save(base / "JPEGImages" / f"{name}.jpg", quality=95)
            save_palette_png(base / "SegmentationClass" / f"{name}.png", voc)
            names.append(name)
            n += 1
        if split != "_unlisted":
            (base / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("\n".join(names) + "\n")
    return base


def write_mmseg(root, splits=None, *, img_suffix: str = "_leftImg8bit.png",
                seg_suffix: str = "_gtFine_labelTrainIds.png", height: int = 48, width: int = 64,
                cities: bool = True) -> Path:
    """An mmsegmentation tree ``img_dir/<split>/[city/]<name><img_suffix>`` and
    ``ann_dir/<split>/[city/]<name><seg_suffix>`` with Cityscapes-style names and train-id labels."""
    root = Path(root)
    splits = {"train": 3, "val": 2} if splits is None else splits
    n = 0
    for split, count in splits.items():
        for i in range(count):
            city = ("aachen", "bremen")[i % 2]
            sub = city if cities else ""
            name = f"{city}_{i:06d}_000019"
            img, lab, _ = draw_cityscapes_frame(100 + n, height, width)
            n += 1
            for d in ("img_dir", "ann_dir"):
                (root / d / split / sub).mkdir(parents=True, exist_ok=True)
            if img_suffix.endswith(".jpg"):
                Image.fromarray(img).save(root / "img_dir" / split / sub / f"{name}{img_suffix}", quality=95)
            else:
                Image.fromarray(img).save(root / "img_dir" / split / sub / f"{name}{img_suffix}")
            Image.fromarray(_labels.cityscapes_label_ids_to_train_ids(lab)).save(
                root / "ann_dir" / split / sub / f"{name}{seg_suffix}")
    return root


def write_folder(root, count: int = 3, *, img_suffix: str = "_rgb.png", seg_suffix: str = "_mask.png",
                 height: int = 48, width: int = 64) -> Path:
    """A folder-layout tree ``images/s<k><img_suffix>`` (RGB) and ``labels/s<k><seg_suffix>``
    (train ids, 255 = ignore); build it with ``--layout folder --image-glob 'images/*'
    --label-glob 'labels/*' --img-suffix ... --seg-suffix ...``. Frame keys: ``s0``, ``s1``, ..."""
    root = Path(root)
    for d in ("images", "labels"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for k in range(count):
        img, lab, _ = draw_cityscapes_frame(200 + k, height, width)
        Image.fromarray(img).save(root / "images" / f"s{k}{img_suffix}")
        Image.fromarray(_labels.cityscapes_label_ids_to_train_ids(lab)).save(root / "labels" / f"s{k}{seg_suffix}")
    return root
