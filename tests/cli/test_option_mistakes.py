"""A user's mistake in a `segfix train` or `segfix predict` setting is one line and exit 2, before any
work: nonsense values were accepted silently (`predict --threshold 2` or `nan` wrote empty offsets,
`--batch 0` became 4, `--stride 0` the tile, `--stride` without `--tile` was ignored, `--lr nan`
failed at step 2) or crashed with a traceback (`train --lr -1`, `--workers -1`, a config with
`crop = "big"`, `predict --device cuda` on a PyTorch without CUDA)."""
from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from cli.main import main

TRAIN = ["train", "--shards", "fakeP", "--iters", "2", "--batch", "2", "--val-split", "none"]


def _one_line(r, *says):
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and "internal error" not in r.output, r.output
    (line,) = [ln for ln in r.output.splitlines() if ln.strip()]
    assert line.startswith("error: ") and all(s in line for s in says), line
    return line


@pytest.mark.parametrize("extra, says", [
    (["--lr", "-1"], ["lr (from the command line): must be >= 0, got -1.0"]),
    (["--lr", "nan"], ["lr (from the command line): must be >= 0, got nan"]),
    (["--workers", "-1"], ["num_workers (from the command line): must be >= 0, got -1"]),
    (["--val-every", "0"], ["val_every", "must be >= 1"]),
])
def test_train_refuses_nonsense_options_up_front(tmp_path, extra, says):
    r = CliRunner().invoke(main, [*TRAIN, "--out", str(tmp_path / "run"), *extra])
    _one_line(r, *says)
    assert not (tmp_path / "run").exists()  # before the run directory is claimed


@pytest.mark.parametrize("toml, says", [
    ('crop = "big"\n', ["crop (from config", "must be a whole number, got 'big'"]),
    ("momentum = -0.9\n", ["momentum (from config", "must be >= 0"]),
    ('scale = "wide"\n', ["scale (from config", "must be a list of numbers (or unset)"]),
    ("flip = 1\n", ["flip (from config", "must be true or false"]),
])
def test_train_refuses_wrong_types_in_a_config_file_naming_it(tmp_path, toml, says):
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    line = _one_line(CliRunner().invoke(main, [*TRAIN, "--out", str(tmp_path / "run"), "--config", str(cfg)]),
                     *says)
    assert str(cfg) in line


@pytest.fixture
def images(tmp_path):
    from PIL import Image

    (tmp_path / "imgs").mkdir()
    Image.new("RGB", (16, 16)).save(tmp_path / "imgs" / "a.png")
    return tmp_path / "imgs"


@pytest.mark.parametrize("extra, says", [
    (["--threshold", "2"], "--threshold must be a probability in [0, 1)"),
    (["--threshold", "1"], "--threshold must be a probability in [0, 1)"),
    (["--threshold", "nan"], "got nan"),
    (["--threshold", "-0.1"], "--threshold must be a probability"),
    (["--batch", "0"], "--batch must be a whole number >= 1, got 0"),
    (["--tile", "32", "--stride", "0"], "--stride must be a whole number >= 1, got 0"),
    (["--tile", "0"], "--tile must be a whole number >= 1, got 0"),
    (["--stride", "16"], "--stride 16 is the step between sliding windows: give their side with --tile"),
    (["--tile", "16", "--stride", "32"], "--stride 32 is larger than --tile 16"),
])
def test_predict_refuses_nonsense_options_before_reading_the_checkpoint(tmp_path, images, extra, says):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not read: the options are refused first")
    r = CliRunner().invoke(main, ["predict", "--checkpoint", str(junk), "--images", str(images),
                                  "--out", str(tmp_path / "off"), "--device", "cpu", *extra])
    _one_line(r, says)
    assert not (tmp_path / "off").exists()


def test_predict_device_cuda_without_cuda_is_one_line(tmp_path, images, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"x")
    r = CliRunner().invoke(main, ["predict", "--checkpoint", str(junk), "--images", str(images),
                                  "--out", str(tmp_path / "off"), "--device", "cuda"])
    _one_line(r, "--device cuda: ", "use --device cpu")


def test_the_api_refuses_the_same_nonsense():
    from segfix_train import SegFix

    with pytest.raises(ValueError, match="--threshold must be a probability"):
        SegFix(torch.nn.Identity(), threshold=float("nan"))
    with pytest.raises(ValueError, match="--stride 4 is the step between sliding windows"):
        SegFix(torch.nn.Identity(), stride=4)
