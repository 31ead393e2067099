"""A refine publishes a whole OUT_DIR, its log included, or refuses: never the outputs of two runs
mixed (a second run into a used OUT_DIR, a kill while publishing, OUT_DIR inside PRED_DIR)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cli.main import main
from segfix_data.errors import InputError
from segfix_data.refine import directory as rd
from segfix_data.refine.offsets import write_offsets

KEYS = ("frankfurt_000000_000001", "frankfurt_000000_000002")


def _pred(root, keys, value):
    root.mkdir(parents=True)
    for key in keys:
        Image.fromarray(np.full((8, 8), value, np.uint8)).save(root / f"{key}_leftImg8bit.png")
    return root


@pytest.fixture()
def runs(tmp_path):
    off = tmp_path / "off"
    for key in KEYS:
        write_offsets(off / f"{key}_leftImg8bit.npz", np.zeros((8, 8), np.uint8), np.full((8, 8), 255, np.uint8), 8)
    return tmp_path, _pred(tmp_path / "a", KEYS, 7), _pred(tmp_path / "b", KEYS[1:], 26), off


def _refine(pred, out, off, *extra):
    return CliRunner().invoke(main, ["refine", str(pred), str(out), "--offsets", str(off), *extra])


def _files(out):
    return sorted(p.name for p in out.iterdir())


def test_second_run_into_a_used_out_dir_is_refused(runs):
    """``refine A out`` then ``refine B out`` (B has one frame): was one new file beside A's other
    frame, and a log claiming one map, which eval scored as a whole (exit 0)."""
    tmp, a, b, off = runs
    out = tmp / "out"
    assert _refine(a, out, off).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    r = _refine(b, out, off)
    assert r.exit_code == 2 and "OUT_DIR is not empty" in r.output and "--overwrite" in r.output, r.output
    assert r.output.count("\n") == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp.iterdir()) == ["a", "b", "off", "out"]  # no staging left


def test_overwrite_replaces_the_whole_out_dir(runs):
    tmp, a, b, off = runs
    out = tmp / "out"
    assert _refine(a, out, off).exit_code == 0
    r = _refine(b, out, off, "--overwrite")
    assert r.exit_code == 0, r.output
    assert _files(out) == [f"{KEYS[1]}_leftImg8bit.png", "refine_log.json"]
    assert json.loads((out / "refine_log.json").read_text())["label_maps"] == 1
    assert np.array(Image.open(out / f"{KEYS[1]}_leftImg8bit.png")).max() == 26
    assert sorted(p.name for p in tmp.iterdir()) == ["a", "b", "off", "out"]


def test_an_empty_out_dir_is_used(runs):
    tmp, a, _, off = runs
    (tmp / "out").mkdir()
    assert _refine(a, tmp / "out", off).exit_code == 0
    assert len(_files(tmp / "out")) == 3


@pytest.mark.parametrize("where", ["inside PRED_DIR", "holding PRED_DIR", "holding the offsets"])
def test_out_dir_overlapping_the_inputs_is_refused(runs, where):
    """OUT_DIR inside PRED_DIR: the next refine of PRED_DIR refined the outputs again."""
    tmp, a, _, off = runs
    out = {"inside PRED_DIR": a / "refined", "holding PRED_DIR": tmp, "holding the offsets": tmp / "x"}[where]
    if where == "holding the offsets":
        out.mkdir()
        off = off.rename(out / "off")
    r = _refine(a, out, off, "--overwrite")
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert ("lies inside PRED_DIR" if where == "inside PRED_DIR" else "OUT_DIR holds") in r.output
    assert a.is_dir() and any(a.iterdir()) and off.is_dir() and any(off.iterdir())


def test_a_kill_while_publishing_never_leaves_a_mixed_out_dir(runs, monkeypatch):
    """Publishing is one swap of whole directories; with the fallback of two renames, a kill between
    them leaves no OUT_DIR (and the old one aside), never old and new files together."""
    tmp, a, b, off = runs
    out = tmp / "out"
    assert _refine(a, out, off).exit_code == 0
    old = _files(out)

    class Killed(BaseException):
        pass

    def killed_after_swap(*args, **kwargs):  # the old contents are being removed when the kill comes
        raise Killed

    monkeypatch.setattr(rd.shutil, "rmtree", killed_after_swap)
    with pytest.raises(Killed):
        rd.refine_directory(b, out, off, overwrite=True, log={})
    monkeypatch.undo()
    assert _files(out) == [f"{KEYS[1]}_leftImg8bit.png", "refine_log.json"]  # the new run, whole

    renames = []
    real_rename = rd.os.rename

    def rename(src, dst):
        renames.append(dst)
        if len(renames) == 3:  # 1: onto OUT_DIR (refused, not empty), 2: OUT_DIR aside, 3: staging in
            raise Killed
        return real_rename(src, dst)

    monkeypatch.setattr(rd, "_exchange", lambda a, b: False)
    monkeypatch.setattr(rd.os, "rename", rename)
    with pytest.raises(Killed):
        rd.refine_directory(a, out, off, overwrite=True, log={})
    assert not out.exists()  # rather than a mix; the previous outputs wait in a hidden sibling
    aside = [p for p in tmp.iterdir() if p.name.startswith(".out.old-")]
    assert len(aside) == 1 and _files(aside[0] / "out") == [f"{KEYS[1]}_leftImg8bit.png", "refine_log.json"]
    assert old  # the first run had its files


def test_out_dir_filled_during_the_run_is_not_mixed_into(runs):
    """Checked again when publishing: another writer's files are never joined."""
    tmp, a, _, off = runs
    out = tmp / "out"

    def fill(_):
        out.mkdir(exist_ok=True)
        (out / "theirs.png").write_bytes(b"x")

    with pytest.raises(InputError, match="OUT_DIR is not empty"):
        rd.refine_directory(a, out, off, progress=fill)
    assert _files(out) == ["theirs.png"]
    assert sorted(p.name for p in tmp.iterdir()) == ["a", "b", "off", "out"]
