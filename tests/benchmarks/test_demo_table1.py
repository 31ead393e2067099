"""The Table 1 demo runs and shows the effect: GT offsets raise mIoU and boundary F of coarse predictions."""
import sys

import numpy as np

from tests.support.benchmarks import run_benchmark
from tests.support.paths import REPO as ROOT
from tests.support.rectangles import rectangle_shifts


def test_demo_table1_quick_shows_the_effect(tmp_path):
    proc, data = run_benchmark("demo_table1.py", "--quick", json_path=tmp_path / "demo.json")
    res = data["results"]
    for model in ("stride-8 model", "stride-4 model"):
        base = res[f"{model} | w/o SegFix"]
        fixed = res[f"{model} | GT offsets m=8"]
        assert fixed["miou"] > base["miou"]
        for t in ("0.0003", "0.0006", "0.0009"):
            assert fixed["boundary_f"][t] > base["boundary_f"][t]
    assert "GT offsets m=8" in proc.stdout


def test_coarse_prediction_is_model_like():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from demo_table1 import coarse_prediction

    label = np.zeros((32, 64), np.uint8)
    label[:, 30:] = 1
    label[10:14, 5:9] = 2  # too small for stride 8: lost
    pred = coarse_prediction(label, 8, 0.0, np.random.default_rng(0))
    assert pred.shape == label.shape and set(np.unique(pred)) <= {0, 1, 2}
    assert (pred == 2).sum() < (label == 2).sum()
    assert (pred[:, :24] == 0).all() and (pred[:, 36:] == 1).all()


def test_coarse_prediction_is_not_shifted():
    """The model-like maps (demo_table1, demo_trained, the direction ablation): area-averaged scores
    upsampled with half-pixel centres keep a rectangle's centroid in place on average over its 64
    placements against the stride-8 grid (nearest sampling of the top-left pixel moves it 3.5 px)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from demo_table1 import coarse_prediction

    shifts = rectangle_shifts(lambda lab: coarse_prediction(lab, 8, 0.0, np.random.default_rng(0)))
    assert np.all(np.abs(np.mean(shifts, axis=0)) < 0.1)
