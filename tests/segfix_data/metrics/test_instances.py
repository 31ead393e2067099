"""``segfix eval --instances``: Cityscapes instance AP through the official evaluator as a library."""
from __future__ import annotations

import copy
import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from segfix_data.metrics.instances import _compatible, evaluate_instances, format_instance_table
from tests.support.build_data import write_cityscapes
from tests.support.instances import write_instance_results

ev = pytest.importorskip("cityscapesscripts.evaluation.evalInstanceLevelSemanticLabeling")


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("inst")
    gt = write_cityscapes(root / "cs", {"val": 3}, height=128, width=256)
    write_instance_results(gt, root / "exact")
    write_instance_results(gt, root / "shifted", shift=5, extra_false_positive=True)
    return root


def test_exact_masks_score_one(tree):
    res = evaluate_instances(tree / "cs", tree / "exact")
    assert res["ap"] == pytest.approx(1.0) and res["ap50"] == pytest.approx(1.0)
    present = {n for n, v in res["class_ap"].items() if v is not None}
    assert present and present <= {"person", "car"} and res["num_images"] == 3


def test_equals_the_official_script_path(tree, tmp_path, monkeypatch):
    """Our front end gives the numbers of the evaluator's own evaluateImgLists (run in a scratch
    working directory; its JSON dumps of matches and cache are skipped: with numpy 2 they fail on
    numpy integers, which is why we call its steps instead of its main)."""
    gts = sorted(str(p.resolve()) for p in (tree / "cs/gtFine/val").rglob("*_gtFine_instanceIds.png"))
    preds = [str((tree / "shifted" / (os.path.basename(g)[: -len("_gtFine_instanceIds.png")] + "_pred.txt")).resolve())
             for g in gts]
    args = copy.copy(ev.args)
    args.predictionPath = str((tree / "shifted").resolve())
    args.gtInstancesFile = str(tmp_path / "gtInstances.json")
    args.exportFile = str(tmp_path / "result.json")
    args.quiet, args.JSONOutput, args.colorized, args.distanceAvailable = True, False, False, False
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(ev, "writeDict2JSON", lambda *a, **k: None)
    with _compatible(ev):
        official = ev.evaluateImgLists(preds, gts, args)["averages"]
    ours = evaluate_instances(tree / "cs", tree / "shifted")
    assert 0 < ours["ap"] < 1
    assert ours["ap"] == pytest.approx(official["allAp"]) and ours["ap50"] == pytest.approx(official["allAp50%"])
    for name, c in official["classes"].items():
        assert ours["class_ap"][name] == (None if np.isnan(c["ap"]) else pytest.approx(c["ap"]))


def test_cli_reports_ap_with_baseline_deltas(tree, tmp_path):
    from cli.main import main

    r = CliRunner().invoke(main, ["eval", str(tree / "cs"), str(tree / "exact"), "--instances",
                                  "--baseline", str(tree / "shifted"), "--json", str(tmp_path / "i.json")])
    assert r.exit_code == 0, r.output
    assert "dAP50" in r.output and "mean" in r.output
    out = json.loads((tmp_path / "i.json").read_text())
    assert out["delta"]["ap"] == pytest.approx(out["ap"] - out["baseline"]["ap"]) and out["delta"]["ap"] > 0


def test_bad_results_are_one_line_naming_the_file(tree, tmp_path):
    from cli.main import main

    bad = tmp_path / "bad"
    write_instance_results(tree / "cs", bad)
    lst = sorted(bad.glob("*_pred.txt"))[0]
    lst.write_text("masks/nope.png 26 0.5\n")
    r = CliRunner().invoke(main, ["eval", str(tree / "cs"), str(bad), "--instances"])
    assert r.exit_code == 2 and "nope.png" in r.output and lst.name in r.output
    lst.unlink()
    r = CliRunner().invoke(main, ["eval", str(tree / "cs"), str(bad), "--instances"])
    assert r.exit_code == 2 and "no instance list" in r.output


def test_table_format():
    res = {"ap": 0.5, "ap50": 0.75, "class_ap": {"car": 0.5, "bus": None}, "class_ap50": {"car": 0.75, "bus": None}}
    text = format_instance_table(res, res)
    assert "car" in text and "+0.00" in text and "-" in text.splitlines()[3]


def test_scores_what_segfix_refine_writes(tree, tmp_path):
    """Instance results refined by ``segfix refine`` (ground-truth instance offsets) score with the
    same evaluator; the oracle's boundary fix does not lower AP50 on masks moved by 5 px."""
    from cli.gt import main as gt_main
    from cli.main import main

    runner = CliRunner()
    r = runner.invoke(gt_main, ["build", str(tree / "cs"), str(tmp_path / "shards"), "--split", "val",
                                "--no-images", "--variant", "both", "-q"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["refine", str(tree / "shifted"), str(tmp_path / "ref"), "--offsets",
                             str(tmp_path / "shards")])
    assert r.exit_code == 0 and "instance masks" in r.output, r.output
    refined = evaluate_instances(tree / "cs", tmp_path / "ref")
    before = evaluate_instances(tree / "cs", tree / "shifted")
    assert refined["ap"] is not None and refined["ap50"] >= before["ap50"]
