"""The voc and mmseg layouts, suffix pairing in folder, and the "nothing pairs" error."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from segfix_data.datasets import LayoutError, find_frames, read_label
from segfix_data.datasets import labels as L
from tests.support.layouts import voc_frame, write_mmseg, write_voc


@pytest.mark.parametrize("devkit", [False, True])
def test_voc_splits_come_from_the_lists(tmp_path, devkit):
    base = write_voc(tmp_path, {"train": 3, "val": 2}, devkit=devkit)
    root = tmp_path if devkit else base
    train, un = find_frames("voc", root, "train")
    val, _ = find_frames("voc", root, "val")
    assert [f.stem for f in train] == (base / "ImageSets/Segmentation/train.txt").read_text().split()
    assert [f.stem for f in val] == ["2007_000003", "2007_000004"]
    assert un == [] and {f.split for f in train} == {"train"}
    assert not {f.stem for f in train} & {f.stem for f in val}   # the unlisted frame is in neither


def test_voc_palette_png_reads_as_indices_with_255(tmp_path):
    base = write_voc(tmp_path, {"train": 1})
    frame = find_frames("voc", base, "train")[0][0]
    assert Image.open(frame.label).mode == "P"
    _, expect = voc_frame(0)
    got = read_label(frame.label, "voc")
    np.testing.assert_array_equal(got, expect)
    assert 255 in got and got.dtype == np.uint8


def test_voc_rejects_ids_outside_the_table(tmp_path):
    base = write_voc(tmp_path, {"train": 1})
    frame = find_frames("voc", base, "train")[0][0]
    Image.fromarray(np.full((8, 8), 40, np.uint8)).save(frame.label)
    with pytest.raises(ValueError, match="PASCAL VOC"):
        read_label(frame.label, "voc")


def test_voc_augmented_list_file_and_deeplab_pairs(tmp_path):
    base = write_voc(tmp_path, {"train": 2})
    aug = base / "SegmentationClassAug"
    aug.mkdir()
    Image.fromarray(voc_frame(9)[1]).save(aug / "2008_000009.png")   # SBD: grey PNG of indices
    Image.fromarray(voc_frame(9)[0]).save(base / "JPEGImages" / "2008_000009.jpg")
    lst = tmp_path / "train_aug.txt"
    lst.write_text("2007_000000\n2008_000009\n")
    frames, _ = find_frames("voc", base, str(lst))
    assert [f.stem for f in frames] == ["2007_000000", "2008_000009"]
    assert frames[1].label.endswith("SegmentationClassAug/2008_000009.png") and frames[0].split == "train_aug"
    (base / "ImageSets/Segmentation/deeplab.txt").write_text(
        "/JPEGImages/2008_000009.jpg /SegmentationClassAug/2008_000009.png\n")
    frames, _ = find_frames("voc", base, "deeplab")
    assert [f.stem for f in frames] == ["2008_000009"]


def test_voc_missing_list_names_the_lists_there(tmp_path):
    base = write_voc(tmp_path, {"train": 1, "val": 1})
    with pytest.raises(LayoutError, match="lists here: train, val"):
        find_frames("voc", base, "trainval")


def test_mmseg_pairs_cityscapes_names_by_suffix(tmp_path):
    root = write_mmseg(tmp_path)
    frames, un = find_frames("mmseg", root, "train", img_suffix="_leftImg8bit.png",
                             seg_suffix="_gtFine_labelTrainIds.png")
    assert len(frames) == 3 and un == []
    for f in frames:
        # the frame key is the name without the suffix, as predict, refine and eval name the frame
        assert f.image.endswith("_leftImg8bit.png") and f.stem == f.image.split("/")[-1][: -len("_leftImg8bit.png")]
        assert f.label.replace("ann_dir", "img_dir").replace("_gtFine_labelTrainIds", "_leftImg8bit") == f.image


def test_mmseg_reduce_zero_label(tmp_path):
    root = write_mmseg(tmp_path, {"train": 1}, img_suffix=".png", seg_suffix="_lab.png", cities=False)
    frame = find_frames("mmseg", root, "train", img_suffix=".png", seg_suffix="_lab.png")[0]
    # ".png" also ends "_lab.png": the image side pairs only keys that have a label
    assert len(frame) == 1
    ids = np.array([[0, 1, 2], [255, 5, 0]], np.uint8)
    Image.fromarray(ids).save(frame[0].label)
    np.testing.assert_array_equal(read_label(frame[0].label, "mmseg", reduce_zero_label=True),
                                  [[255, 0, 1], [255, 4, 255]])
    np.testing.assert_array_equal(read_label(frame[0].label, "mmseg"), ids)


def test_mmseg_split_list_file(tmp_path):
    root = write_mmseg(tmp_path, {"train": 3}, cities=False)
    lst = tmp_path / "few.txt"
    lst.write_text("train/aachen_000000_000019\ntrain/aachen_000002_000019\n")
    frames, _ = find_frames("mmseg", root, str(lst), img_suffix="_leftImg8bit.png",
                            seg_suffix="_gtFine_labelTrainIds.png")
    assert [f.split for f in frames] == ["few", "few"] and len(frames) == 2


def test_nothing_pairs_lists_both_sides_and_the_rule(tmp_path):
    root = write_mmseg(tmp_path, {"train": 4})
    with pytest.raises(LayoutError) as e:
        find_frames("mmseg", root, "train")                   # default .jpg / .png suffixes
    msg = str(e.value)
    assert "rule:" in msg and "--img-suffix" in msg
    assert msg.count("image without") == 3 and msg.count("label without") == 3


def test_folder_pairs_by_suffix_and_defaults_to_identity(tmp_path):
    root = write_mmseg(tmp_path, {"train": 2})
    kw = dict(image_glob="img_dir/{split}/**/*.png", label_glob="ann_dir/{split}/**/*.png")
    with pytest.raises(LayoutError, match="same file stem"):
        find_frames("folder", root, "train", **kw)
    frames, un = find_frames("folder", root, "train", img_suffix="_leftImg8bit.png",
                             seg_suffix="_gtFine_labelTrainIds.png", **kw)
    assert len(frames) == 2 and un == []
    lab = read_label(frames[0].label, "folder")                # no class map: train ids as they are
    np.testing.assert_array_equal(lab, np.asarray(Image.open(frames[0].label)))
    assert 255 in lab


def test_no_images_needs_no_image_files(tmp_path):
    base = write_voc(tmp_path, {"train": 2})
    for p in (base / "JPEGImages").iterdir():
        p.unlink()
    with pytest.raises(LayoutError):
        find_frames("voc", base, "train")
    assert len(find_frames("voc", base, "train", images=False)[0]) == 2
    root = write_mmseg(tmp_path / "mm", {"train": 2})
    import shutil
    shutil.rmtree(root / "img_dir")
    frames, _ = find_frames("mmseg", root, "train", seg_suffix="_gtFine_labelTrainIds.png", images=False)
    assert len(frames) == 2


def test_class_names_file(tmp_path):
    p = tmp_path / "names.txt"
    p.write_text("# my classes\nroad\n\nsky\n")
    assert L.read_class_names(p) == ("road", "sky")
    p.write_text("\n")
    with pytest.raises(ValueError, match="one name per line"):
        L.read_class_names(p)


from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from segfix_data.datasets._pairing import pair_by_suffix  # noqa: E402

_names = st.sets(st.sampled_from(["a", "b", "c_1", "sub/d", "sub/e", "x_leftImg8bit"]), max_size=6)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(imgs=_names, labs=_names)
def test_pair_by_suffix_is_the_key_intersection(tmp_path_factory, imgs, labs):
    root = tmp_path_factory.mktemp("pair")
    for side, keys, suffix in (("img", imgs, "_leftImg8bit.png"), ("ann", labs, "_lab.png")):
        (root / side).mkdir()
        for k in keys:
            (root / side / (k + suffix)).parent.mkdir(parents=True, exist_ok=True)
            (root / side / (k + suffix)).write_bytes(b"")
        (root / side / "noise.txt").write_bytes(b"")       # other names are never paired
    frames, unpaired = pair_by_suffix(root / "img", root / "ann", "_leftImg8bit.png", "_lab.png", "s")
    got = {f.label[len(str(root / "ann")) + 1: -len("_lab.png")] for f in frames}
    assert got == imgs & labs and len(frames) == len(got)
    assert {u["path"] for u in unpaired} == (
        {str(root / "img" / (k + "_leftImg8bit.png")) for k in imgs - labs}
        | {str(root / "ann" / (k + "_lab.png")) for k in labs - imgs})
    for f in frames:
        assert f.image == str(root / "img" / (f.label[len(str(root / "ann")) + 1: -len("_lab.png")] + "_leftImg8bit.png"))
