"""``segfix eval --metrics ...biou,trimap``: the JSON against the per-class references summed over
the frames, the deltas, the table, the options' errors and the trimap figure of ``--plots``."""
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cli.main import main
from segfix_data.datasets.labels import cityscapes_label_ids_to_train_ids as to_train
from segfix_data.metrics import RegionMetrics
from segfix_data.metrics.directory import evaluate_directory
from tests.segfix_data.metrics.test_boundary_iou import assert_scores_equal
from tests.segfix_data.metrics.test_plots import _is_png, _predictions
from tests.support.build_data import write_cityscapes
from tests.support.region_oracles import (boundary_iou_reference, confusion_iou_reference, iou_reference,
                                          trimap_reference)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("regions")
    data = write_cityscapes(tmp / "cs", {"val": 3})
    base, pred = _predictions(data, tmp)
    return tmp, data, base, pred


def _frames(data, pred_dir):
    out = []
    for g in sorted((data / "gtFine" / "val").rglob("*_gtFine_labelIds.png")):
        p = pred_dir / g.name.replace("_gtFine_labelIds", "_leftImg8bit")
        out.append((to_train(np.array(Image.open(p))), to_train(np.array(Image.open(g)))))
    return out


def _expected(frames, d, widths):
    inter, union = np.zeros(19, int), np.zeros(19, int)
    conf = {w: np.zeros((19, 20), int) for w in widths}
    for pred, gt in frames:
        i, u = boundary_iou_reference(pred, gt, 19, d)
        inter, union = inter + i, union + u
        for w, c in trimap_reference(pred, gt, 19, widths).items():
            conf[w] += c
    return iou_reference(inter, union), {w: confusion_iou_reference(c) for w, c in conf.items()}


def _check(res, frames, d, widths):
    (ious, mean), trimap = _expected(frames, d, widths)
    names = list(res["class_iou"])
    assert_scores_equal([res["class_boundary_iou"][n] for n in names], ious)
    assert_scores_equal([res["boundary_iou"]], [mean])
    for w in widths:
        assert_scores_equal([res["class_trimap_iou"][str(w)][n] for n in names], trimap[w][0])
        assert_scores_equal([res["trimap_iou"][str(w)]], [trimap[w][1]])


def test_json_holds_the_reference_scores_and_deltas(dataset):
    tmp, data, base, pred = dataset
    out = tmp / "s.json"
    r = CliRunner().invoke(main, ["eval", str(data), str(pred), "--baseline", str(base), "--metrics",
                                  "miou,fscore,biou,trimap", "--json", str(out)])
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    d = 3  # round(0.02 * hypot(64, 128)) = round(2.86)
    assert res["boundary_iou_px"] == {"64x128": d} and res["boundary_iou_ratio"] == 0.02
    assert res["trimap_px"] == [1, 3, 5, 10] and "boundary_f" in res
    _check(res, _frames(data, pred), d, (1, 3, 5, 10))
    _check(res["baseline"], _frames(data, base), d, (1, 3, 5, 10))
    assert res["delta"]["boundary_iou"] == pytest.approx(res["boundary_iou"] - res["baseline"]["boundary_iou"])
    assert res["delta"]["trimap_iou"]["3"] == pytest.approx(res["trimap_iou"]["3"] - res["baseline"]["trimap_iou"]["3"])
    assert res["delta"]["class_boundary_iou"]["road"] == pytest.approx(
        res["class_boundary_iou"]["road"] - res["baseline"]["class_boundary_iou"]["road"])
    assert res["boundary_iou"] > res["baseline"]["boundary_iou"]   # half of each frame is fixed
    table = r.output[r.output.index("BIoU"):]
    assert "trimap@10px" in table and "dBIoU" in table and "d = 3 px at 64x128" in table
    mean_row = next(line for line in table.splitlines() if line.startswith("mean"))
    assert f"{100 * res['boundary_iou']:.2f}" in mean_row and f"{100 * res['delta']['boundary_iou']:+.2f}" in mean_row


def test_pixel_options_and_the_api(dataset):
    tmp, data, _, pred = dataset
    res = evaluate_directory(data, pred, regions=RegionMetrics(biou=True, biou_px=2, trimap_px=(2, 4)),
                             boundary=False)
    assert res["boundary_iou_px"] == {"64x128": 2} and res["boundary_iou_ratio"] is None
    assert "boundary_f" not in res and list(res["trimap_iou"]) == ["2", "4"]
    _check(res, _frames(data, pred), 2, (2, 4))
    r = CliRunner().invoke(main, ["eval", str(data), str(pred), "--metrics", "miou,biou,trimap", "--biou-px", "2",
                                  "--trimap-px", "4,2", "--json", str(tmp / "p.json")])
    assert r.exit_code == 0, r.output
    cli = json.loads((tmp / "p.json").read_text())
    assert {k: cli[k] for k in ("boundary_iou", "trimap_iou", "class_boundary_iou")} == \
        {k: res[k] for k in ("boundary_iou", "trimap_iou", "class_boundary_iou")}


def test_default_metrics_are_unchanged(dataset):
    tmp, data, _, pred = dataset
    r = CliRunner().invoke(main, ["eval", str(data), str(pred), "--json", str(tmp / "d.json")])
    assert r.exit_code == 0, r.output
    res = json.loads((tmp / "d.json").read_text())
    assert "boundary_f" in res and not {"boundary_iou", "trimap_iou", "trimap_curve"} & set(res)
    assert "BIoU" not in r.output


@pytest.mark.parametrize("args, message", [
    (["--metrics", "miou,biuo"], "unknown metric biuo"),
    (["--biou-px", "3"], "add biou to --metrics"),
    (["--trimap-px", "2", "--metrics", "miou,biou"], "add trimap to --metrics"),
    (["--no-boundary", "--metrics", "fscore,biou"], "contradict"),
    (["--metrics", "trimap", "--trimap-px", "0,3"], "integers >= 1"),
])
def test_option_mistakes_exit_2_naming_the_fix(dataset, args, message):
    _, data, _, pred = dataset
    r = CliRunner().invoke(main, ["eval", str(data), str(pred), *args])
    assert r.exit_code == 2 and message in r.output, r.output
    assert "Traceback" not in r.output


def test_plots_draw_the_trimap_curves(dataset):
    tmp, data, base, pred = dataset
    r = CliRunner().invoke(main, ["eval", str(data), str(pred), "--baseline", str(base), "--plots",
                                  str(tmp / "plots"), "--plot-frames", "0", "--json", str(tmp / "q.json")])
    assert r.exit_code == 0, r.output
    assert _is_png(tmp / "plots" / "trimap_gain.png")
    res = json.loads((tmp / "q.json").read_text())
    assert res["trimap_curve"]["width_px"] == list(range(1, 31)) and "trimap_iou" not in res
    curve = np.array(res["trimap_curve"]["miou"]) - np.array(res["baseline"]["trimap_curve"]["miou"])
    assert curve[0] > 0 and abs(curve[-1] - (res["miou"] - res["baseline"]["miou"])) < abs(curve[0])


def test_trimap_figure_of_one_result(tmp_path):
    """Without a baseline the figure is the curve alone (the library call; eval draws it with one)."""
    from segfix_data.metrics.trimap_plot import plot_trimap_gain

    res = {"miou": 0.7, "trimap_curve": {"width_px": [1, 2, 3], "miou": [0.4, None, 0.6]}}
    assert _is_png(plot_trimap_gain(tmp_path / "t.png", res))


def test_plots_without_a_baseline_add_no_trimap_figure(dataset):
    tmp, data, _, pred = dataset
    r = CliRunner().invoke(main, ["eval", str(data), str(pred), "--plots", str(tmp / "solo"), "--json",
                                  str(tmp / "solo.json")])
    assert r.exit_code == 0, r.output
    assert [p.name for p in (tmp / "solo").iterdir()] == ["errors_vs_distance.png"]
    assert "trimap_curve" not in json.loads((tmp / "solo.json").read_text())
