"""Small things a new user reads: a grey label saved as RGB gets the fix, `wrote 1 figure` (not
`1 figures`, and likewise frames, samples, crops, files), JPEG predictions are named instead of
silently ignored, a damaged checkpoint is called damaged (no stray pickle number), eval's boundary
columns say their radius plainly, `train --help` shows where a run goes, `| head` ends quietly, and
the README says what CI sets."""
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


def test_one_frame_is_one_frame_sample_and_file(tmp_path):
    from cli.gt import main as gt_main

    r = CliRunner().invoke(gt_main, ["example", str(tmp_path / "ex"), "--train", "0", "--val", "1",
                                     "--size", "64x32"])
    assert r.exit_code == 0 and "wrote 1 frame (" in r.output, r.output
    r = CliRunner().invoke(gt_main, ["build", str(tmp_path / "ex"), str(tmp_path / "sh"), "-q"])
    assert r.exit_code == 0 and "val: 1 frame, 1 built" in r.output, r.output
    r = CliRunner().invoke(gt_main, ["verify", str(tmp_path / "sh")])
    assert r.exit_code == 0 and "val: 1 sample, 0 damaged" in r.output, r.output


def test_damaged_checkpoint_says_damaged_without_a_stray_number(tmp_path):
    """'junk' written over a checkpoint: pickle reads it as a memo lookup of 174812789 ('unk\\n')."""
    import hashlib

    from segfix_train.checkpoint import CheckpointError, load_checkpoint
    from tests.support.tiny_run import write_tiny_run

    ckpt = next((write_tiny_run(tmp_path / "run") / "checkpoints").glob("ckpt_*.pt"))
    ckpt.write_bytes(b"junk\n" + ckpt.read_bytes()[5:])
    digest = tmp_path / "run" / "checkpoints" / (ckpt.name + ".sha256")
    digest.write_text(hashlib.sha256(ckpt.read_bytes()).hexdigest() + "  " + ckpt.name + "\n")
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(str(ckpt))
    assert "damaged, or not a file written by torch.save" in str(exc.value) and "174812789" not in str(exc.value)
    digest.unlink()  # no digest: predict tries it as an authors' file, and says the same
    (tmp_path / "imgs").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "imgs" / "a.png")
    r = CliRunner().invoke(main, ["predict", "--checkpoint", str(ckpt), "--images", str(tmp_path / "imgs"),
                                  "--out", str(tmp_path / "off")])
    assert r.exit_code == 2 and "not a file written by torch.save" in r.output and "174812789" not in r.output


def test_torch_advice_to_trust_the_source_is_not_repeated():
    from segfix_train.checkpoint import torch_load_reason

    text = ("Weights only load failed. Re-running `torch.load` with `weights_only` set to `False` will likely "
            "succeed, but it can result in arbitrary code execution. Do it only if you got the file from a "
            "trusted source.\nPlease file an issue: WeightsUnpickler error: Unsupported operand 180")
    assert "trusted source" not in torch_load_reason(RuntimeError(text))


def test_boundary_columns_with_several_radii_read_as_a_range():
    from segfix_data.metrics.report import format_table

    result = {"miou": 0.5, "class_iou": {"road": 0.5}, "boundary_f": {"0.0003": 0.4, "0.0006": 0.6},
              "class_boundary_f": {"0.0003": {"road": 0.4}, "0.0006": {"road": 0.6}}, "threshold_unit": "diagonal",
              "boundary_radius_px": {"0.0003": {"512x1024": 1, "1024x2048": 1},
                                     "0.0006": {"512x1024": 1, "1024x2048": 2}}}
    text = format_table(result)
    assert "F@0.0003 (1px)" in text and "F@0.0006 (1-2px)" in text and "1/2px" not in text
    assert "boundary radius by image size (F@t: t of the image diagonal): " in text
    assert "0.0006: 1 px at 512x1024, 2 px at 1024x2048" in text


def test_train_help_shows_where_the_run_goes():
    r = CliRunner().invoke(main, ["train", "--help"])
    help_out = " ".join(r.output.split())
    assert r.exit_code == 0 and "--out RUN_DIR Run directory (logs, config, checkpoints) [runs/segfix]." in help_out


_LONG_OUTPUT = """
import click
from cli._errors import SegfixGroup

@click.group(cls=SegfixGroup)
def main():
    pass

@main.command("table")
def table():
    for i in range(200000):
        click.echo(f"row {i}")

main()
"""


def test_output_into_a_closed_pipe_ends_quietly():
    """`segfix-gt inspect ... | head`: once the reader is gone, exit 141 without a word (it printed
    'error: [Errno 32] Broken pipe' before)."""
    import os
    import subprocess
    import sys

    from cli._errors import EXIT_BROKEN_PIPE
    from tests.support.paths import REPO

    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", _LONG_OUTPUT, "table"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=REPO)
    assert proc.stdout.readline() == b"row 0\n"
    proc.stdout.close()  # as `head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == EXIT_BROKEN_PIPE and err == "", err


def test_readme_says_ci_turns_shared_skips_into_failures():
    from tests.support.paths import REPO

    ci = (REPO / ".ci" / "run").read_text()
    readme = " ".join((REPO / "README.md").read_text().split())
    assert 'CI="${CI:-true}"' in ci  # what CI sets ...
    assert "which also sets `CI=true`" in readme and "a missing `../shared` fails them" in readme  # ... said
    assert "exactly what CI runs" not in readme
