"""Frame discovery per layout and label reading with checks that name the file."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from segfix_data.datasets import labels
from segfix_data.datasets import (FrameError, LayoutError, ade20k_frames, cityscapes_frames,
                                 find_frames, folder_frames, gta5_frames, load_class_map,
                                 read_image, read_instance_ids, read_label)


def _png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def test_cityscapes_frames_sorted_and_paired(cityscapes_dir):
    frames = cityscapes_frames(cityscapes_dir, "train")
    assert [f.stem for f in frames] == sorted(f.stem for f in frames)
    assert len(frames) == 5
    for f in frames:
        assert f.stem.endswith("_leftImg8bit") and f.image.endswith(f.stem + ".png")
        assert f.label.endswith("_gtFine_labelIds.png") and f.instance.endswith("_gtFine_instanceIds.png")
        assert f.split == "train"
        assert f.image.split("/")[-2] == f.label.split("/")[-2]  # same city


def test_missing_and_empty_split_dirs_name_the_directory(cityscapes_dir):
    with pytest.raises(LayoutError, match=r"gtFine/test: missing directory"):
        cityscapes_frames(cityscapes_dir, "test")
    (cityscapes_dir / "gtFine" / "empty").mkdir()
    (cityscapes_dir / "leftImg8bit" / "empty").mkdir()
    with pytest.raises(LayoutError, match=r"gtFine/empty: no files matching"):
        cityscapes_frames(cityscapes_dir, "empty")


@pytest.mark.parametrize("nested", [True, False])
def test_ade20k_root_itself_or_parent(tmp_path, nested):
    base = tmp_path / "ADEChallengeData2016" if nested else tmp_path
    for name in ("ADE_val_00000002", "ADE_val_00000001"):
        _png(base / "annotations" / "validation" / f"{name}.png", np.zeros((4, 6), np.uint8))
        (base / "images" / "validation").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(base / "images" / "validation" / f"{name}.jpg")
    frames = ade20k_frames(tmp_path, "validation")
    assert [f.stem for f in frames] == ["ADE_val_00000001", "ADE_val_00000002"]
    assert frames[0].image.endswith("images/validation/ADE_val_00000001.jpg")
    assert frames[0].instance is None


def test_gta5_reports_unpaired(tmp_path):
    for s in ("00001", "00002"):
        _png(tmp_path / "images" / f"{s}.png", np.zeros((4, 6, 3), np.uint8))
    for s in ("00002", "00003"):
        _png(tmp_path / "labels" / f"{s}.png", np.zeros((4, 6), np.uint8))
    frames, unpaired = gta5_frames(tmp_path)
    assert [f.stem for f in frames] == ["00002"]
    assert [(u["stem"], u["problem"]) for u in unpaired] == [
        ("00001", "image without a label"), ("00003", "label without an image")]


def test_folder_layout_and_class_map(tmp_path):
    for s in ("b", "a"):
        _png(tmp_path / "img" / "train" / f"{s}.png", np.zeros((3, 4, 3), np.uint8))
        _png(tmp_path / "ann" / "train" / f"{s}.png", np.array([[0, 5, 7, 7]] * 3, np.uint8))
    (tmp_path / "map.json").write_text(json.dumps({"0": 255, "5": 0, "7": 1}))
    frames, unpaired = folder_frames(tmp_path, "train", "img/{split}/*.png", "ann/{split}/*.png")
    assert [f.stem for f in frames] == ["a", "b"] and unpaired == []
    table = load_class_map(tmp_path / "map.json")
    out = read_label(frames[0].label, "folder", class_map=table)
    assert out.dtype == np.uint8 and out[0].tolist() == [255, 0, 1, 1]
    _png(tmp_path / "ann" / "train" / "a.png", np.array([[9, 5, 7, 7]] * 3, np.uint8))
    with pytest.raises(FrameError, match=r"a\.png: ids outside the class map table: \[9\]"):
        read_label(frames[0].label, "folder", class_map=table)
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="bad.json: bad class map"):
        load_class_map(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="image-glob"):
        find_frames("folder", tmp_path, "train")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 33), min_size=12, max_size=12))
def test_cityscapes_label_conversion_matches_table(tmp_path_factory, ids):
    path = tmp_path_factory.mktemp("lab") / "x_gtFine_labelIds.png"
    arr = np.array(ids, np.uint8).reshape(3, 4)
    _png(path, arr)
    out = read_label(str(path), "cityscapes", expect_shape=(3, 4))
    expect = [labels.CITYSCAPES_EVAL_IDS.index(v) if v in labels.CITYSCAPES_EVAL_IDS else 255 for v in ids]
    assert out.dtype == np.uint8 and out.ravel().tolist() == expect


def test_ade20k_conversion(tmp_path):
    path = _png(tmp_path / "a.png", np.array([[0, 1, 150]], np.uint8))
    assert read_label(str(path), "ade20k").tolist() == [[255, 0, 149]]
    path = _png(tmp_path / "b.png", np.array([[0, 151]], np.uint8))
    with pytest.raises(FrameError, match=r"b\.png: ids outside the ADE20K \(0\.\.150\) table: \[151\]"):
        read_label(str(path), "ade20k")


# ---- the bad-file corpus ---------------------------------------------------------------------

def test_truncated_png_names_file(tmp_path):
    good = _png(tmp_path / "good.png", np.arange(64 * 64, dtype=np.uint32).reshape(64, 64).astype(np.uint8) % 30)
    data = good.read_bytes()
    bad = tmp_path / "trunc_gtFine_labelIds.png"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(FrameError, match=r"trunc_gtFine_labelIds\.png: cannot decode .*truncated or corrupt"):
        read_label(str(bad), "cityscapes")


def test_non_png_label_names_file(tmp_path):
    bad = tmp_path / "jpeg_gtFine_labelIds.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(bad, format="JPEG")
    with pytest.raises(FrameError, match=r"jpeg_gtFine_labelIds\.png: not a PNG file \(found JPEG\)"):
        read_label(str(bad), "cityscapes")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"this is not an image")
    with pytest.raises(FrameError, match=r"junk\.png: cannot decode"):
        read_label(str(junk), "cityscapes")


def test_rgb_label_names_file(tmp_path):
    bad = _png(tmp_path / "color_gtFine_labelIds.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(FrameError, match=r"color_gtFine_labelIds\.png: label has mode RGB"):
        read_label(str(bad), "cityscapes")


def test_size_mismatch_names_both_files(tmp_path):
    lab = _png(tmp_path / "l.png", np.zeros((4, 6), np.uint8))
    with pytest.raises(FrameError, match=r"l\.png: size 6x4 differs from its image img\.png \(8x5\)"):
        read_label(str(lab), "cityscapes", expect_shape=(5, 8), image_path="img.png")


def test_out_of_table_ids(tmp_path):
    lab = _png(tmp_path / "l.png", np.array([[7, 34, 200]], np.uint8))
    with pytest.raises(FrameError, match=r"l\.png: ids outside the Cityscapes labelIds \(0\.\.33\) table: \[34, 200\] at 2 pixels"):
        read_label(str(lab), "cityscapes")


def test_instance_ids(tmp_path):
    ok = _png(tmp_path / "i.png", np.array([[7, 26001, 24000, 0]], np.uint16))
    assert read_instance_ids(str(ok)).tolist() == [[7, 26001, 24000, 0]]
    bad = _png(tmp_path / "j.png", np.array([[7, 40001, 500]], np.uint16))
    with pytest.raises(FrameError, match=r"j\.png: ids outside the Cityscapes instanceIds .*\[500, 40001\]"):
        read_instance_ids(str(bad))
    with pytest.raises(FrameError, match=r"i\.png: size 4x1 differs"):
        read_instance_ids(str(ok), expect_shape=(2, 4))


def test_missing_file_and_read_image(tmp_path):
    with pytest.raises(FrameError, match=r"nope\.png: file not found"):
        read_label(str(tmp_path / "nope.png"), "cityscapes")
    grey = _png(tmp_path / "g.png", np.full((2, 3), 9, np.uint8))
    rgb = read_image(str(grey))
    assert rgb.shape == (2, 3, 3) and rgb.dtype == np.uint8 and (rgb == 9).all()
