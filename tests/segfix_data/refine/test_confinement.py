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
