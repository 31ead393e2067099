"""The build refuses, before reading them, what its own readers would refuse later: a source that is
not a regular file (a FIFO, a link to /dev/zero: hashing it blocked or never ended) and a frame
whose key the shard reader refuses (a backslash, a leading dot: the build exited 0 with a
manifest that verify and train refused, and rebuilt the same)."""
from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from cli.gt import main
from segfix_data.shards import BuildConfig, BuildError, ShardSet, build_split, verify_split
from segfix_data.shards.process import source_hashes
from tests.support.build_data import write_cityscapes
from tests.support.deadline import deadline

SUFFIX = "_gtFine_labelIds.png"


def _labels(data):
    return sorted((data / "gtFine" / "train").glob(f"*/*{SUFFIX}"))


@pytest.mark.parametrize("kind", ["fifo", "link to /dev/zero"])
def test_special_label_file_stops_the_frame_before_it_is_read(tmp_path, kind):
    data = write_cityscapes(tmp_path / "data", {"train": 2}, height=32, width=64)
    label = _labels(data)[0]
    label.unlink()
    os.mkfifo(label) if kind == "fifo" else os.symlink("/dev/zero", label)
    with deadline(30), pytest.raises(BuildError, match=f"{label}: is not a regular file"):
        build_split(data, tmp_path / "out", "train", BuildConfig(tile=16))
    with deadline(30):
        res = build_split(data, tmp_path / "out", "train", BuildConfig(tile=16), on_error="skip")
    assert res.built == 1 and [f["path"] for f in res.failed] == [str(label)]


def test_source_hashes_never_read_a_special_file(tmp_path):
    """The resume check (--check-content) hashes the sources again: a FIFO swapped in is not read."""
    from segfix_data.datasets import Frame

    fifo = tmp_path / "l.png"
    os.mkfifo(fifo)
    with deadline(10):
        got = source_hashes(Frame("s", "train", "/dev/zero", str(fifo)), ("semantic",))
    assert got == {"/dev/zero": None, str(fifo): None}


@pytest.mark.parametrize("prefix", ["a\\b", "."])
def test_frame_keys_the_reader_refuses_are_left_out_and_named(tmp_path, prefix):
    data = write_cityscapes(tmp_path / "data", {"train": 3}, height=32, width=64)
    label = _labels(data)[0]
    base = label.name[: -len(SUFFIX)]
    image = data / "leftImg8bit" / "train" / label.parent.name / f"{base}_leftImg8bit.png"
    image.rename(image.with_name(prefix + image.name))
    label.rename(label.with_name(prefix + label.name))
    out = tmp_path / "out"
    for _ in range(2):  # a rerun gives the same
        r = CliRunner().invoke(main, ["build", str(data), str(out), "--split", "train", "--tile", "16", "-q"])
        assert r.exit_code == 3, r.output
        assert f"frame key '{prefix}{base}_leftImg8bit'".replace("\\", "\\\\") in r.output
        assert "is not a plain file name" in r.output
        ds = ShardSet(out, "train")  # the manifest the reader accepts
        assert len(ds) == 2 and [u["problem"] for u in ds.manifest["unpaired"]][0].startswith("frame key")
        assert verify_split(out, "train")[1] == []
