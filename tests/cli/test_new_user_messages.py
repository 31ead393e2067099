"""Small things a new user reads: a grey label saved as RGB gets the fix,
`wrote 1 figure` (not `1 figures`), JPEG predictions are named instead of silently ignored."""
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cli._text import plural
from cli.main import main
from segfix_data.datasets import FrameError, read_label
from tests.support.build_data import write_cityscapes


def test_rgb_label_with_equal_channels_is_named_with_the_conversion(tmp_path):
    ids = np.array([[7, 8], [11, 26]], np.uint8)
    grey_rgb = tmp_path / "grey_rgb.png"
    Image.fromarray(np.repeat(ids[..., None], 3, axis=2)).save(grey_rgb)
    with pytest.raises(FrameError, match=r"grey_rgb\.png: .*three equal channels.*convert\('L'\)"):
        read_label(str(grey_rgb), "cityscapes")
    colour = tmp_path / "colour.png"
    Image.fromarray(np.dstack([ids, ids + 1, ids])).save(colour)
    with pytest.raises(FrameError) as exc:
        read_label(str(colour), "cityscapes")
    assert "equal channels" not in str(exc.value) and "colour" in str(exc.value)


def _val_predictions(tmp_path, suffix):
    data = write_cityscapes(tmp_path / "cs", {"val": 1}, height=32, width=64)
    pred = tmp_path / "pred"
    pred.mkdir()
    for g in sorted((data / "gtFine" / "val").rglob("*_gtFine_labelIds.png")):
        Image.open(g).save(pred / g.name.replace("_gtFine_labelIds.png", "_leftImg8bit" + suffix))
    return data, pred


def test_grey_rgb_prediction_gets_the_conversion_hint(tmp_path):
    data, pred = _val_predictions(tmp_path, ".png")
    for p in pred.iterdir():
        Image.open(p).convert("RGB").save(p)
    r = CliRunner().invoke(main, ["eval", str(data), str(pred)])
    assert r.exit_code == 2 and "three equal channels" in r.output and "convert('L')" in r.output, r.output


def test_jpeg_predictions_are_named_not_ignored(tmp_path):
    data, pred = _val_predictions(tmp_path, ".jpg")
    r = CliRunner().invoke(main, ["eval", str(data), str(pred)])
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert "JPEG predictions for 1 of 1 frames" in r.output and "_leftImg8bit.jpg" in r.output and "lossy" in r.output


def test_plots_of_one_figure_say_figure(tmp_path):
    pytest.importorskip("matplotlib")
    data, pred = _val_predictions(tmp_path, ".png")
    r = CliRunner().invoke(main, ["eval", str(data), str(pred), "--plots", str(tmp_path / "plots")])
    assert r.exit_code == 0, r.output
    assert f"wrote 1 figure to {tmp_path / 'plots'}: errors_vs_distance.png" in r.output


def test_plural():
    assert [plural(n, "figure") for n in (0, 1, 2)] == ["0 figures", "1 figure", "2 figures"]
    assert plural(1, "offsets file") == "1 offsets file"
