"""``evaluate_directory`` on voc and mmseg trees: GT_DIR is the dataset root, split lists and
suffixes as in ``segfix-gt build``, class names in the tables."""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cli.main import main
from segfix_data.metrics.directory import evaluate_directory
from tests.support.layouts import write_mmseg, write_voc


def _brute_miou(pairs, k):
    inter, union = np.zeros(k), np.zeros(k)
    for pred, gt in pairs:
        valid = gt != 255
        for c in range(k):
            p, g = (pred == c) & valid, (gt == c) & valid
            inter[c] += (p & g).sum()
            union[c] += (p | g).sum()
    present = union > 0
    return float((inter[present] / union[present]).mean())


def _shifted(a, dx=2):
    out = a.copy()
    out[:, dx:] = a[:, :-dx]
    out[out == 255] = 0
    return out


def test_voc_eval_uses_the_list_and_voc_names(tmp_path):
    base = write_voc(tmp_path / "voc", {"train": 2, "val": 3})
    preds, pairs = tmp_path / "pred", []
    preds.mkdir()
    for name in (base / "ImageSets/Segmentation/val.txt").read_text().split():
        gt = np.asarray(Image.open(base / "SegmentationClass" / f"{name}.png"))
        pred = _shifted(gt)
        Image.fromarray(pred).save(preds / f"{name}.png")
        pairs.append((pred, gt))
    res = evaluate_directory(base, preds, layout="voc", split="val", boundary=False)
    assert res["num_images"] == 3 and "aeroplane" in res["class_iou"] and len(res["class_iou"]) == 21
    assert res["miou"] == pytest.approx(_brute_miou(pairs, 21))


def test_mmseg_eval_with_suffixes_and_class_names(tmp_path):
    root = write_mmseg(tmp_path / "mm", {"val": 2})
    names = tmp_path / "names.txt"
    names.write_text("\n".join(f"c{i}" for i in range(19)))
    preds, pairs = tmp_path / "pred", []
    preds.mkdir()
    for lab in sorted((root / "ann_dir/val").rglob("*.png")):
        gt = np.asarray(Image.open(lab))
        pred = _shifted(gt, 3)
        Image.fromarray(pred).save(preds / lab.name.replace("_gtFine_labelTrainIds", "_leftImg8bit"))
        pairs.append((pred, gt))
    r = CliRunner().invoke(main, ["eval", str(root), str(preds), "--layout", "mmseg", "--split", "val",
                                  "--img-suffix", "_leftImg8bit.png", "--seg-suffix",
                                  "_gtFine_labelTrainIds.png", "--class-names", str(names),
                                  "--no-boundary", "--json", str(tmp_path / "s.json")])
    assert r.exit_code == 0, r.output
    import json
    res = json.loads((tmp_path / "s.json").read_text())
    assert list(res["class_iou"])[:2] == ["c0", "c1"] and "c0" in r.output
    assert res["miou"] == pytest.approx(_brute_miou(pairs, 19))


def test_mmseg_eval_reduce_zero_label(tmp_path):
    root = tmp_path / "mm"
    (root / "ann_dir/val").mkdir(parents=True)
    gt = np.array([[0, 1, 1, 2], [2, 2, 0, 1]], np.uint8)          # 0 ignore, 1 -> class 0, 2 -> 1
    Image.fromarray(gt).save(root / "ann_dir/val/a.png")
    (tmp_path / "p").mkdir()
    Image.fromarray(np.array([[1, 0, 0, 1], [1, 0, 1, 0]], np.uint8)).save(tmp_path / "p/a.png")
    res = evaluate_directory(root, tmp_path / "p", layout="mmseg", split="val", num_classes=2,
                             reduce_zero_label=True, boundary=False)
    # class 0 (gt 1): gt pixels (0,1),(0,2),(1,3); pred 0 at (0,1),(0,2),(1,1),(1,3) -> 3/4
    # class 1 (gt 2): gt (0,3),(1,0),(1,1); pred 1 at (0,3),(1,0) -> 2/3
    assert res["class_iou"]["0"] == pytest.approx(3 / 4) and res["class_iou"]["1"] == pytest.approx(2 / 3)
