"""refine reads only what lies under PRED_DIR: one rule (resolve, then require
inside PRED_DIR) for label maps, instance lists and masks, applied before anything is written."""
from __future__ import annotations

import os

import numpy as np
from click.testing import CliRunner
from PIL import Image

from cli.main import main
from segfix_data.refine import refine_masks
from segfix_data.refine.offsets import write_offsets
from tests.segfix_data.refine.test_directory import KEY, _frame, _write_png
from tests.support.deadline import deadline


def _setup(tmp_path):
    label, boundary, direction = _frame(3)
    write_offsets(tmp_path / "off" / f"{KEY}_leftImg8bit.npz", boundary, direction, 8)
    pred = tmp_path / "pred"
    _write_png(pred / f"{KEY}_leftImg8bit.png", label)
    return pred, label, boundary, direction


def _refine(tmp_path, pred):
    return CliRunner().invoke(main, ["refine", str(pred), str(tmp_path / "out"), "--offsets", str(tmp_path / "off")])


def _written(tmp_path):
    out = tmp_path / "out"
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) if out.exists() else []


def test_label_map_link_out_of_pred_dir_is_refused_before_writing(tmp_path):
    pred, label, _, _ = _setup(tmp_path)
    _write_png(tmp_path / "secret" / "ulm_000001_000002_x.png", label)
    os.symlink(tmp_path / "secret" / "ulm_000001_000002_x.png", pred / "zz_000001_000002_x.png")
    r = _refine(tmp_path, pred)
    assert r.exit_code == 2, r.output
    assert f"{pred / 'zz_000001_000002_x.png'}: label map resolves to" in r.output
    assert "outside PRED_DIR" in r.output and "Traceback" not in r.output
    assert _written(tmp_path) == []  # not even the map that comes first


def test_mask_outside_pred_dir_is_refused_before_writing(tmp_path):
    pred, label, _, _ = _setup(tmp_path)
    _write_png(tmp_path / "elsewhere" / "m.png", (label == 26).astype(np.uint8) * 255)
    (pred / "inst").mkdir()
    (pred / "inst" / f"{KEY}_pred.txt").write_text("../../elsewhere/m.png 26 0.9\n")
    r = _refine(tmp_path, pred)
    assert r.exit_code == 2 and "mask listed in" in r.output and "outside PRED_DIR" in r.output, r.output
    assert _written(tmp_path) == []


def test_mask_through_a_link_back_into_pred_dir_is_refined_in_place(tmp_path):
    """``../pred_link/masks/m.png`` (pred_link -> pred) lies inside PRED_DIR once resolved: it is
    refined and written where it really lies (was: a raw ValueError after the label maps were written)."""
    pred, label, boundary, direction = _setup(tmp_path)
    mask = (label == 26).astype(np.uint8) * 255
    _write_png(pred / "masks" / f"{KEY}_0.png", mask)
    os.symlink(pred, tmp_path / "pred_link")
    (pred / f"{KEY}_x_pred.txt").write_text(f"../pred_link/masks/{KEY}_0.png 26 0.9\n")
    r = _refine(tmp_path, pred)
    assert r.exit_code == 0, r.output
    got = np.array(Image.open(tmp_path / "out" / "masks" / f"{KEY}_0.png"))
    np.testing.assert_array_equal(got, refine_masks([mask], boundary, direction, 8, scale=1)[0])


def test_label_swapped_for_an_outside_link_during_the_run_is_not_read(tmp_path):
    """Every file was checked first and then read by its unresolved path: a label replaced by a link
    out of PRED_DIR after the check was read and written to OUT_DIR (exit 0). It is now refused as
    it is opened, and nothing is published."""
    from segfix_data.errors import InputError
    from segfix_data.refine.directory import refine_directory

    pred, label, boundary, direction = _setup(tmp_path)
    second = pred / f"{KEY}_leftImg8bit_z.png"
    _write_png(second, label)
    secret = np.full_like(label, 33)
    _write_png(tmp_path / "secret" / "s.png", secret)

    def swap(_):  # after the first map is refined, all maps having been checked
        if second.is_symlink():
            return
        second.unlink()
        os.symlink(tmp_path / "secret" / "s.png", second)

    try:
        refine_directory(pred, tmp_path / "out", tmp_path / "off", progress=swap)
    except InputError as exc:
        assert f"{second}: label map resolves to" in str(exc) and "outside PRED_DIR" in str(exc)
    else:
        raise AssertionError("the swapped-in link was read")
    assert _written(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["off", "pred", "secret"]


def test_a_fifo_is_refused_without_blocking(tmp_path):
    """Opened without blocking and judged by fstat: a FIFO (swapped in for a label during a run)
    is refused instead of waiting for a writer forever."""
    import pytest

    from segfix_data.errors import InputError
    from segfix_data.refine.directory import read_label_file

    fifo = tmp_path / "x.png"
    os.mkfifo(fifo)
    with deadline(10), pytest.raises(InputError, match=r"x\.png: the label map is not a regular file"):
        read_label_file(fifo)
