"""`segfix predict` on a dataset root: only images reach the model, and --layout/--split read one
split as build and eval do.

A plain folder (no --layout) leaves out the label maps below it (gtFine/, annotations/, names like
``*_gtFine_labelIds.png``), so that refine afterwards meets one offsets file per frame; with
--layout the images of one split are read and the offsets named by frame key. Each run uses a tiny
untrained checkpoint: the file names are under test, not the offsets.
"""
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cli.main import main
from segfix_data.datasets.images import is_label_path, layout_images
from tests.support.build_data import write_ade20k, write_cityscapes
from tests.support.fakes import one_torch_thread  # noqa: F401
from tests.support.tiny_run import write_tiny_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return write_tiny_run(tmp_path_factory.mktemp("run") / "run")


def _predict(run, *args):
    return CliRunner().invoke(main, ["predict", "--checkpoint", str(run), "--device", "cpu",
                                     *[str(a) for a in args]])


def _names(d):
    """The offsets files of ``d`` (``predict.json``, the run's record, beside them)."""
    return sorted(p.name for p in d.iterdir() if p.name != "predict.json")


def test_plain_cityscapes_root_predicts_images_only_and_refine_meets_one_file_per_frame(tmp_path, run):
    root = write_cityscapes(tmp_path / "cs", {"val": 2}, height=32, width=64)
    res = _predict(run, "--images", root, "--out", tmp_path / "off")
    assert res.exit_code == 0, res.output
    assert _names(tmp_path / "off") == ["aachen_000000_000019_leftImg8bit.npz", "bremen_000001_000019_leftImg8bit.npz"]
    assert "left out 4 label maps" in res.output and "--layout cityscapes" in res.output
    preds = tmp_path / "preds"
    preds.mkdir()
    for g in sorted((root / "gtFine" / "val").rglob("*_gtFine_labelIds.png")):
        Image.open(g).save(preds / g.name.replace("_gtFine_labelIds", "_leftImg8bit"))
    res = CliRunner().invoke(main, ["refine", str(preds), str(tmp_path / "refined"), "--offsets", str(tmp_path / "off")])
    assert res.exit_code == 0 and "refined 2 label maps" in res.output, res.output


def test_layout_and_split_read_one_split_named_by_frame_key(tmp_path, run):
    root = write_cityscapes(tmp_path / "cs", {"train": 2, "val": 1}, height=32, width=64)
    res = _predict(run, "--images", root, "--layout", "cityscapes", "--out", tmp_path / "val")
    assert res.exit_code == 0, res.output
    assert _names(tmp_path / "val") == ["aachen_000000_000019.npz"]  # val by default, keys as build's
    assert "1 image of cityscapes split val" in res.output
    res = _predict(run, "--images", root, "--layout", "cityscapes", "--split", "training", "--out", tmp_path / "tr")
    assert res.exit_code == 0, res.output
    assert _names(tmp_path / "tr") == ["aachen_000000_000019.npz", "bremen_000001_000019.npz"]
    ade = write_ade20k(tmp_path / "ade", {"training": 1, "validation": 2}, height=32, width=48)
    res = _predict(run, "--images", ade, "--layout", "ade20k", "--split", "val", "--out", tmp_path / "ade_off")
    assert res.exit_code == 0, res.output
    assert _names(tmp_path / "ade_off") == ["ADE_val_00000001.npz", "ADE_val_00000002.npz"]
    res = _predict(run, "--images", root, "--split", "val", "--out", tmp_path / "x")
    assert res.exit_code == 2 and "--split: only with --layout" in res.output, res.output


def test_plain_ade20k_root_reads_images_not_annotations(tmp_path, run):
    ade = write_ade20k(tmp_path / "ade", {"validation": 2}, height=32, width=48)
    res = _predict(run, "--images", ade, "--out", tmp_path / "off")
    assert res.exit_code == 0, res.output
    assert _names(tmp_path / "off") == ["ADE_val_00000001.npz", "ADE_val_00000002.npz"]
    assert "left out 2 label maps" in res.output


def test_two_images_with_one_name_are_both_named(tmp_path, run):
    for split in ("a", "b"):
        (tmp_path / "imgs" / split).mkdir(parents=True)
        Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "imgs" / split / "x.png")
    res = _predict(run, "--images", tmp_path / "imgs", "--out", tmp_path / "off")
    assert res.exit_code == 2 and "Traceback" not in res.output
    a, b = tmp_path / "imgs" / "a" / "x.png", tmp_path / "imgs" / "b" / "x.png"
    assert f"{a} and {b}: both would write the offsets file x.npz" in res.output
    assert "--layout and --split" in res.output


def test_a_root_one_level_off_names_the_root(tmp_path, run):
    root = write_cityscapes(tmp_path / "cs", {"val": 1}, height=32, width=64)
    res = _predict(run, "--images", root / "gtFine", "--layout", "cityscapes", "--out", tmp_path / "off")
    assert res.exit_code == 2 and f"pass {root} instead" in res.output, res.output


def test_label_paths():
    assert is_label_path("cs/gtFine/val/a/a_000000_000019_gtFine_labelIds.png", "cs")
    assert is_label_path("x/a_000000_000019_gtFine_color.png")
    assert is_label_path("d/b_instanceIds.png")
    assert is_label_path("ade/ADEChallengeData2016/annotations/validation/ADE_val_1.png", "ade")
    assert not is_label_path("ade/ADEChallengeData2016/images/validation/ADE_val_1.jpg", "ade")
    assert not is_label_path("cs/leftImg8bit/val/a/a_000000_000019_leftImg8bit.png", "cs")
    # the folder given is never itself a reason: only directories below it count
    assert not is_label_path("labels/photo.png", "labels")


def test_layout_images_without_labels(tmp_path):
    """A split's images are listed from the images alone (a test split has no label maps)."""
    root = write_cityscapes(tmp_path / "cs", {"test": 2}, height=32, width=64)
    for p in (root / "gtFine").rglob("*.png"):
        p.unlink()
    keys = [k for _, k in layout_images("cityscapes", root, "test")]
    assert keys == ["aachen_000000_000019", "bremen_000001_000019"]
