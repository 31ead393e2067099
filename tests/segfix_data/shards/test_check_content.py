"""Change detection: the default (size + mtime) misses an edit saved with the same
size and an old mtime (``touch -r``); ``--check-content`` hashes the sources and rebuilds that frame."""
from __future__ import annotations

import os

import numpy as np
from click.testing import CliRunner
from PIL import Image

from cli.gt import main
from segfix_data.datasets import read_label
from segfix_data.shards import ShardSet


def run_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _store_uncompressed(path, ids):
    """PNG with zlib level 0 (stored blocks): the file size depends on the image size only."""
    Image.fromarray(ids.astype(np.uint8)).save(path, compress_level=0)


def _edit_keeping_size_and_mtime(path):
    st = os.stat(path)
    ids = np.asarray(Image.open(path))
    v, w = sorted(set(np.unique(ids).tolist()) & {7, 8, 11, 24, 26})[:2]
    _store_uncompressed(path, np.where(ids == v, w, ids))  # one class relabelled as another
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))   # touch -r: the old mtime back


def test_default_misses_a_same_size_same_mtime_edit_check_content_rebuilds_it(cityscapes_dir, tmp_path):
    out = tmp_path / "out"
    assert run_cli("build", cityscapes_dir, out, "--split", "val", "--shard-size", "1").exit_code == 0
    ss = ShardSet(out, "val")
    label_path = ss.samples[0]["sources"]["label"]
    _store_uncompressed(label_path, np.asarray(Image.open(label_path)))
    assert run_cli("build", cityscapes_dir, out, "--split", "val", "--shard-size", "1").exit_code == 0
    before = os.stat(label_path)
    _edit_keeping_size_and_mtime(label_path)
    after = os.stat(label_path)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)

    r = run_cli("build", cityscapes_dir, out, "--split", "val", "--shard-size", "1")
    assert r.exit_code == 0 and "0 built" in r.output, r.output  # what the default cannot see
    r = run_cli("build", cityscapes_dir, out, "--split", "val", "--shard-size", "1", "--check-content")
    assert r.exit_code == 0 and "1 built" in r.output and "1 with changed sources" in r.output, r.output
    got = ShardSet(out, "val").read(0, fields=("label",))["label"]
    np.testing.assert_array_equal(got, read_label(label_path, "cityscapes"))
    r = run_cli("build", cityscapes_dir, out, "--split", "val", "--shard-size", "1", "--check-content")
    assert r.exit_code == 0 and "0 built" in r.output, r.output  # nothing else changed
