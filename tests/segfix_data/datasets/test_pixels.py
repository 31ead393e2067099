"""The decompression-bomb limit is checked from the header before any decoder runs, on the pyspng
fast path as on PIL's, for images and label maps."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from segfix_data.datasets import io as _io
from segfix_data.datasets.pixels import (DEFAULT_MAX_IMAGE_PIXELS, ImageTooLarge, declared_size,
                                         set_max_image_pixels)
from segfix_data.metrics.directory import read_ids
from segfix_data.refine.directory import read_label_file
from tests.support.bombs import write_png_bomb


@pytest.fixture(autouse=True)
def _default_limit():
    set_max_image_pixels(None)
    yield
    set_max_image_pixels(None)


def _small(tmp_path, name="s.png", mode="L"):
    arr = np.zeros((20, 20, 3) if mode == "RGB" else (20, 20), np.uint8)
    p = tmp_path / name
    Image.fromarray(arr).save(p)
    return p


def test_default_is_pils_limit():
    assert DEFAULT_MAX_IMAGE_PIXELS == 89478485


def test_header_bomb_is_refused_on_every_reader(tmp_path):
    rgb = write_png_bomb(tmp_path / "rgb.png", colour=2)
    grey = write_png_bomb(tmp_path / "grey.png", colour=0)
    assert declared_size(rgb) == (30000, 30000)
    readers = [lambda: _io.read_image(str(rgb)), lambda: _io.image_size(str(rgb)),
               lambda: _io.read_label(str(grey), "mmseg"), lambda: _io.read_instance_ids(str(grey)),
               lambda: _io.decode_png(str(rgb), "rgb"), lambda: read_ids(grey),
               lambda: read_label_file(grey)]
    for read in readers:
        with pytest.raises(ImageTooLarge, match="30000x30000.*--max-image-pixels"):
            read()


@pytest.mark.parametrize("reader", ["read_image", "read_label", "decode_png", "read_ids", "read_label_file"])
def test_a_lowered_limit_applies_to_valid_files(tmp_path, reader):
    """A valid 20x20 PNG under a 399-pixel limit: pyspng would decode it happily without the check."""
    grey = _small(tmp_path, mode="RGB" if reader in ("read_image", "decode_png") else "L")
    call = {"read_image": lambda: _io.read_image(str(grey)),
            "read_label": lambda: _io.read_label(str(grey), "mmseg"),
            "decode_png": lambda: _io.decode_png(str(grey), "rgb"),
            "read_ids": lambda: read_ids(grey),
            "read_label_file": lambda: read_label_file(grey)}[reader]
    set_max_image_pixels(400)
    call()  # exactly at the limit: accepted
    set_max_image_pixels(399)
    with pytest.raises(ImageTooLarge, match="20x20 = 400 pixels"):
        call()


def test_raising_the_limit_raises_pils_too(tmp_path):
    set_max_image_pixels(10 ** 10)
    assert Image.MAX_IMAGE_PIXELS == 10 ** 10
    assert declared_size(write_png_bomb(tmp_path / "b.png")) == (30000, 30000)


def test_refine_cli_refuses_a_bomb_in_one_line_and_takes_the_flag(tmp_path):
    from click.testing import CliRunner

    from cli.main import main
    from segfix_data.refine.offsets import write_offsets

    key = "frankfurt_000000_000294"
    write_offsets(tmp_path / "off" / f"{key}_x.npz", np.zeros((20, 20), np.uint8),
                  np.full((20, 20), 255, np.uint8), 8)
    bomb = write_png_bomb(tmp_path / "pred" / f"{key}_x.png", colour=0)
    args = ["refine", str(tmp_path / "pred"), str(tmp_path / "out"), "--offsets", str(tmp_path / "off")]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and f"{bomb}: declares 30000x30000" in r.output, r.output
    assert "Traceback" not in r.output
    _small(tmp_path / "pred", f"{key}_x.png")
    r = CliRunner().invoke(main, args + ["--max-image-pixels", "399"])
    assert r.exit_code == 2 and "20x20 = 400 pixels" in r.output, r.output
    r = CliRunner().invoke(main, args + ["--max-image-pixels", "400"])
    assert r.exit_code == 0, r.output
    for cmd in ("build", "predict", "eval"):
        from cli import gt
        group = gt.main if cmd == "build" else main
        assert "--max-image-pixels" in CliRunner().invoke(group, [cmd, "--help"]).output


def test_refine_refuses_a_bomb_instance_mask_before_writing_anything(tmp_path):
    # the instance-mask path of refine (a .txt naming mask PNGs) has the same limit as label maps
    from click.testing import CliRunner

    from cli.main import main
    from segfix_data.refine.offsets import write_offsets

    key = "frankfurt_000000_000294"
    write_offsets(tmp_path / "off" / f"{key}_x.npz", np.zeros((20, 20), np.uint8),
                  np.full((20, 20), 255, np.uint8), 8)
    pred = tmp_path / "pred"
    (pred / "masks").mkdir(parents=True)
    _small(pred / "masks", "m0.png")
    bomb = write_png_bomb(pred / "masks" / "m1.png", colour=0)
    (pred / f"{key}_x.txt").write_text("masks/m0.png 26 0.9\nmasks/m1.png 26 0.8\n")
    r = CliRunner().invoke(main, ["refine", str(pred), str(tmp_path / "out"), "--offsets", str(tmp_path / "off")])
    assert r.exit_code == 2 and f"{bomb}: declares 30000x30000" in r.output, r.output
    assert "Traceback" not in r.output and not (tmp_path / "out").exists()
