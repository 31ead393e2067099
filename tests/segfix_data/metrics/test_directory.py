"""segfix eval: ground-truth discovery, id spaces, JSON keys, baseline deltas (CLI round trips)."""
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cli.main import main
from segfix_data.metrics.directory import evaluate_directory
from segfix_data.datasets.labels import CITYSCAPES_CLASS_NAMES, cityscapes_label_ids_to_train_ids
from segfix_data.metrics import SegmentationScore

FRAMES = ["aachen_000000_000019", "aachen_000001_000019", "bonn_000002_000003"]


def _dataset(tmp_path, seed=0):
    rng = np.random.default_rng(seed)
    gts, preds = [], []
    for key in FRAMES:
        city = key.split("_")[0]
        gt = np.kron(rng.choice([0, 7, 8, 11, 21, 26], (4, 5)), np.ones((6, 6), int)).astype(np.uint8)
        pred = gt.copy()
        noise = rng.random(gt.shape) < 0.2
        pred[noise] = rng.choice([7, 8, 11, 21, 26, 4], int(noise.sum()))
        p = tmp_path / "gtFine" / "val" / city / f"{key}_gtFine_labelIds.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(gt).save(p)
        q = tmp_path / "pred" / "sub" / f"{key}_leftImg8bit.png"
        q.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pred).save(q)
        gts.append(gt)
        preds.append(pred)
    return gts, preds


def test_eval_cli_json_keys_and_values(tmp_path):
    gts, preds = _dataset(tmp_path)
    res = CliRunner().invoke(main, ["eval", str(tmp_path), str(tmp_path / "pred"), "--json", str(tmp_path / "s.json")])
    assert res.exit_code == 0, res.output
    assert "road" in res.output and "mean" in res.output
    data = json.loads((tmp_path / "s.json").read_text())
    assert {"miou", "class_iou", "boundary_f", "class_boundary_f"} <= set(data)
    assert set(data["boundary_f"]) == {"0.0003", "0.0006", "0.0009"}
    assert set(data["class_iou"]) == set(CITYSCAPES_CLASS_NAMES)
    score = SegmentationScore(19)
    for p, g in zip(preds, gts):
        score.update(cityscapes_label_ids_to_train_ids(p), cityscapes_label_ids_to_train_ids(g))
    ref = score.result(CITYSCAPES_CLASS_NAMES)
    assert data["miou"] == ref["miou"]
    assert data["boundary_f"] == ref["boundary_f"]
    assert data["class_boundary_f"] == ref["class_boundary_f"]
    assert data["num_images"] == 3


def test_eval_train_ids_and_baseline_deltas(tmp_path):
    gts, preds = _dataset(tmp_path)
    # the same predictions in trainIds under another directory must score the same
    for key, p in zip(FRAMES, preds):
        q = tmp_path / "pred_train" / f"{key}.png"
        q.parent.mkdir(exist_ok=True)
        Image.fromarray(cityscapes_label_ids_to_train_ids(p)).save(q)
    a = evaluate_directory(tmp_path, tmp_path / "pred")
    b = evaluate_directory(tmp_path, tmp_path / "pred_train", id_space="trainIds")
    assert a["miou"] == b["miou"] and a["boundary_f"] == b["boundary_f"]
    # ground truth as prediction: perfect scores; deltas against the noisy baseline
    res = CliRunner().invoke(main, ["eval", str(tmp_path), str(tmp_path / "gtFine"), "--baseline",
                                    str(tmp_path / "pred"), "--json", str(tmp_path / "d.json")])
    assert res.exit_code == 0, res.output
    d = json.loads((tmp_path / "d.json").read_text())
    assert d["miou"] == 1.0
    assert d["delta"]["miou"] == pytest.approx(1.0 - a["miou"])
    for t in ("0.0003", "0.0006", "0.0009"):
        assert d["boundary_f"][t] == 1.0
        assert d["delta"]["boundary_f"][t] == pytest.approx(1.0 - a["boundary_f"][t])
    assert "+" in res.output  # the delta columns


def test_eval_missing_prediction_is_an_error(tmp_path):
    _dataset(tmp_path)
    (tmp_path / "pred" / "sub" / f"{FRAMES[0]}_leftImg8bit.png").unlink()
    with pytest.raises(ValueError, match="no prediction for 1 of 3 frames"):
        evaluate_directory(tmp_path, tmp_path / "pred")
    with pytest.raises(ValueError, match="no split 'validation' and no other split found"):
        evaluate_directory(tmp_path, tmp_path / "pred", layout="ade20k", split="validation")


def test_eval_ade20k_layout(tmp_path):
    rng = np.random.default_rng(5)
    gt = rng.integers(0, 151, (10, 12)).astype(np.uint8)
    p = tmp_path / "ADEChallengeData2016" / "annotations" / "validation" / "ADE_val_00000001.png"
    p.parent.mkdir(parents=True)
    Image.fromarray(gt).save(p)
    (tmp_path / "pred").mkdir()
    Image.fromarray(gt).save(tmp_path / "pred" / "ADE_val_00000001.png")
    r = evaluate_directory(tmp_path, tmp_path / "pred", layout="ade20k", split="validation")
    assert r["miou"] == 1.0 and len(r["class_iou"]) == 150


def official_cityscapes_miou(preds, gts):
    """cityscapesScripts' evalPixelLevelSemanticLabeling, rewritten: one (34 x 34) labelIds confusion
    matrix over every pixel, then getIouScoreForLabel / getScoreAverage with ignoreInEval."""
    from segfix_data.datasets.labels import CITYSCAPES_EVAL_IDS

    conf = np.zeros((34, 34), np.int64)
    for p, g in zip(preds, gts):
        np.add.at(conf, (g.astype(int).ravel(), p.astype(int).ravel()), 1)
    scores = []
    for label in CITYSCAPES_EVAL_IDS:  # ignoreInEval labels give NaN and are skipped by the average
        tp = conf[label, label]
        fn = conf[label, :].sum() - tp
        not_ignored = [l for l in CITYSCAPES_EVAL_IDS if l != label]
        fp = conf[not_ignored, label].sum()
        denom = tp + fp + fn
        scores.append(np.nan if denom == 0 else tp / denom)
    return float(np.nanmean(scores)), scores


def test_miou_equals_the_official_evaluator_formula(tmp_path):
    gts, preds = _dataset(tmp_path, seed=11)
    res = evaluate_directory(tmp_path, tmp_path / "pred", boundary=False)
    miou, scores = official_cityscapes_miou(preds, gts)
    assert res["miou"] == pytest.approx(miou, rel=1e-12)
    for name, s in zip(CITYSCAPES_CLASS_NAMES, scores):
        assert (res["class_iou"][name] is None) if np.isnan(s) else res["class_iou"][name] == pytest.approx(s)


def test_one_options_object_serves_the_scores_and_single_fields_replace_its_values(tmp_path):
    from segfix_data.metrics.directory import EvalOptions

    _dataset(tmp_path)
    opts = EvalOptions(boundary=False, split="val")
    by_object = evaluate_directory(tmp_path, tmp_path / "pred", opts)
    assert "boundary_f" not in by_object and by_object["split"] == "val"
    assert by_object == evaluate_directory(tmp_path, tmp_path / "pred", boundary=False, split="val")
    with_boundary = evaluate_directory(tmp_path, tmp_path / "pred", opts, boundary=True)  # a field wins
    assert with_boundary["miou"] == by_object["miou"] and "boundary_f" in with_boundary
    with pytest.raises(TypeError, match="layuot"):
        evaluate_directory(tmp_path, tmp_path / "pred", layuot="ade20k")
