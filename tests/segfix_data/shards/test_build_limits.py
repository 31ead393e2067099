"""segfix-gt build applies the decompression-bomb limit in its workers too."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli.gt import main
from segfix_data.datasets.pixels import set_max_image_pixels
from tests.support.bombs import write_png_bomb


def run_cli(*args):
    try:
        return CliRunner().invoke(main, [str(a) for a in args])
    finally:
        set_max_image_pixels(None)


def test_build_refuses_a_label_bomb_with_no_images(cityscapes_dir, tmp_path):
    label = next((cityscapes_dir / "gtFine" / "train").glob("*/*_gtFine_labelIds.png"))
    write_png_bomb(label, colour=0)
    r = run_cli("build", cityscapes_dir, tmp_path / "out", "--split", "train", "--no-images")
    assert r.exit_code == 1, r.output
    assert f"{label}: declares 30000x30000" in r.output and "--max-image-pixels" in r.output
    assert "Traceback" not in r.output


@pytest.mark.slow
def test_lowered_limit_reaches_the_workers(cityscapes_dir, tmp_path):
    """With --jobs 2 the frames are read in loky workers: the limit must travel in the BuildConfig."""
    r = run_cli("build", cityscapes_dir, tmp_path / "out", "--split", "train", "--jobs", "2",
                "--max-image-pixels", "100")
    assert r.exit_code == 1, r.output
    assert "declares" in r.output and "more than the limit of 100" in r.output
    r = run_cli("build", cityscapes_dir, tmp_path / "out2", "--split", "train", "--jobs", "2",
                "--max-image-pixels", "100000000")
    assert r.exit_code == 0, r.output
