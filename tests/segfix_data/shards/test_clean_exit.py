"""kill -9 of a `--jobs N` build leaves no process behind; messages name what is wrong."""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cli.gt import main
from segfix_data.datasets import FrameError, LayoutError, find_frames, read_image, read_label
from segfix_data.shards import BuildConfig, BuildError, ShardSet, build_split
from tests.support.build_data import write_cityscapes
from tests.support.paths import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from fault_injection import session_pids  # noqa: E402  (the fault script's process census)


@pytest.mark.slow
def test_kill_9_of_a_jobs_2_build_leaves_no_process(tmp_path):
    data = write_cityscapes(tmp_path / "cs", {"train": 40}, 128, 256)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "cli.gt", "build", str(data), str(out), "--split", "train",
                             "--jobs", "2", "--shard-size", "2", "-q"], cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None and not (out / "train" / "shard-00001.h5").exists():
            time.sleep(0.02)
        assert proc.poll() is None, "the build ended before it could be killed"
        assert len(session_pids(proc.pid)) >= 3  # the build, 2 loky workers (and a resource tracker)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 30
        while session_pids(proc.pid) and time.time() < deadline:
            time.sleep(0.1)
        assert session_pids(proc.pid) == []
    finally:
        for pid in session_pids(proc.pid):  # only processes this test started (its own session)
            os.kill(pid, signal.SIGKILL)
    # the rerun removes the leftovers (a hidden atomic-write temp file included) and completes
    stale = out / "train" / ".manifest.json.12345.0123abcd.json"
    stale.write_text("{")
    r = subprocess.run([sys.executable, "-m", "cli.gt", "build", str(data), str(out), "--split", "train",
                        "--shard-size", "2", "-q"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert not stale.exists() and len(ShardSet(out, "train")) == 40


def test_messages_name_the_problem(tmp_path, monkeypatch):
    data = write_cityscapes(tmp_path / "cs", {"train": 3}, 16, 32)
    labels = sorted((data / "gtFine" / "train").glob("*/*_labelIds.png"))
    images = sorted((data / "leftImg8bit" / "train").glob("*/*.png"))
    labels[0].unlink()
    labels[0].mkdir()
    with pytest.raises(FrameError, match="is a directory, not a file"):
        read_label(str(labels[0]), "cityscapes")
    loop = tmp_path / "loop.png"
    os.symlink(loop, loop)
    with pytest.raises(FrameError, match="symbolic link loop"):
        read_label(str(loop), "cityscapes")
    dangling = tmp_path / "dangling.png"
    os.symlink(tmp_path / "gone.png", dangling)
    with pytest.raises(FrameError, match="dangling symbolic link"):
        read_image(str(dangling))
    Image.fromarray(np.zeros((16, 32), bool)).save(labels[1])
    with pytest.raises(FrameError, match="1-bit"):
        read_label(str(labels[1]), "cityscapes")
    # permission denied (the tests may run as root, who reads anything: simulate the OS answer)
    monkeypatch.setattr(os, "access", lambda p, mode: False)
    with pytest.raises(FrameError, match=f"{labels[2]}: permission denied"):
        read_label(str(labels[2]), "cityscapes")
    monkeypatch.undo()

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(images[2]))
    monkeypatch.setattr(Image, "open", denied)
    # the fast PNG path (pyspng) opens the file itself: denied too, it hands over to PIL's message
    from segfix_data.datasets import io as _io
    monkeypatch.setattr(_io, "open", denied, raising=False)
    with pytest.raises(FrameError, match=f"{images[2]}: permission denied"):
        read_image(str(images[2]))


def test_disk_full_is_named_with_the_file(tmp_path, monkeypatch):
    import segfix_data.shards.pipeline as pipeline

    data = write_cityscapes(tmp_path / "cs", {"train": 2}, 16, 32)

    def full(path, *args):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(pipeline, "_write_shard_file", full)
    with pytest.raises(BuildError, match=r"shard-00000\.h5: cannot write: disk full"):
        build_split(data, tmp_path / "out", "train", BuildConfig())


def test_no_silent_loss_unpaired_unreadable_and_duplicate_keys(tmp_path, monkeypatch):
    data = write_cityscapes(tmp_path / "cs", {"train": 4}, 16, 32)
    labels = sorted((data / "gtFine" / "train").glob("*/*_labelIds.png"))
    labels[0].unlink()                                    # an image without its label
    frames, unpaired = find_frames("cityscapes", data, "train")
    assert len(frames) == 3 and [u["problem"] for u in unpaired] == ["image without a label"]
    r = CliRunner().invoke(main, ["build", str(data), str(tmp_path / "out"), "--split", "train", "-q"])
    assert r.exit_code == 3 and "1 unpaired" in r.output and "--allow-unpaired" in r.output, r.output
    assert len(ShardSet(tmp_path / "out", "train").manifest["unpaired"]) == 1
    r = CliRunner().invoke(main, ["build", str(data), str(tmp_path / "out"), "--split", "train", "-q",
                                  "--allow-unpaired"])
    assert r.exit_code == 0, r.output
    # an unreadable city directory (simulated: the tests may run as root)
    city = labels[1].parent
    real_walk = os.walk

    def walk(top, onerror=None, followlinks=False):
        for entry in real_walk(top, onerror=onerror, followlinks=followlinks):
            if entry[0] == str(city):
                onerror(PermissionError(errno.EACCES, "Permission denied", str(city)))
                continue
            yield entry
    monkeypatch.setattr(os, "walk", walk)
    _, unpaired = find_frames("cityscapes", data, "train")
    assert any(u["path"] == str(city) and "cannot be read (Permission denied)" in u["problem"] for u in unpaired)
    monkeypatch.undo()
    # two cities holding the same file name: one key, two frames -> an error naming both files
    other = data / "gtFine" / "train" / "zzz"
    other.mkdir()
    dup = other / labels[2].name
    dup.write_bytes(labels[2].read_bytes())
    with pytest.raises(LayoutError, match="two frames with the key"):
        find_frames("cityscapes", data, "train")
