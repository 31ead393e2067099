"""``segfix_train.SegFix``: in-memory offsets and refinement equal ``segfix predict`` + refine."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from segfix_data import refine_labels
from segfix_data.refine.offsets import read_offsets
from segfix_train import SegFix
from segfix_train.data import normalise
from segfix_train.predict import PredictOptions, list_frames, load_model, predict_images, predict_probs
from tests.support.fakes import one_torch_thread, scene  # noqa: F401
from tests.support.tiny_run import write_tiny_run

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return write_tiny_run(tmp_path_factory.mktemp("run") / "run")


@pytest.fixture(scope="module")
def fix(run_dir):
    # a threshold below the untrained model's probabilities' range would make everything boundary;
    # take the median so that about half the pixels are boundary (a real refinement to compare)
    f = SegFix.from_checkpoint(run_dir, device="cpu")
    img = scene(1, 40, 56)[0]
    f.threshold = float(np.median(f.probabilities(img)[0]))
    return f


def test_from_checkpoint_takes_the_newest_checkpoint_or_a_file(run_dir, tmp_path):
    ck = sorted((run_dir / "checkpoints").glob("*.pt"))[-1]
    assert SegFix.from_checkpoint(ck, device="cpu").num_directions == 8
    with pytest.raises(FileNotFoundError, match="no checkpoints"):
        SegFix.from_checkpoint(tmp_path, device="cpu")


def test_matches_segfix_predict_files(fix, run_dir, tmp_path):
    img = scene(1, 40, 56)[0]
    (tmp_path / "imgs").mkdir()
    Image.fromarray(img).save(tmp_path / "imgs" / "a.png")
    ck = str(sorted((run_dir / "checkpoints").glob("*.pt"))[-1])
    predict_images(load_model(ck, "cpu"), list_frames(str(tmp_path / "imgs")), str(tmp_path / "off"),
                   PredictOptions(threshold=fix.threshold))
    got = read_offsets(tmp_path / "off" / "a.npz")
    b, d = fix.predict(img)
    np.testing.assert_array_equal(b, got["boundary"])
    np.testing.assert_array_equal(d, got["direction"])
    assert 0 < b.mean() < 1


def test_offsets_boundary_refine_contracts(fix):
    img = scene(2, 40, 56)[0]
    off = fix.offsets(img)
    b = fix.boundary(img)
    assert off.shape == (40, 56, 2) and np.issubdtype(off.dtype, np.integer)
    assert (np.abs(off).max(axis=2)[b == 0] == 0).all() and (np.abs(off).max(axis=2)[b == 1] == 1).all()
    rng = np.random.default_rng(0)
    for dtype in (np.uint8, np.int32, np.int64, np.uint16):
        labels = rng.choice(np.array([3, 70, 255], dtype), size=(40, 56))
        labels[:, :20] = 70
        out = fix.refine(img, labels)
        assert out.dtype == labels.dtype and out.shape == labels.shape
        assert set(np.unique(out)) <= set(np.unique(labels))
        bnd, d = fix.predict(img)
        np.testing.assert_array_equal(out, refine_labels(labels, bnd, d, 8, scale=2))
    ids = np.arange(40 * 56, dtype=np.int64).reshape(40, 56) * 1000 + 7   # instance-like ids
    out = fix.refine(img, ids, scale=1)
    assert set(np.unique(out)) <= set(ids.ravel()) and (out != ids).any()


def test_sliding_windows_as_predict(fix):
    img = scene(3, 40, 56)[0]
    tiled = SegFix(fix.model, device="cpu", tile=24, stride=16, batch=3, threshold=fix.threshold)
    x = torch.from_numpy(normalise(img))
    pb, pd = predict_probs(fix.model, x, tile=24, stride=16, batch=3)
    got_b, got_d = tiled.probabilities(img)
    np.testing.assert_allclose(got_b, pb.numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(got_d, pd.numpy(), rtol=0, atol=1e-6)
    whole_b, _ = fix.probabilities(img)  # the windows are really used: tiled differs from whole
    assert np.abs(whole_b - got_b).max() > 1e-4


def test_bad_inputs_say_what_is_expected(fix):
    with pytest.raises(ValueError, match=r"RGB uint8 array of shape \(H, W, 3\)"):
        fix.offsets(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="labels must have the image's shape"):
        fix.refine(np.zeros((8, 8, 3), np.uint8), np.zeros((4, 8), np.int32))


def test_readme_example_runs(run_dir, tmp_path, monkeypatch):
    text = README.read_text()
    block = re.search(r"<!-- api-example[^>]*-->\s*```python\n(.*?)```", text, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "w18").symlink_to(run_dir, target_is_directory=True)
    img, lab = scene(4, 40, 56)
    Image.fromarray(img).save("frankfurt_000000_000294_leftImg8bit.png")
    (tmp_path / "preds").mkdir()
    Image.fromarray(lab.astype(np.uint8)).save("preds/frankfurt_000000_000294.png")
    exec(compile(block, "README.md", "exec"), {})
