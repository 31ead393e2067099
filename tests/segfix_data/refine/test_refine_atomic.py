"""A refine run that fails half-way leaves no partial output: outputs are staged and published
only when every file is refined."""
import os
import stat

import numpy as np
from click.testing import CliRunner
from PIL import Image

from cli.main import main
from segfix_data.refine.offsets import write_offsets

KEYS = ("frankfurt_000000_000001", "frankfurt_000000_000002")


def _setup(tmp_path, second_size=(8, 8)):
    preds, offs = tmp_path / "pred", tmp_path / "offs"
    preds.mkdir()
    offs.mkdir()
    for key, size in zip(KEYS, [(8, 8), second_size]):
        Image.fromarray(np.full((8, 8), 7, np.uint8)).save(preds / f"{key}_leftImg8bit.png")
        b = np.zeros(size, np.uint8)
        write_offsets(offs / f"{key}_leftImg8bit.npz", b, np.full(size, 255, np.uint8), 8)
    return preds, offs


def test_failed_refine_leaves_no_partial_output(tmp_path):
    preds, offs = _setup(tmp_path, second_size=(8, 9))  # the 2nd frame's offsets do not fit
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["refine", str(preds), str(out), "--offsets", str(offs)])
    # refused from the offsets file's declared shape, after the first frame was refined
    assert r.exit_code == 2 and "declares shape (8, 9), but the frame is (8, 8)" in r.output, r.output
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["offs", "pred"]  # no staging left


def test_refine_publishes_every_file_with_the_usual_mode(tmp_path):
    preds, offs = _setup(tmp_path)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["refine", str(preds), str(out), "--offsets", str(offs)])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{k}_leftImg8bit.png" for k in KEYS] + ["refine_log.json"])
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["offs", "out", "pred"]
