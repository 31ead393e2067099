"""``segfix predict`` into an offsets directory of another run: refused, naming what differs, unless
--overwrite (which removes that run's files first). Before, a rerun with another checkpoint or
another --threshold kept the earlier offsets ('kept 2 complete from an earlier run', exit 0) and
the directory mixed two runs."""
from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner
from PIL import Image

from cli.main import main
from segfix_train.checkpoint import file_sha256
from segfix_train.predict_record import differences
from tests.support.fakes import one_torch_thread, scene  # noqa: F401
from tests.support.tiny_run import write_tiny_run


def _images(tmp_path, n=2):
    imgs = tmp_path / "imgs"
    imgs.mkdir(exist_ok=True)
    for i in range(n):
        Image.fromarray(scene(i, 32, 48)[0]).save(imgs / f"f{i}.png")
    return imgs


def _predict(ck, imgs, out, *extra):
    return CliRunner().invoke(main, ["predict", "--checkpoint", str(ck), "--images", str(imgs), "--out", str(out),
                                     "--device", "cpu", *extra])


def _state(out):
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.iterdir()}


def _error_line(r) -> str:
    (line,) = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert "Traceback" not in r.output and r.exit_code == 2, r.output
    return line


def test_another_checkpoint_is_refused_and_the_earlier_offsets_stay(tmp_path):
    a, b = write_tiny_run(tmp_path / "a", seed=0), write_tiny_run(tmp_path / "b", seed=1)
    imgs, out = _images(tmp_path), tmp_path / "off"
    assert _predict(a, imgs, out).exit_code == 0
    before = _state(out)
    line = _error_line(_predict(b, imgs, out))
    ka, kb = (file_sha256(str(r / "checkpoints" / "ckpt_00000001.pt"))[:12] for r in (a, b))
    assert f"{out}: holds offsets predicted with other settings (checkpoint: sha256 {ka} -> sha256 {kb})" in line
    assert "--overwrite" in line and _state(out) == before


def test_another_threshold_or_tiling_names_the_setting(tmp_path):
    run = write_tiny_run(tmp_path / "run")
    imgs, out = _images(tmp_path), tmp_path / "off"
    assert _predict(run, imgs, out).exit_code == 0
    before = _state(out)
    assert "(threshold: 0.5 -> 0.3)" in _error_line(_predict(run, imgs, out, "--threshold", "0.3"))
    assert "(stride: None -> 16; tile: None -> 16)" in _error_line(_predict(run, imgs, out, "--tile", "16"))
    assert _state(out) == before
    r = _predict(run, imgs, out)  # the same settings: a resume
    assert r.exit_code == 0 and "kept 2 complete from an earlier run" in r.output, r.output


def test_overwrite_removes_the_earlier_runs_files_first(tmp_path):
    run = write_tiny_run(tmp_path / "run")
    imgs, out = _images(tmp_path, 3), tmp_path / "off"
    assert _predict(run, imgs, out, "--mat").exit_code == 0
    (imgs / "f2.png").unlink()  # the new run has no f2: its old offsets must not stay
    r = _predict(run, imgs, out, "--threshold", "0.3", "--overwrite")
    assert r.exit_code == 0 and "--overwrite: removed 6 offsets files of an earlier run" in r.output, r.output
    assert sorted(p.name for p in out.iterdir()) == ["f0.npz", "f1.npz", "predict.json"]
    assert json.loads((out / "predict.json").read_text())["threshold"] == 0.3
    r = _predict(run, imgs, out, "--threshold", "0.3")
    assert r.exit_code == 0 and "kept 2 complete" in r.output, r.output


def test_offsets_without_a_record_are_refused(tmp_path):
    run = write_tiny_run(tmp_path / "run")
    imgs, out = _images(tmp_path), tmp_path / "off"
    out.mkdir()
    (out / "f0.npz").write_bytes(b"from another tool")
    line = _error_line(_predict(run, imgs, out))
    assert "holds 1 offsets files (e.g. f0.npz) but no record of the settings" in line
    (out / "predict.json").write_text("{")
    assert "its record predict.json is unreadable" in _error_line(_predict(run, imgs, out))
    r = _predict(run, imgs, out, "--overwrite")
    assert r.exit_code == 0 and "wrote 2 offsets files" in r.output, r.output


def test_a_killed_predicts_temporary_file_is_swept(tmp_path):
    run = write_tiny_run(tmp_path / "run")
    imgs, out = _images(tmp_path), tmp_path / "off"
    assert _predict(run, imgs, out).exit_code == 0
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = out / f".f1.npz.{dead.pid}.0badf00d.npz"
    left.write_bytes(b"")
    assert _predict(run, imgs, out).exit_code == 0 and not left.exists()


def test_differences_name_each_setting_once():
    old = {"checkpoint": "a" * 64, "weights": "b" * 64, "tester": "segfix", "amp": "off", "model": {"name": "x"}}
    assert differences(old, {**old, "checkpoint": "c" * 64, "weights": "d" * 64}) == [
        f"checkpoint: sha256 {'a' * 12} -> sha256 {'c' * 12}"]
    assert differences(old, {**old, "weights": "d" * 64, "amp": "bf16", "model": {"name": "y"}}) == [
        f"weights: sha256 {'b' * 12} -> sha256 {'d' * 12}", "amp: 'off' -> 'bf16'", "model.name: 'x' -> 'y'"]
    assert differences({"tester": "segfix"}, {"tester": "openseg", "openseg_mode": "whole"}) == [
        "openseg_mode: <unset> -> 'whole'", "tester: 'segfix' -> 'openseg'"]
