"""``segfix-gt build`` on generated VOC and mmseg trees, and the non-zero exit of an empty split."""
from __future__ import annotations

import shutil

from click.testing import CliRunner

from cli.gt import main
from segfix_data.shards import ShardSet
from tests.support.layouts import write_mmseg, write_voc


def _build(*args):
    return CliRunner().invoke(main, ["build", *map(str, args), "-q"])


def test_voc_build_every_listed_frame(tmp_path):
    base = write_voc(tmp_path / "VOCdevkit_parent", {"train": 3, "val": 2}, devkit=True)
    r = _build(base, tmp_path / "out", "--layout", "voc", "--split", "train", "--split", "val")
    assert r.exit_code == 0, r.output
    for split in ("train", "val"):
        listed = (base / "ImageSets/Segmentation" / f"{split}.txt").read_text().split()
        ds = ShardSet(tmp_path / "out", split)
        assert [s["stem"] for s in ds.samples] == listed
        lab = ds.read(0, fields=("label",))["label"]
        assert 255 in lab and lab[lab != 255].max() <= 20


def test_mmseg_build_with_cityscapes_names(tmp_path):
    root = write_mmseg(tmp_path / "mm")
    r = _build(root, tmp_path / "out", "--layout", "mmseg", "--img-suffix", "_leftImg8bit.png",
               "--seg-suffix", "_gtFine_labelTrainIds.png", "--split", "train", "--split", "val")
    assert r.exit_code == 0, r.output
    assert len(ShardSet(tmp_path / "out", "train")) == 3 and len(ShardSet(tmp_path / "out", "val")) == 2


def test_split_where_nothing_pairs_exits_non_zero(tmp_path):
    root = write_mmseg(tmp_path / "mm")
    r = _build(root, tmp_path / "out", "--layout", "mmseg")
    assert r.exit_code == 2
    assert "no frame pairs" in r.output and "_leftImg8bit.png" in r.output and "--img-suffix" in r.output
    r = _build(root, tmp_path / "out2", "--layout", "folder", "--image-glob", "img_dir/{split}/**/*.png",
               "--label-glob", "ann_dir/{split}/**/*.png")
    assert r.exit_code == 2 and "same file stem" in r.output


def test_no_images_reads_no_image_file(tmp_path):
    base = write_voc(tmp_path / "voc", {"train": 2})
    shutil.rmtree(base / "JPEGImages")
    r = _build(base, tmp_path / "out", "--layout", "voc", "--split", "train", "--no-images")
    assert r.exit_code == 0, r.output
    ds = ShardSet(tmp_path / "out", "train")
    assert len(ds) == 2 and ds.samples[0]["shape"] == [48, 64]


def test_class_names_reach_the_inspect_table(tmp_path):
    root = write_mmseg(tmp_path / "mm", {"train": 1})
    names = tmp_path / "names.txt"
    names.write_text("\n".join(f"class{i}" for i in range(19)) + "\n")
    r = _build(root, tmp_path / "out", "--layout", "mmseg", "--img-suffix", "_leftImg8bit.png",
               "--seg-suffix", "_gtFine_labelTrainIds.png", "--split", "train", "--class-names", names)
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["inspect", str(tmp_path / "out"), "--out", str(tmp_path / "p.png")])
    assert r.exit_code == 0, r.output
    assert "class0" in r.output


def test_no_images_builds_a_labels_only_cityscapes_tree(tmp_path):
    from tests.support.build_data import write_cityscapes

    root = write_cityscapes(tmp_path / "cs", {"val": 2})
    shutil.rmtree(root / "leftImg8bit")
    r = _build(root, tmp_path / "out", "--split", "val", "--no-images", "--variant", "both")
    assert r.exit_code == 0, r.output
    assert len(ShardSet(tmp_path / "out", "val")) == 2
    r = _build(root, tmp_path / "out2", "--split", "val")
    assert r.exit_code == 2 and "--no-images" in r.output
