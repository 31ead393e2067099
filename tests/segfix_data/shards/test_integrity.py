"""Stale shards, the records dataset, edited manifests, declared
sizes and crafted dtypes are refused or reported, never read as current data."""
from __future__ import annotations

import json
import shutil
import tracemalloc
import zlib

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from cli.gt import main
from segfix_data import semantic_targets
from segfix_data.datasets import read_label
from segfix_data.shards import BuildConfig, ManifestError, ShardSet, build_split, verify_split
from segfix_data.shards.codec import checksum
from segfix_data.shards.manifest import CHECKSUM_KEY, manifest_checksum
from segfix_data.shards.verify import stream_checksum
from segfix_data.shards.writer import write_bytes
from tests.support.build_data import write_cityscapes
from tests.support.damage import flip_chunk_bytes


@pytest.fixture
def out(built, tmp_path):
    shutil.copytree(built, tmp_path / "out")
    return tmp_path / "out"


def _manifest(out, fn, recompute=True):
    """Edit the manifest; ``recompute``: as a hostile user would, with its checksum made to match."""
    path = out / "train" / "manifest.json"
    m = json.loads(path.read_text())
    fn(m)
    if recompute:
        m[CHECKSUM_KEY] = manifest_checksum(m)
    path.write_text(json.dumps(m))


def _records(out, shard, fn):
    """Rewrite a shard's records dataset (recomputed: HDF5's own checksum matches)."""
    with h5py.File(out / "train" / shard, "r+") as f:
        rec = json.loads(f["records"][()].tobytes())
        fn(rec)
        del f["records"]
        write_bytes(f, "records", np.frombuffer(json.dumps(rec, sort_keys=True).encode(), np.uint8))


def _verify(out):
    return CliRunner().invoke(main, ["verify", str(out), "-q"])


# --- point 1: every shard records its build parameters; resume and verify compare them


def test_stale_shards_are_rebuilt_even_without_build_json(tmp_path):
    data = write_cityscapes(tmp_path / "cs", {"train": 3}, 24, 40)
    out = tmp_path / "out"
    build_split(data, out, "train", BuildConfig(shard_size=1, tile=16))       # gamma 5 (paper)
    (out / "train" / "build.json").unlink()
    res = build_split(data, out, "train", BuildConfig(shard_size=1, tile=16, gamma=3))
    assert (res.built, res.kept) == (3, 0)
    ds = ShardSet(out, "train")
    assert ds.params["targets"]["gamma"] == 3
    for i, s in enumerate(ds.samples):
        want = semantic_targets(read_label(s["sources"]["label"], "cityscapes"), gamma=3)
        got = ds.read(i, fields=("semantic/boundary",))["semantic/boundary"]
        np.testing.assert_array_equal(got, want.boundary)
    assert verify_split(out, "train")[1] == []


def test_shards_built_with_other_parameters_than_the_manifest_are_refused(out):
    def gamma3(m):
        m["params"]["gamma"] = 3.0
        m["params"]["targets"]["gamma"] = 3.0
    _manifest(out, gamma3)
    with pytest.raises(ManifestError, match=r"manifest\.json: .*shard-00000\.h5 was built with other "
                                            r"parameters \(gamma: None \(shard\) vs 3\.0"):
        ShardSet(out, "train")
    total, damaged = verify_split(out, "train")
    assert total == 3 and len(damaged) == 3
    assert all("stale or edited" in d["problems"][0] for d in damaged)
    r = _verify(out)
    assert r.exit_code == 1 and "3 damaged" in r.output


# --- point 5: verify reads the records dataset too


def test_verify_reports_a_flipped_byte_in_the_records(out):
    flip_chunk_bytes(out / "train" / "shard-00000.h5", "records", mask=4)
    total, damaged = verify_split(out, "train")
    assert [d["index"] for d in damaged] == [0, 1] and {d["shard"] for d in damaged} == {"shard-00000.h5"}
    assert all(d["problems"][0].startswith("records: cannot read") for d in damaged)
    assert _verify(out).exit_code == 1


# --- point 6: the manifest's content is checksummed and cross-checked with the shards


def test_an_edited_manifest_value_is_refused_by_its_checksum(out):
    _manifest(out, lambda m: m.update(num_classes=20), recompute=False)
    with pytest.raises(ManifestError, match=r"manifest\.json: its content does not match its content_checksum"):
        ShardSet(out, "train")
    r = _verify(out)
    assert r.exit_code == 1 and "manifest.json: its content does not match" in r.output


def test_edited_ignore_index_is_refused_even_with_a_recomputed_checksum(out):
    _manifest(out, lambda m: m["samples"][0]["distance"]["semantic"].update(ignore_index=251))
    with pytest.raises(ManifestError, match=r"manifest\.json: sample 0 .* holds a different record"):
        ShardSet(out, "train").read(0, fields=("semantic/distance",))
    total, damaged = verify_split(out, "train")
    assert [d["index"] for d in damaged] == [0, 1] and "stale or edited" in damaged[0]["problems"][0]


def test_edited_num_directions_is_refused_before_training_uses_it(out):
    _manifest(out, lambda m: m["params"].update(num_directions=16))
    with pytest.raises(ManifestError, match=r"num_directions: 8 \(shard\) vs 16 \(manifest\)"):
        ShardSet(out, "train")  # the trainer reads params only through a ShardSet


# --- point 7: declared sizes are checked before reading; verify reads in blocks


def test_a_dataset_declared_larger_than_the_manifest_is_refused_before_reading(out):
    with h5py.File(out / "train" / "shard-00000.h5", "r+") as f:
        del f["samples/00000/label"]
        f.create_dataset("samples/00000/label", shape=(100_000, 100_000), dtype=np.uint8,
                         chunks=(1024, 1024), compression="gzip", fletcher32=True)
    tracemalloc.start()
    try:
        total, damaged = verify_split(out, "train")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20
    assert damaged[0]["index"] == 0 and any(
        p.startswith("label: refused:") and "uint8(100000, 100000)" in p for p in damaged[0]["problems"])
    with pytest.raises(ManifestError, match=r"label is stored as uint8\(100000, 100000\), the format says "
                                            r"uint8\(40, 72\)"):
        ShardSet(out, "train").read(0, fields=("label",))


def test_stream_checksum_equals_checksum_and_reads_in_blocks(tmp_path):
    rng = np.random.default_rng(0)
    with h5py.File(tmp_path / "x.h5", "w") as f:
        for shape, dtype in (((37, 23, 3), np.uint8), ((50, 9), np.float32), ((1000,), np.uint8)):
            a = rng.integers(0, 255, shape).astype(dtype)
            ds = f.create_dataset("a", data=a, chunks=True)
            for block in (1, 7, 100, 1 << 20):
                assert stream_checksum(ds, block_bytes=block) == checksum(a)
            del f["a"]
        big = f.create_dataset("big", shape=(20_000, 20_000), dtype=np.uint8, chunks=(512, 512),
                               compression="gzip")  # 400 MB of zeros declared, nothing stored
        zeros, crc = bytes(1 << 20), 0
        for _ in range(20_000 * 20_000 >> 20):
            crc = zlib.crc32(zeros, crc)
        crc = zlib.crc32(bytes(20_000 * 20_000 % (1 << 20)), crc)
        tracemalloc.start()
        try:
            got = stream_checksum(big)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert got == f"crc32:{crc:08x}" and peak < 64 << 20


# --- point 8: dtype and shape of every field are checked against the format


def test_a_float32_image_with_recomputed_checksums_is_refused(out):
    path = out / "train" / "shard-00000.h5"
    with h5py.File(path, "r+") as f:
        img = f["samples/00000/image"][()].astype(np.float32)
        del f["samples/00000/image"]
        f.create_dataset("samples/00000/image", data=img, chunks=(16, 16, 3), fletcher32=True)
    digest = checksum(img)
    _records(out, "shard-00000.h5", lambda r: r["samples"][0]["checksums"].update(image=digest))
    _manifest(out, lambda m: m["samples"][0]["checksums"].update(image=digest))
    ds = ShardSet(out, "train")
    with pytest.raises(ManifestError, match=r"shard-00000\.h5: sample 0 .*: image is stored as "
                                            r"float32\(40, 72, 3\), the format says uint8\(40, 72, 3\)"):
        ds.read(0, fields=("image",))
    ds.read(1, fields=("image",))  # the other sample still reads
    total, damaged = verify_split(out, "train")
    assert [d["index"] for d in damaged] == [0] and damaged[0]["problems"][0].startswith("image: refused:")


def test_a_dataset_the_record_does_not_list_is_never_read(out):
    ds = ShardSet(out, "train")
    want = ds.read(0, fields=("semantic/distance",))["semantic/distance"]
    ds.close()
    with h5py.File(out / "train" / "shard-00000.h5", "r+") as f:  # a planted "stored" distance
        f.create_dataset("samples/00000/semantic/distance", data=np.full((40, 72), 7, np.float32))
    got = ShardSet(out, "train").read(0, fields=("semantic/distance",))["semantic/distance"]
    np.testing.assert_array_equal(got, want)


def test_an_image_file_declaring_another_size_is_refused_before_decoding(tmp_path):
    import io

    from PIL import Image

    data = write_cityscapes(tmp_path / "cs", {"train": 1}, 24, 40)
    out = tmp_path / "out"
    build_split(data, out, "train", BuildConfig(tile=16, image_format="file"))
    buf = io.BytesIO()
    Image.fromarray(np.zeros((3000, 3000, 3), np.uint8)).save(buf, format="PNG")
    raw = np.frombuffer(buf.getvalue(), np.uint8)
    with h5py.File(out / "train" / "shard-00000.h5", "r+") as f:
        del f["samples/00000/image_file"]
        write_bytes(f["samples/00000"], "image_file", raw)
    digest = checksum(raw)
    _records(out, "shard-00000.h5", lambda r: r["samples"][0]["checksums"].update(image_file=digest))
    _manifest(out, lambda m: m["samples"][0]["checksums"].update(image_file=digest))
    assert verify_split(out, "train")[1] == []  # consistent bytes: only the declared size tells
    with pytest.raises(ManifestError, match=r"its image file declares 3000x3000 pixels, the manifest 40x24"):
        ShardSet(out, "train").read(0, fields=("image",))


# --- point 9: a missing or non-HDF5 shard is named as such, not as a failed Fletcher-32 check

@pytest.mark.parametrize("damage, says", [
    (lambda p: p.unlink(), "shard file missing (the manifest lists it)"),
    (lambda p: p.write_bytes(b"not hdf5 at all"), "cannot open the shard file as HDF5"),
])
def test_a_missing_or_replaced_shard_file_is_named_for_what_it_is(out, damage, says):
    from segfix_data.shards import ShardReadError

    path = out / "train" / "shard-00001.h5"
    damage(path)
    ds = ShardSet(out, "train")  # shard-00000 opens fine
    with pytest.raises(ShardReadError) as info:
        ds.read(2, fields="label")
    msg = str(info.value)
    assert msg.startswith(f"{path}: {says}") and "Fletcher-32" not in msg and "segfix-gt build" in msg
