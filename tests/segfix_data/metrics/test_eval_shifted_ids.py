"""ADE-style raw ids 1..K scored against ``--reduce-zero-label`` ground truth (train ids 0..K-1)
must not print a near-zero mIoU and a high boundary F without a word: the off-by-one id space is
named with the option that fixes it."""
import numpy as np
from click.testing import CliRunner
from PIL import Image

from cli.main import main

K = 5


def _data(tmp_path):
    """A folder layout: raw ground truth 0..4 (0 = background) and predictions equal to it."""
    rng = np.random.default_rng(0)
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir()
    pred.mkdir()
    for i in range(2):
        raw = np.kron(rng.integers(1, K, (4, 6)), np.ones((8, 8), np.int64)).astype(np.uint8)
        raw[:4, :4] = 0
        Image.fromarray(raw).save(gt / f"f{i}.png")
        Image.fromarray(raw).save(pred / f"f{i}.png")
    return gt, pred


def _eval(gt, pred, *extra):
    return CliRunner().invoke(main, ["eval", str(gt), str(pred), "--layout", "folder",
                                     "--num-classes", str(K), *extra])


def test_raw_predictions_against_reduced_ground_truth_are_refused_with_the_fix(tmp_path):
    gt, pred = _data(tmp_path)
    r = _eval(gt, pred, "--reduce-zero-label")
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert "f0.png: 100% of the pixels with ground truth are predicted as the ground-truth id +1" in r.output
    assert "--pred-reduce-zero-label" in r.output
    r = _eval(gt, pred, "--reduce-zero-label", "--pred-reduce-zero-label")
    assert r.exit_code == 0, r.output
    assert "100.0" in r.output  # identical maps once both sides are reduced


def test_reduced_predictions_against_raw_ground_truth_suggest_reduce_zero_label(tmp_path):
    gt, pred = _data(tmp_path)
    for p in sorted(pred.iterdir()):
        raw = np.array(Image.open(p)).astype(np.int64)
        Image.fromarray(np.where(raw == 0, 255, raw - 1).astype(np.uint8)).save(p)
    r = _eval(gt, pred)
    assert r.exit_code == 2 and "ground-truth id -1" in r.output and "pass --reduce-zero-label" in r.output
    assert _eval(gt, pred, "--reduce-zero-label").exit_code == 0


def test_a_poor_but_honest_prediction_is_scored(tmp_path):
    gt, pred = _data(tmp_path)
    for p in sorted(pred.iterdir()):  # wrong on 40% of the pixels, by one id, same id space
        raw = np.array(Image.open(p)).astype(np.int64)
        rows = np.arange(raw.shape[0])[:, None] % 5 < 2
        Image.fromarray(np.where(rows & (raw > 0) & (raw < K - 1), raw + 1, raw).astype(np.uint8)).save(p)
    r = _eval(gt, pred, "--reduce-zero-label", "--pred-reduce-zero-label")
    assert r.exit_code == 0, r.output
