"""segfix-gt build ends in one line naming the file and what to do: a full disk or
the file-size limit while writing a shard, a worker killed (as the out-of-memory killer does), a
damaged build.json (which must not block --overwrite)."""
from __future__ import annotations

import errno
import os
import signal

import pytest
from click.testing import CliRunner

from cli.gt import main
from segfix_data.shards import pipeline, writer


def run_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("exc, says", [
    (OSError(errno.ENOSPC, "No space left on device"), "disk full"),
    (OSError(errno.EFBIG, "File too large"), "file-size limit (ulimit -f)"),
    (RuntimeError("Can't write data (file write failed: time = x, errno = 28, error message = "
                  "'No space left on device')"), "disk full"),
])
def test_disk_full_or_file_too_large_while_writing_a_shard(cityscapes_dir, tmp_path, monkeypatch, exc, says):
    def fail(self, *a, **k):
        raise exc
    monkeypatch.setattr(writer.ShardWriter, "add_sample", fail)
    r = run_cli("build", cityscapes_dir, tmp_path / "out", "--split", "train", "--shard-size", "2")
    assert r.exit_code == 1, r.output
    line = next(s for s in r.output.splitlines() if s.startswith("error:"))
    assert f"{tmp_path / 'out' / 'train' / 'shard-00000.h5'}: cannot write: " in line
    assert says in line and "rerun the same command" in line
    assert "Traceback" not in r.output and "internal error" not in r.output


def test_damaged_build_json_names_the_file_and_overwrite_replaces_it(cityscapes_dir, tmp_path):
    out = tmp_path / "out"
    assert run_cli("build", cityscapes_dir, out, "--split", "val").exit_code == 0
    (out / "val" / "build.json").write_text('{"layout": "cityscapes", ')
    r = run_cli("build", cityscapes_dir, out, "--split", "val")
    assert r.exit_code == 2 and f"{out / 'val' / 'build.json'}: cannot read" in r.output, r.output
    assert "--overwrite" in r.output and "Traceback" not in r.output
    r = run_cli("build", cityscapes_dir, out, "--split", "val", "--overwrite")
    assert r.exit_code == 0, r.output
    assert run_cli("verify", out, "--split", "val").exit_code == 0


def _die_in_worker(frame, config, class_map=None):
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.slow
def test_killed_worker_is_one_line_with_resume_and_jobs_advice(cityscapes_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "process_frame", _die_in_worker)
    r = run_cli("build", cityscapes_dir, tmp_path / "out", "--split", "train", "--jobs", "2")
    assert r.exit_code == 1, r.output
    assert "a build worker process died" in r.output and "out-of-memory" in r.output
    assert "rerun the same command to resume" in r.output and "fewer --jobs than 2" in r.output
    assert "Traceback" not in r.output and "internal error" not in r.output


def test_disk_full_writing_build_json_is_one_line_naming_it(cityscapes_dir, tmp_path, monkeypatch):
    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(pipeline, "atomic_write_json", full)
    r = run_cli("build", cityscapes_dir, tmp_path / "out", "--split", "val")
    assert r.exit_code == 1, r.output
    assert f"{tmp_path / 'out' / 'val' / 'build.json'}: cannot write: disk full" in r.output
    assert "Traceback" not in r.output


def test_disk_full_build_message_is_exactly_one_line(cityscapes_dir, tmp_path, monkeypatch):
    def fail(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(writer.ShardWriter, "add_sample", fail)
    r = run_cli("build", cityscapes_dir, tmp_path / "out", "--split", "train", "-q")
    errors = [s for s in r.output.splitlines() if "error" in s.lower() or "shards are kept" in s]
    assert len(errors) == 1 and "cannot write: disk full" in errors[0], r.output
