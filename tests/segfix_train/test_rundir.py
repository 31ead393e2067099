"""Run directories: a new run never mixes with an old one in the same --out, and
one trainer at a time holds it (a lock the kernel drops when the trainer dies)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from segfix_train.rundir import LOCK_NAME, RunDirError, claim_run_dir
from tests.support.fakes import fake_open, one_torch_thread  # noqa: F401
from tests.support.paths import REPO


def _old_run(d):
    (d / "checkpoints").mkdir(parents=True)
    for step in (2, 4):
        (d / "checkpoints" / f"ckpt_{step:08d}.pt").write_bytes(b"old")
        (d / "checkpoints" / f"ckpt_{step:08d}.pt.sha256").write_text("x\n")
    for n in ("train.jsonl", "val.jsonl", "config.json"):
        (d / n).write_text("{}\n")
    (d / "notes.txt").write_text("mine\n")


def test_non_empty_run_dir_is_refused_without_resume_or_overwrite(tmp_path):
    _old_run(tmp_path)
    with pytest.raises(RunDirError, match=f"{tmp_path}: not empty.*--resume.*--overwrite"):
        with claim_run_dir(str(tmp_path), resume=False, echo=lambda s: None):
            pass
    assert len(os.listdir(tmp_path / "checkpoints")) == 4  # nothing removed
    with claim_run_dir(str(tmp_path), resume=True, echo=lambda s: None):
        pass
    empty = tmp_path / "new"
    with claim_run_dir(str(empty), resume=False, echo=lambda s: None):
        pass
    with claim_run_dir(str(empty), resume=False, echo=lambda s: None):  # only the lock file: empty
        pass


def test_overwrite_removes_the_old_runs_files_only(tmp_path):
    _old_run(tmp_path)
    with claim_run_dir(str(tmp_path), resume=False, overwrite=True, echo=lambda s: None):
        assert os.listdir(tmp_path / "checkpoints") == []
        assert sorted(os.listdir(tmp_path)) == sorted([LOCK_NAME, "checkpoints", "notes.txt"])
    with pytest.raises(RunDirError, match="give one"):
        with claim_run_dir(str(tmp_path), resume=True, overwrite=True):
            pass


def test_second_trainer_is_refused_while_the_first_holds_the_lock(tmp_path):
    with claim_run_dir(str(tmp_path), resume=False, echo=lambda s: None):
        with pytest.raises(RunDirError, match=f"another segfix train \\(pid {os.getpid()}\\) is running"):
            with claim_run_dir(str(tmp_path), resume=True, echo=lambda s: None):
                pass
    with claim_run_dir(str(tmp_path), resume=True, echo=lambda s: None):  # released
        pass


def test_a_killed_trainer_does_not_block_the_resume(tmp_path):
    code = ("import sys, time; from segfix_train.rundir import claim_run_dir\n"
            f"with claim_run_dir({str(tmp_path)!r}, resume=False):\n"
            "    print('held', flush=True); time.sleep(60)\n")
    p = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True,
                         env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        assert p.stdout.readline().strip() == "held"
        with pytest.raises(RunDirError, match="another segfix train"):
            with claim_run_dir(str(tmp_path), resume=True):
                pass
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    with claim_run_dir(str(tmp_path), resume=True):
        pass


def test_train_cli_refuses_then_overwrite_leaves_only_the_new_run(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from cli.main import main
    from segfix_train import loop
    from segfix_train.checkpoint import list_checkpoints

    _old_run(tmp_path / "run")
    (tmp_path / "run" / "checkpoints" / "ckpt_00000099.pt").write_bytes(b"old newest")
    real = loop.train
    monkeypatch.setattr(loop, "train", lambda cfg, **kw: real(cfg, open_set=fake_open, **kw))
    args = ["train", "--shards", "fakeP", "--out", str(tmp_path / "run"), "--iters", "2", "--batch", "2",
            "--crop", "32", "--ckpt-every", "2", "--workers", "0", "--val-split", "none",
            "--config", str(tmp_path / "tiny.toml")]
    (tmp_path / "tiny.toml").write_text('model_args = {blocks = 1, modules = [1, 1, 1], channels = [8, 16, 32, 64]}\n')
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    assert "not empty" in r.output and "--overwrite" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, args + ["--overwrite"])
    assert r.exit_code == 0, r.output
    assert [s for s, _ in list_checkpoints(str(tmp_path / "run"))] == [2]  # no step 4 or 99 of the old run
    assert (tmp_path / "run" / "notes.txt").exists()


def test_a_run_refused_before_writing_leaves_no_new_directory(tmp_path):
    # a preflight refusal (bad shards, ...) must not leave an empty RUN_DIR with a lock file behind;
    # a directory the user made is kept, and so is one the run wrote into
    new, given, used = tmp_path / "new", tmp_path / "given", tmp_path / "used"
    given.mkdir()
    for d in (new, given, used):
        with pytest.raises(RuntimeError):
            with claim_run_dir(str(d), resume=False, echo=lambda s: None):
                if d == used:
                    (d / "train.jsonl").write_text("{}\n")
                raise RuntimeError("refused")
    assert not new.exists()
    assert given.is_dir() and used.is_dir() and (used / "train.jsonl").exists()
