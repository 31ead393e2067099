"""Split discovery and names (datasets/layouts.py), the same in build, eval and train."""
import pytest
from click.testing import CliRunner

from cli.gt import main as gt_main
from segfix_data.datasets import (LayoutError, available_splits, normalise_split, resolve_split,
                                  splits_present)
from tests.support.build_data import write_ade20k, write_cityscapes
from tests.support.layouts import write_mmseg, write_voc


def test_available_splits_per_layout(tmp_path):
    cs = write_cityscapes(tmp_path / "cs", {"val": 1, "test": 1}, height=16, width=32)
    (cs / "gtFine" / "train").mkdir()  # an empty split directory does not count
    assert available_splits("cityscapes", cs) == ["test", "val"]
    assert available_splits("cityscapes", cs / "gtFine") == ["test", "val"]  # GT_DIR = gtFine itself
    ade = write_ade20k(tmp_path / "ade", {"validation": 1}, height=16, width=24)
    assert available_splits("ade20k", ade) == ["validation"]
    assert available_splits("ade20k", ade / "ADEChallengeData2016") == ["validation"]
    assert available_splits("gta5", tmp_path) == []
    (tmp_path / "f" / "a" / "deep").mkdir(parents=True)
    (tmp_path / "f" / "a" / "deep" / "x.png").write_bytes(b"")
    (tmp_path / "f" / "b").mkdir()
    assert available_splits("folder", tmp_path / "f") == ["a"]
    voc = write_voc(tmp_path / "voc", {"train": 1, "val": 1}, devkit=True, height=16, width=24)
    assert available_splits("voc", tmp_path / "voc") == ["train", "val"]
    assert available_splits("voc", tmp_path / "f") == []  # not a VOC folder: no split
    mm = write_mmseg(tmp_path / "mm", {"val": 1}, height=16, width=24)
    assert available_splits("mmseg", mm) == ["val"]
    assert resolve_split("voc", voc, "validation") == "val"
    lst = tmp_path / "mine.txt"
    lst.write_text("2007_000000\n")
    assert resolve_split("voc", voc, str(lst)) == str(lst)  # a split list file is kept as given
    with pytest.raises(LayoutError, match=r"no split 'test' \(splits found: train, val\)"):
        resolve_split("voc", voc, "test")
    assert splits_present("mmseg", mm) == ["val"]
    with pytest.raises(ValueError, match="unknown layout"):
        available_splits("nope", tmp_path)


@pytest.mark.parametrize("name, available, expected", [
    ("val", ["train", "val"], "val"),
    ("val", ["training", "validation"], "validation"),
    ("train", ["training", "validation"], "training"),
    ("validation", ["train", "val"], "val"),
    ("training", ["training", "train"], "training"),
])
def test_normalise_split_aliases(name, available, expected):
    assert normalise_split(name, available) == expected


def test_normalise_split_errors_list_what_exists():
    with pytest.raises(LayoutError, match=r"DIR: no split 'test' \(splits found: train, val\); pass --split"):
        normalise_split("test", ["train", "val"], "DIR")
    with pytest.raises(LayoutError, match="no other split found; check the directory and --layout"):
        normalise_split("val", [], "DIR")
    with pytest.raises(LayoutError, match="'valid'"):  # no fuzzy matching beyond the aliases
        normalise_split("valid", ["validation"], "DIR")


def test_splits_present_and_resolve(tmp_path):
    cs = write_cityscapes(tmp_path / "cs", {"val": 1}, height=16, width=32)
    assert splits_present("cityscapes", cs) == ["val"]
    assert resolve_split("cityscapes", cs, "val") == "val"
    assert splits_present("gta5", tmp_path) == ["train"] and resolve_split("gta5", tmp_path, "x") == "x"
    with pytest.raises(LayoutError, match=f"it holds the cityscapes dataset {cs}: pass {cs} instead"):
        splits_present("cityscapes", tmp_path)  # the folder holding the dataset
    only_test = write_cityscapes(tmp_path / "t", {"test": 1}, height=16, width=32)
    with pytest.raises(LayoutError, match="other splits found: test"):
        splits_present("cityscapes", only_test)


def test_build_without_split_builds_the_splits_present(tmp_path):
    data = write_cityscapes(tmp_path / "cs", {"val": 2}, height=32, width=64)
    r = CliRunner().invoke(gt_main, ["build", str(data), str(tmp_path / "out"), "-q", "--no-images"])
    assert r.exit_code == 0, r.output
    assert "building split val (train not found)" in r.output
    assert (tmp_path / "out" / "val" / "manifest.json").is_file()
    assert not (tmp_path / "out" / "train").exists()
    r = CliRunner().invoke(gt_main, ["build", str(tmp_path / "out"), str(tmp_path / "o2"), "-q"])
    out = tmp_path / "out"
    assert r.exit_code == 2 and f"looked for {out / 'gtFine' / 'train'}, {out / 'gtFine' / 'val'}" in r.output
    assert "Traceback" not in r.output


def test_ade20k_build_takes_its_own_names_and_aliases(tmp_path):
    data = write_ade20k(tmp_path / "ade", {"training": 1, "validation": 1}, height=32, width=48)
    r = CliRunner().invoke(gt_main, ["build", str(data), str(tmp_path / "out"), "--layout", "ade20k",
                                     "-q", "--no-images"])
    assert r.exit_code == 0, r.output
    assert "building splits training, validation" in r.output
    r = CliRunner().invoke(gt_main, ["build", str(data), str(tmp_path / "o2"), "--layout", "ade20k",
                                     "--split", "val", "-q", "--no-images"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "o2").iterdir()) == ["validation"]


def test_inspect_choose_split_accepts_the_aliases():
    from segfix_data.inspect.shards import choose_split

    assert choose_split(["training", "validation"], "val") == "validation"
    assert choose_split(["training", "validation"], None) == "validation"
    assert choose_split(["train", "val"], "training") == "train"
    with pytest.raises(ValueError, match="built splits: train, val"):
        choose_split(["train", "val"], "test")


def test_a_root_one_level_off_names_the_dataset_root(tmp_path):
    """Build, eval and predict take the dataset root; one level too deep (gtFine, gtFine/val,
    ADEChallengeData2016/images) or too high (the folder holding it), the message names it."""
    cs = write_cityscapes(tmp_path / "data" / "cs", {"val": 1}, height=16, width=32)
    ade = write_ade20k(tmp_path / "more" / "ade", {"validation": 1}, height=16, width=24)
    base = ade / "ADEChallengeData2016"
    for layout, wrong, right in (("cityscapes", cs / "gtFine", cs), ("cityscapes", cs / "gtFine" / "val", cs),
                                 ("cityscapes", cs / "leftImg8bit", cs), ("cityscapes", tmp_path / "data", cs),
                                 ("ade20k", base / "images", base), ("ade20k", base / "annotations" / "validation", base),
                                 ("ade20k", tmp_path / "more", ade)):
        for call in (splits_present, lambda lay, root: resolve_split(lay, root, "val")):
            with pytest.raises(LayoutError, match=f"pass {right} instead"):
                call(layout, wrong)
        r = CliRunner().invoke(gt_main, ["build", str(wrong), str(tmp_path / "out"), "--layout", layout])
        assert r.exit_code == 2 and f"pass {right} instead" in r.output, r.output
        assert "missing directory" not in r.output and "not found)" not in r.output
    assert splits_present("cityscapes", cs) == ["val"] and splits_present("ade20k", ade) == ["validation"]


def test_eval_names_the_dataset_root_but_takes_gtfine(tmp_path):
    from cli.main import main
    from segfix_data.metrics.directory import resolve_eval_split

    cs = write_cityscapes(tmp_path / "data" / "cs", {"val": 1}, height=16, width=32)
    assert resolve_eval_split(cs / "gtFine", "cityscapes", None) == "val"  # GT_DIR may be gtFine itself
    for wrong in (tmp_path / "data", cs / "gtFine" / "val"):
        r = CliRunner().invoke(main, ["eval", str(wrong), str(tmp_path)])
        assert r.exit_code == 2 and f"pass {cs} instead" in r.output, r.output


def test_no_split_found_says_where_it_looked(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(LayoutError, match=f"looked for {tmp_path / 'empty' / 'gtFine' / 'train'}, "
                                          f"{tmp_path / 'empty' / 'gtFine' / 'val'}"):
        splits_present("cityscapes", tmp_path / "empty")
