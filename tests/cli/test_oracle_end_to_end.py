"""The paper's Table 1 through the commands: example data -> shards (GT oracle) -> refine -> eval."""
import json
import sys

import numpy as np
from click.testing import CliRunner
from PIL import Image

from cli.gt import main as gt_main
from cli.main import main
from segfix_data import instance_targets, semantic_targets
from segfix_data.datasets.labels import (cityscapes_instance_ids_to_segments, cityscapes_label_ids_to_train_ids,
                                cityscapes_train_ids_to_label_ids)
from segfix_data.refine import refine_labels, refine_masks
from tests.support.paths import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from demo_table1 import coarse_prediction  # noqa: E402


def test_gt_oracle_refine_then_eval(tmp_path):
    runner = CliRunner()
    data, shards = tmp_path / "data", tmp_path / "shards"
    res = runner.invoke(gt_main, ["example", str(data), "--train", "0", "--val", "2", "--size", "256x128"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(gt_main, ["build", str(data), str(shards), "--split", "val", "--no-images", "-q",
                                    "--variant", "both"])
    assert res.exit_code == 0, res.output
    rng = np.random.default_rng(0)
    gts = {}
    for gpath in sorted((data / "gtFine" / "val").rglob("*_gtFine_labelIds.png")):
        gt = cityscapes_label_ids_to_train_ids(np.array(Image.open(gpath)))
        pred = cityscapes_train_ids_to_label_ids(coarse_prediction(gt, 8, 0.15, rng))
        name = gpath.name.replace("_gtFine_labelIds", "_leftImg8bit")
        (tmp_path / "pred").mkdir(exist_ok=True)
        Image.fromarray(pred).save(tmp_path / "pred" / name)
        gts[name] = gt
    res = runner.invoke(main, ["refine", str(tmp_path / "pred"), str(tmp_path / "out"), "--offsets", str(shards)])
    assert res.exit_code == 0, res.output
    assert "with shards offsets" in res.output
    for name, gt in gts.items():  # the oracle's offsets are the ground truth's targets
        t = semantic_targets(gt)
        pred = np.array(Image.open(tmp_path / "pred" / name))
        np.testing.assert_array_equal(np.array(Image.open(tmp_path / "out" / name)),
                                      refine_labels(pred, t.boundary, t.direction, 8, scale=2))
    res = runner.invoke(main, ["eval", str(data), str(tmp_path / "out"), "--baseline", str(tmp_path / "pred"),
                               "--json", str(tmp_path / "e.json")])
    assert res.exit_code == 0, res.output
    e = json.loads((tmp_path / "e.json").read_text())
    assert e["delta"]["miou"] > 0
    assert all(v > 0 for v in e["delta"]["boundary_f"].values())


def test_gt_oracle_refines_instance_results_with_instance_targets(tmp_path):
    runner = CliRunner()
    data, shards = tmp_path / "data", tmp_path / "shards"
    assert runner.invoke(gt_main, ["example", str(data), "--train", "0", "--val", "1", "--size", "256x128"]).exit_code == 0
    res = runner.invoke(gt_main, ["build", str(data), str(shards), "--split", "val", "--no-images", "-q",
                                  "--variant", "both"])
    assert res.exit_code == 0, res.output
    ipath = next((data / "gtFine" / "val").rglob("*_gtFine_instanceIds.png"))
    ids = np.array(Image.open(ipath)).astype(np.int32)
    key = ipath.name.replace("_gtFine_instanceIds.png", "")
    things = [v for v in np.unique(ids) if v >= 1000][:3]
    assert things, "the example frame should hold thing instances"
    pred = tmp_path / "pred"
    (pred / "m").mkdir(parents=True)
    masks, lines = [], []
    for j, v in enumerate(things):
        m = np.zeros(ids.shape, np.uint8)
        m[np.roll(ids == v, 2, axis=1)] = 255  # a slightly misplaced instance mask
        Image.fromarray(m).save(pred / "m" / f"{key}_{j}.png")
        masks.append(m)
        lines.append(f"m/{key}_{j}.png {v // 1000} 0.{9 - j}")
    (pred / f"{key}_leftImg8bit_pred.txt").write_text("\n".join(lines) + "\n")
    res = runner.invoke(main, ["refine", str(pred), str(tmp_path / "out"), "--offsets", str(shards)])
    assert res.exit_code == 0, res.output
    seg, ign = cityscapes_instance_ids_to_segments(ids)
    t = instance_targets(seg, ignore_index=ign)
    expected = refine_masks(masks, t.boundary, t.direction, 8, scale=1)
    for j in range(len(things)):
        got = np.array(Image.open(tmp_path / "out" / "m" / f"{key}_{j}.png"))
        np.testing.assert_array_equal(got, expected[j])
    assert (tmp_path / "out" / f"{key}_leftImg8bit_pred.txt").read_text() == (pred / f"{key}_leftImg8bit_pred.txt").read_text()
