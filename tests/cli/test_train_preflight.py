"""`segfix train` refuses, before the run starts, shards it cannot train on: shards built with
--no-images, and a validation split the shard directory does not have (a folder build has only
`train`, so the default --val-split val names --val-split '' as the fix)."""
import pytest
from click.testing import CliRunner

from cli.gt import main as gt_main
from cli.main import main
from tests.support.layouts import write_folder
from tests.support.fakes import one_torch_thread  # noqa: F401

FOLDER = ["--layout", "folder", "--image-glob", "images/*", "--label-glob", "labels/*",
          "--img-suffix", "_rgb.png", "--seg-suffix", "_mask.png", "-q"]


@pytest.fixture(scope="module")
def folder_shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("folder")
    data = write_folder(root / "data")
    for name, extra in (("shards", []), ("noimg", ["--no-images"])):
        res = CliRunner().invoke(gt_main, ["build", str(data), str(root / name), *FOLDER, *extra])
        assert res.exit_code == 0, res.output
    return root


def _train(shards, run, *extra):
    return CliRunner().invoke(main, ["train", "--shards", str(shards), "--iters", "1", "--batch", "2",
                                     "--crop", "32", "--device", "cpu", "--out", str(run), *extra])


def _one_line(res):
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.output, res.output
    return lines[0]


def test_no_images_shards_are_refused_before_the_run_starts(folder_shards, tmp_path):
    res = _train(folder_shards / "noimg", tmp_path / "run", "--val-split", "")
    assert res.exit_code == 2, res.output
    line = _one_line(res)
    assert "--no-images" in line and "noimg:train" in line and "internal error" not in line
    assert not (tmp_path / "run" / "train.jsonl").exists()


def test_missing_val_split_names_the_val_split_fix(folder_shards, tmp_path):
    res = _train(folder_shards / "shards", tmp_path / "run")  # default --val-split val
    assert res.exit_code == 2, res.output
    line = _one_line(res)
    assert "no validation split 'val'" in line and "splits found: train" in line
    assert "--val-split ''" in line and "--shards DIR:SPLIT" not in line
    assert not (tmp_path / "run" / "train.jsonl").exists()


def test_the_suggested_fix_trains(folder_shards, tmp_path):
    res = _train(folder_shards / "shards", tmp_path / "run", "--val-split", "", "--model", "hrnet_w18")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "run" / "train.jsonl").exists()
