"""Synthetic scenes and the example dataset: determinism, consistency of labels and instances,
scene content, and files that read back identical."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from segfix_data.datasets.labels import CITYSCAPES_EVAL_IDS, CITYSCAPES_THING_IDS
from segfix_data.synthetic import (
    POLE, SyntheticFrame, example_frame_paths, synthetic_cityscapes_frame, write_example_dataset,
)

IGNORED_IDS = [i for i in range(34) if i not in CITYSCAPES_EVAL_IDS]


@pytest.fixture(scope="module")
def frames():
    return [synthetic_cityscapes_frame(seed, 256, 512) for seed in range(4)]


def test_shapes_and_dtypes(frames):
    f = frames[0]
    assert isinstance(f, SyntheticFrame)
    assert f.image.shape == (256, 512, 3) and f.image.dtype == np.uint8
    assert f.label_ids.shape == (256, 512) and f.label_ids.dtype == np.uint8
    assert f.instance_ids.shape == (256, 512) and f.instance_ids.dtype == np.int32


def test_other_sizes():
    f = synthetic_cityscapes_frame(3, 100, 150)
    assert f.image.shape == (100, 150, 3) and f.label_ids.shape == (100, 150)


def test_too_small_is_refused():
    with pytest.raises(ValueError, match="16"):
        synthetic_cityscapes_frame(0, 8, 64)


def test_same_seed_same_bytes_other_seed_differs(frames):
    again = synthetic_cityscapes_frame(0, 256, 512)
    for name in ("image", "label_ids", "instance_ids"):
        assert getattr(again, name).tobytes() == getattr(frames[0], name).tobytes()
    assert frames[1].label_ids.tobytes() != frames[0].label_ids.tobytes()
    assert frames[1].image.tobytes() != frames[0].image.tobytes()


def test_label_ids_agree_with_instance_ids(frames):
    for f in frames:
        ids = f.instance_ids.astype(np.int64)
        cls = np.where(ids >= 1000, ids // 1000, ids)
        np.testing.assert_array_equal(cls, f.label_ids)
        # instance ids only for thing classes
        assert np.isin(np.unique(ids[ids >= 1000]) // 1000, CITYSCAPES_THING_IDS).all()
        assert f.label_ids.max() <= 33


def test_scene_content(frames):
    for f in frames:
        ids = f.instance_ids
        instances = np.unique(ids[ids >= 1000])
        assert instances.size >= 20, instances
        ignore = np.isin(f.label_ids, IGNORED_IDS).mean()
        assert 0.02 <= ignore <= 0.12, ignore
        assert (f.label_ids == 1).any(), "ego vehicle at the bottom"
        assert (f.label_ids[-1] == 1).mean() > 0.5
        present = set(np.unique(f.label_ids).tolist())
        assert {7, 8, 11, 21, 23, 24, 26}.issubset(present), present
        # at least one crowd or touching pair of instances somewhere over the frames is checked below
    crowd = any(((f.instance_ids >= 24) & (f.instance_ids <= 33)).any() for f in frames)
    assert crowd, "some crowd regions (plain thing class id in instanceIds)"


def _touching_pairs(ids):
    a, b = ids[:, :-1], ids[:, 1:]
    m = (a != b) & (a >= 1000) & (b >= 1000)
    return m.sum()


def test_instances_touch_each_other(frames):
    assert sum(_touching_pairs(f.instance_ids) for f in frames) > 0


def test_poles_are_thin_and_present():
    f = synthetic_cityscapes_frame(1, 1024, 2048)
    pole = f.label_ids == POLE
    assert pole.any()
    widths = pole.sum(axis=1)  # rows crossing poles: count runs per row
    runs = []
    for row in np.flatnonzero(widths):
        r = pole[row].astype(np.int8)
        starts = np.flatnonzero(np.diff(np.r_[0, r]) == 1)
        ends = np.flatnonzero(np.diff(np.r_[r, 0]) == -1)
        runs.extend((ends - starts + 1).tolist())
    assert int(np.median(runs)) in range(3, 9), np.median(runs)


def test_image_shows_boundaries(frames):
    """Mean colours of adjacent regions differ: boundaries are visible in the image alone."""
    f = frames[0]
    img = f.image.astype(np.float64)
    means = {k: img[f.label_ids == k].mean(axis=0) for k in (7, 8, 11, 23)}
    for a, b in ((7, 8), (11, 23), (7, 11)):
        assert np.abs(means[a] - means[b]).max() > 20, (a, b, means)


def test_written_dataset_reads_back_identical(tmp_path):
    paths = write_example_dataset(tmp_path, splits={"train": 2, "val": 1}, height=64, width=128, seed=7)
    assert len(paths) == 3
    expected = example_frame_paths(tmp_path, "val", "frankfurt", 0, 19)
    assert paths[2] == expected
    assert expected["image"].name == "frankfurt_000000_000019_leftImg8bit.png"
    assert expected["label_ids"].name == "frankfurt_000000_000019_gtFine_labelIds.png"
    for p in paths:
        img, lab, ins = (Image.open(p[k]) for k in ("image", "label_ids", "instance_ids"))
        assert img.mode == "RGB" and lab.mode == "L" and ins.mode.startswith("I")
        assert np.asarray(ins).dtype in (np.uint16, np.int32)
    # the files equal the frames they were made from
    from segfix_data.synthetic.example import _frame_seed
    frame = synthetic_cityscapes_frame(_frame_seed(7, "train", 1), 64, 128)
    p = paths[1]
    np.testing.assert_array_equal(np.asarray(Image.open(p["image"])), frame.image)
    np.testing.assert_array_equal(np.asarray(Image.open(p["label_ids"])), frame.label_ids)
    np.testing.assert_array_equal(np.asarray(Image.open(p["instance_ids"])).astype(np.int32), frame.instance_ids)
    assert not list(tmp_path.rglob(".*tmp*")), "no temporary files left behind"


def test_written_dataset_is_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_example_dataset(a, splits={"train": 1, "val": 1}, height=48, width=96, seed=3)
    write_example_dataset(b, splits={"train": 1, "val": 1}, height=48, width=96, seed=3)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*.png"))
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*.png")) and len(files_a) == 6
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes()


def test_bad_split_count(tmp_path):
    with pytest.raises(ValueError, match="train"):
        write_example_dataset(tmp_path, splits={"train": -1})


def test_cli_example(tmp_path):
    from click.testing import CliRunner

    from cli.gt import main

    out = tmp_path / "ex"
    res = CliRunner().invoke(main, ["example", str(out), "--train", "1", "--val", "1", "--size", "64x48",
                                    "--seed", "2"])
    assert res.exit_code == 0, res.output
    assert "wrote 2 frames" in res.output
    labels = sorted(out.rglob("*_gtFine_labelIds.png"))
    assert [p.parent.parent.name for p in labels] == ["train", "val"]
    assert Image.open(labels[0]).size == (64, 48)
    bad = CliRunner().invoke(main, ["example", str(out), "--size", "64by48"])
    assert bad.exit_code != 0 and "WIDTHxHEIGHT" in bad.output


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), h=st.integers(16, 90), w=st.integers(16, 160))
def test_any_size_and_seed_is_consistent(seed, h, w):
    f = synthetic_cityscapes_frame(seed, h, w)
    assert f.image.shape == (h, w, 3) and f.label_ids.shape == (h, w) == f.instance_ids.shape
    ids = f.instance_ids.astype(np.int64)
    np.testing.assert_array_equal(np.where(ids >= 1000, ids // 1000, ids), f.label_ids)
    assert f.label_ids.max() <= 33 and ids.min() >= 0
