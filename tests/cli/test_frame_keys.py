"""One frame key for build, predict, refine and eval on suffix-paired data.

A frame's key is its file name without the layout's suffix (``segfix_data.datasets.io.frame_key``):
folder ``s0_rgb.png`` + ``s0_mask.png`` is frame ``s0``; mmseg ``ADE_val_00000000_img.png`` +
``ADE_val_00000000.png`` is ``ADE_val_00000000``. Build stores it as the sample stem, predict
``--img-suffix`` writes ``<key>.npz``, refine finds the offsets of a prediction named by the key or
by its image, and eval finds the prediction of every ground-truth frame. Each tool runs through
its command on a tiny untrained checkpoint (the names are under test, not the offsets).
"""
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cli.gt import main as gt_main
from cli.main import main
from segfix_data.shards import ShardSet
from tests.support.build_data import draw_cityscapes_frame
from tests.support.fakes import one_torch_thread  # noqa: F401
from tests.support.layouts import write_folder
from tests.support.tiny_run import write_tiny_run
from segfix_data.datasets.labels import cityscapes_label_ids_to_train_ids


def _ok(res):
    assert res.exit_code == 0, res.output
    return res


def _gt(*args):
    return _ok(CliRunner().invoke(gt_main, [str(a) for a in args]))


def _segfix(*args):
    return _ok(CliRunner().invoke(main, [str(a) for a in args]))


def _predictions(labels: dict[str, Path], out: Path) -> Path:
    """Each label map with a block set to class 0, saved under the given names (train ids)."""
    out.mkdir(parents=True)
    for name, label in labels.items():
        lab = np.array(Image.open(label))
        lab[4:12, 4:20] = 0
        Image.fromarray(lab).save(out / name)
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return write_tiny_run(tmp_path_factory.mktemp("run") / "run")


def test_folder_with_suffixes_keeps_one_frame_key(tmp_path, run):
    data = write_folder(tmp_path / "data", 2)
    pairing = ["--img-suffix", "_rgb.png", "--seg-suffix", "_mask.png"]
    _gt("build", data, tmp_path / "shards", "--layout", "folder", "--image-glob", "images/*",
        "--label-glob", "labels/*", *pairing, "-q")
    assert [s["stem"] for s in ShardSet(tmp_path / "shards", "train").samples] == ["s0", "s1"]
    _segfix("predict", "--checkpoint", run, "--images", data / "images", "--out", tmp_path / "off",
            "--img-suffix", "_rgb.png", "--device", "cpu")
    assert sorted(p.name for p in (tmp_path / "off").glob("*.npz")) == ["s0.npz", "s1.npz"]
    labels = {f"s{k}": data / "labels" / f"s{k}_mask.png" for k in range(2)}
    # predictions named after their images (s0_rgb.png) and by the key (s0.png) both meet s0.npz
    by_image = _predictions({f"{k}_rgb.png": v for k, v in labels.items()}, tmp_path / "pred_img")
    by_key = _predictions({f"{k}.png": v for k, v in labels.items()}, tmp_path / "pred_key")
    for preds in (by_image, by_key):
        out = tmp_path / (preds.name + "_refined")
        res = _segfix("refine", preds, out, "--offsets", tmp_path / "off", *pairing)
        assert "refined 2 label maps" in res.output and "no offsets" not in res.output
        # and the ground-truth oracle: the shards' stems are the same keys
        _segfix("refine", preds, tmp_path / (preds.name + "_oracle"), "--offsets", tmp_path / "shards", *pairing)
        res = _segfix("eval", data, out, "--layout", "folder", "--label-glob", "labels/*", *pairing,
                      "--id-space", "trainIds")
        assert "IoU" in res.output


def _write_ade_mmseg(root: Path, n: int = 2) -> Path:
    for d in ("img_dir/val", "ann_dir/val"):
        (root / d).mkdir(parents=True)
    for k in range(n):
        img, lab, _ = draw_cityscapes_frame(300 + k, 48, 64)
        Image.fromarray(img).save(root / "img_dir" / "val" / f"ADE_val_{k:08d}_img.png")
        Image.fromarray(cityscapes_label_ids_to_train_ids(lab)).save(root / "ann_dir" / "val" / f"ADE_val_{k:08d}.png")
    return root


def test_mmseg_with_an_image_suffix_keeps_one_frame_key(tmp_path, run):
    data = _write_ade_mmseg(tmp_path / "ade")
    pairing = ["--img-suffix", "_img.png", "--seg-suffix", ".png"]
    _gt("build", data, tmp_path / "shards", "--layout", "mmseg", "--split", "val", *pairing, "-q")
    keys = ["ADE_val_00000000", "ADE_val_00000001"]
    assert [s["stem"] for s in ShardSet(tmp_path / "shards", "val").samples] == keys
    _segfix("predict", "--checkpoint", run, "--images", data / "img_dir" / "val", "--out", tmp_path / "off",
            "--img-suffix", "_img.png", "--device", "cpu")
    assert sorted(p.name for p in (tmp_path / "off").glob("*.npz")) == [k + ".npz" for k in keys]
    # mmsegmentation names its predictions by the key, as the labels are named
    preds = _predictions({k + ".png": data / "ann_dir" / "val" / (k + ".png") for k in keys}, tmp_path / "pred")
    res = _segfix("refine", preds, tmp_path / "refined", "--offsets", tmp_path / "off")
    assert "refined 2 label maps" in res.output
    _segfix("refine", preds, tmp_path / "oracle", "--offsets", tmp_path / "shards")
    res = _segfix("eval", data, tmp_path / "refined", "--layout", "mmseg", *pairing, "--num-classes", "19")
    assert "IoU" in res.output
    # a prediction named after its image is the same frame
    shutil.move(tmp_path / "refined" / (keys[0] + ".png"), tmp_path / "refined" / (keys[0] + "_img.png"))
    _segfix("eval", data, tmp_path / "refined", "--layout", "mmseg", *pairing, "--num-classes", "19")


def test_predict_img_suffix_that_no_image_has_is_one_line(tmp_path, run):
    data = write_folder(tmp_path / "data", 1)
    res = CliRunner().invoke(main, ["predict", "--checkpoint", str(run), "--images", str(data / "images"),
                                    "--out", str(tmp_path / "off"), "--img-suffix", "_left.png"])
    assert res.exit_code == 2 and "--img-suffix '_left.png'" in res.output, res.output


def test_names_with_suffixes_but_no_suffix_option_say_which_option(tmp_path, run):
    data = write_folder(tmp_path / "data", 1)
    _segfix("predict", "--checkpoint", run, "--images", data / "images", "--out", tmp_path / "off",
            "--img-suffix", "_rgb.png", "--device", "cpu")
    preds = _predictions({"s0_rgb.png": data / "labels" / "s0_mask.png"}, tmp_path / "pred")
    res = CliRunner().invoke(main, ["refine", str(preds), str(tmp_path / "out"), "--offsets", str(tmp_path / "off")])
    assert res.exit_code == 2 and "'s0_rgb'" in res.output and "--img-suffix" in res.output, res.output
    res = CliRunner().invoke(main, ["eval", str(data), str(preds), "--layout", "folder", "--label-glob", "labels/*",
                                    "--seg-suffix", "_mask.png", "--id-space", "trainIds"])
    assert res.exit_code == 2 and "found predictions of frames s0_rgb" in res.output, res.output
    assert "--img-suffix" in res.output
