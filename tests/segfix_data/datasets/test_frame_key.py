"""``frame_key``: the one frame name of build, predict, refine and eval (hand-written cases)."""
import pytest

from segfix_data.datasets.io import frame_key


@pytest.mark.parametrize("name,suffixes,key", [
    ("s0_rgb.png", ("_rgb.png",), "s0"),                       # folder image
    ("s0_mask.png", ("_rgb.png", "_mask.png"), "s0"),          # folder label
    ("s0_rgb.npz", ("_rgb.png",), "s0"),                       # offsets named after the image
    ("s0_rgb.npy", ("_rgb.png",), "s0"),                       # a .npy prediction
    ("s0.npz", ("_rgb.png",), "s0"),                           # already the key
    ("ADE_val_00000000_img.png", ("_img.png", ".png"), "ADE_val_00000000"),
    ("ADE_val_00000000.png", (".jpg", ".png"), "ADE_val_00000000"),
    ("a.b_rgb.png", ("_rgb.png",), "a.b"),                     # dots inside the key stay
    ("_rgb.png", ("_rgb.png",), "_rgb"),                       # nothing would be left: kept
    ("aachen_000000_000019_leftImg8bit.png", (), "aachen_000000_000019"),
    ("aachen_000000_000019_gtFine_labelTrainIds.png", ("_gtFine_labelTrainIds.png",), "aachen_000000_000019"),
    ("x_rgb.png", (), "x_rgb"),                                 # no suffix given: the stem
    ("dir/s1_rgb.png", ("", None, "_rgb.png"), "s1"),          # empty suffixes are ignored
])
def test_frame_key(name, suffixes, key):
    assert frame_key(name, suffixes) == key
