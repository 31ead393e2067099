"""Our mIoU equals the official cityscapesScripts evaluator's on Cityscapes-layout data.

The official package is a test dependency (setup.cfg, extra "test") for exactly this check.
"""
import math

import numpy as np
from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as official
from PIL import Image

from segfix_data.metrics.directory import evaluate_directory
from segfix_data.datasets.labels import CITYSCAPES_CLASS_NAMES
from segfix_data.synthetic import write_example_dataset


def _model_like_prediction(label_ids, rng):
    """Shifted map with relabelled blocks, any labelId 0..33 (non-evaluated ids included)."""
    pred = np.roll(label_ids, shift=(2, -3), axis=(0, 1))
    h, w = pred.shape
    for _ in range(40):
        y, x = int(rng.integers(0, h - 8)), int(rng.integers(0, w - 8))
        pred[y:y + int(rng.integers(2, 9)), x:x + int(rng.integers(2, 9))] = rng.integers(0, 34)
    return pred


def test_miou_equals_the_official_evaluator(tmp_path, capsys):
    write_example_dataset(tmp_path / "cs", splits={"val": 3}, height=128, width=256, seed=7)
    gts = sorted((tmp_path / "cs" / "gtFine" / "val").rglob("*_gtFine_labelIds.png"))
    rng = np.random.default_rng(0)
    preds = []
    for g in gts:
        pred = _model_like_prediction(np.array(Image.open(g)), rng)
        path = tmp_path / "pred" / g.name.replace("_gtFine_labelIds", "_pred")
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(pred.astype(np.uint8)).save(path)
        preds.append(path)

    args = official.args
    args.evalInstLevelScore = False
    args.JSONOutput = False
    args.quiet = True
    args.colorized = False
    args.exportFile = str(tmp_path / "official.json")
    theirs = official.evaluateImgLists([str(p) for p in preds], [str(g) for g in gts], args)
    capsys.readouterr()  # the official evaluator prints its own table

    ours = evaluate_directory(tmp_path / "cs", tmp_path / "pred", layout="cityscapes",
                              split="val", boundary=False)
    for name in CITYSCAPES_CLASS_NAMES:
        a, b = ours["class_iou"][name], theirs["classScores"][name]
        if b is None or math.isnan(b):
            assert a is None or math.isnan(a), name
        else:
            assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12), (name, a, b)
    assert math.isclose(ours["miou"], theirs["averageScoreClasses"], rel_tol=1e-12)
    assert 0.2 < ours["miou"] < 0.95  # the prediction is neither perfect nor useless
