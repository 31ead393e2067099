"""ShardWriter publishes through ``atomic_path``: nothing visible on a crash, no shard without records."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from segfix_data.shards import BuildConfig, ShardWriter, build_split, read_records
from segfix_data.shards.codec import encode_array
from tests.support.paths import REPO

_KILLED_MID_SHARD = """
import os, signal, sys
import numpy as np
from segfix_data.shards import ShardWriter
from segfix_data.shards.codec import encode_array
with ShardWriter(sys.argv[1]) as w:
    w.add_sample(0, {"label": encode_array(np.zeros((64, 64), np.uint8), tile=16)})
    w._file.flush()
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _sample():
    return {"label": encode_array(np.arange(48, dtype=np.uint8).reshape(6, 8), tile=16)}


def test_a_kill_mid_shard_leaves_no_visible_file(tmp_path):
    proc = subprocess.run([sys.executable, "-c", _KILLED_MID_SHARD, str(tmp_path / "shard-00000.h5")],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode < 0, proc.stderr  # killed inside the block
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".shard-00000.h5."), left  # only the hidden temporary


def test_the_next_build_removes_a_killed_writers_temporary_file(cityscapes_dir, tmp_path):
    build_split(cityscapes_dir, tmp_path / "out", "val", BuildConfig())
    split = tmp_path / "out" / "val"
    stale = split / ".shard-00000.h5.4242.0123abcd.h5"
    stale.write_bytes(b"half a shard")
    build_split(cityscapes_dir, tmp_path / "out", "val", BuildConfig())
    assert not stale.exists()
    assert sorted(p.name for p in split.iterdir()) == ["build.json", "build.lock", "manifest.json",
                                                        "plan.json", "shard-00000.h5"]


def test_a_shard_without_records_is_refused_not_published_with_null(tmp_path):
    path = tmp_path / "shard-00000.h5"
    with pytest.raises(RuntimeError, match="records were never set"):
        with ShardWriter(path) as w:
            w.add_sample(0, _sample())
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(TypeError, match="'samples' and 'failed' lists"):
        with ShardWriter(path) as w:
            w.set_records(None)
    assert list(tmp_path.iterdir()) == []
    with ShardWriter(path) as w:  # the same writer publishes once the records are there
        w.add_sample(0, _sample())
        w.set_records({"samples": [{"stem": "x"}], "failed": []})
    assert [p.name for p in tmp_path.iterdir()] == ["shard-00000.h5"]
    assert read_records(path) == {"samples": [{"stem": "x"}], "failed": []}
