"""Shard formats: the current one, and the older shards every reader still reads (version 1 on disk)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

from segfix_data import instance_targets, semantic_targets
from segfix_data.ignore import IGNORE_INDEX
from segfix_data.shards import FORMAT_VERSION, BuildConfig, ShardSet, build_split, read_records, verify_split
from segfix_data.shards.codec import encode_array, filter_args
from tests.support.paths import REPO

V1 = REPO / "tests" / "support" / "shards_v1"
BLOSC = 32001
FLETCHER = h5py.h5z.FILTER_FLETCHER32


def _filters(ds: h5py.Dataset) -> list[int]:
    plist = ds.id.get_create_plist()
    return [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]


def test_version_1_shards_written_by_the_old_code_still_read_and_verify(tmp_path):
    root = tmp_path / "v1"
    shutil.copytree(V1, root)
    ds = ShardSet(root, "val")
    assert ds.manifest["format_version"] == 1 and FORMAT_VERSION == 4
    n, damaged = verify_split(root, "val")
    assert n == 2 and damaged == []
    for i in range(len(ds)):
        got = ds.read(i, fields=("image", "label", "semantic/boundary", "semantic/direction",
                                 "semantic/distance", "instance/segments", "instance/direction"))
        assert _filters(ds.group(i)["label"]) == [h5py.h5z.FILTER_DEFLATE]
        t = semantic_targets(got["label"])
        np.testing.assert_array_equal(got["semantic/boundary"], t.boundary)
        np.testing.assert_array_equal(got["semantic/direction"], t.direction)
        np.testing.assert_array_equal(got["semantic/distance"], t.distance)
        ti = instance_targets(got["instance/segments"], ignore_index=-1)
        np.testing.assert_array_equal(got["instance/direction"], ti.direction)
        band = ds.read(i, fields=("semantic/direction_band", "instance/direction_band"))
        np.testing.assert_array_equal(band["semantic/direction_band"], t.direction)  # no band: the
        np.testing.assert_array_equal(band["instance/direction_band"], ti.direction)  # boundary's
        assert got["image"].shape == (64, 128, 3) and got["image"].dtype == np.uint8
        crop = ds.read(i, window=(5, 7, 40, 50))
        np.testing.assert_array_equal(crop["semantic/direction"], t.direction[5:45, 7:57])


def test_records_of_formats_1_to_3_call_the_ignore_value_ignore_value_and_still_read(tmp_path):
    root = tmp_path / "v1"
    shutil.copytree(V1, root)
    ds = ShardSet(root, "val")
    for i in range(len(ds)):
        info = ds.samples[i]["distance"]
        assert info["semantic"]["ignore_value"] == 255 and info["instance"]["ignore_value"] == -1
        assert "ignore_index" not in info["semantic"]
        got = ds.read(i, fields=("label", "instance/segments", "semantic/distance", "instance/distance"))
        lab, seg = got["label"], got["instance/segments"]
        assert (lab == IGNORE_INDEX).any() and (seg == -1).any()  # the ignore value matters here
        np.testing.assert_array_equal(got["semantic/distance"], semantic_targets(lab).distance)
        np.testing.assert_array_equal(got["instance/distance"], instance_targets(seg, ignore_index=-1).distance)


def test_a_new_build_names_the_ignore_value_ignore_index_in_manifest_and_records(cityscapes_dir, tmp_path):
    build_split(cityscapes_dir, tmp_path / "out", "val", BuildConfig(variant="both"))
    ds = ShardSet(tmp_path / "out", "val")
    assert ds.manifest["ignore_index"] == IGNORE_INDEX
    for rec in (ds.samples[0], read_records(ds.root / ds.samples[0]["shard"])["samples"][0]):
        assert rec["distance"]["semantic"] == {"ignore_index": IGNORE_INDEX, "cap": 255.0,
                                               "border_is_boundary": False, "stored": False}
        assert rec["distance"]["instance"]["ignore_index"] == -1


def test_version_2_stores_targets_in_blosc_lz4_and_plain_h5py_reads_them(cityscapes_dir, tmp_path):
    build_split(cityscapes_dir, tmp_path / "out", "val", BuildConfig(variant="both"))
    ds = ShardSet(tmp_path / "out", "val")
    assert ds.manifest["format_version"] == FORMAT_VERSION and ds.params["codec"] == "lz4"
    g = ds.group(0)
    for name in ("label", "semantic/boundary_direction", "instance/boundary_direction",
                 "instance/segments"):
        assert _filters(g[name]) == [BLOSC, FLETCHER], name
    assert _filters(g["image"]) == [FLETCHER]  # raw image tiles, with their checksums
    with h5py.File(ds.root / ds.samples[0]["shard"], "r") as f:
        stored = sum(f[f"samples/00000/{k}"].id.get_storage_size() for k in ds.samples[0]["checksums"])
    assert ds.samples[0]["bytes"] == stored
    # a plain h5py user: `import hdf5plugin`, then read (docs/shards.md)
    code = ("import sys, h5py, hdf5plugin, numpy as np; f = h5py.File(sys.argv[1], 'r'); "
            "a = f['samples/00000/semantic/boundary_direction'][()]; np.save(sys.argv[2], a)")
    out = tmp_path / "plain.npy"
    subprocess.run([sys.executable, "-c", code, str(ds.root / ds.samples[0]["shard"]), str(out)],
                   check=True, cwd=tmp_path)
    np.testing.assert_array_equal(np.load(out), g["semantic/boundary_direction"][()])
    assert verify_split(tmp_path / "out", "val")[1] == []


def test_zlib_codec_still_builds_deflate_tiles_with_the_same_arrays(cityscapes_dir, tmp_path):
    build_split(cityscapes_dir, tmp_path / "lz4", "val", BuildConfig())
    build_split(cityscapes_dir, tmp_path / "zlib", "val", BuildConfig(codec="zlib", level=3))
    a, b = ShardSet(tmp_path / "lz4", "val"), ShardSet(tmp_path / "zlib", "val")
    assert _filters(b.group(0)["label"]) == [h5py.h5z.FILTER_DEFLATE, FLETCHER]
    for i in range(len(a)):
        assert a.samples[i]["checksums"] == b.samples[i]["checksums"]
        ra, rb = a.read(i), b.read(i)
        for k in ra:
            np.testing.assert_array_equal(ra[k], rb[k])


def test_filter_args_and_lz4_encoding():
    arr = np.arange(300 * 200, dtype=np.int32).reshape(300, 200)
    enc = encode_array(arr, tile=128, codec="lz4")
    assert enc.codec == "lz4" and enc.chunks == (128, 128) and len(enc.blocks) == 6
    assert 0 < enc.nbytes < arr.nbytes
    assert filter_args(enc)["compression"] == BLOSC
    assert filter_args(encode_array(arr, tile=128, level=2)) == {"compression": "gzip", "compression_opts": 2}
    with pytest.raises(ValueError, match="codec"):
        encode_array(arr, codec="zstd")
    with pytest.raises(ValueError, match="codec"):
        BuildConfig(codec="zstd")


def test_a_newer_format_is_refused_with_a_message(tmp_path):
    root = tmp_path / "v1"
    shutil.copytree(V1, root)
    m = json.loads((root / "val" / "manifest.json").read_text())
    m["format_version"] = FORMAT_VERSION + 1
    (root / "val" / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ValueError, match="newer than this segfix reads"):
        ShardSet(root, "val")


def test_incompressible_lz4_chunks_are_stored_raw_and_read_back(tmp_path):
    from segfix_data.shards import ShardWriter
    import h5py as _h5

    noise = np.random.default_rng(0).integers(0, 256, (40, 50), dtype=np.uint8)  # Blosc cannot shrink it
    enc = encode_array(noise, tile=16, codec="lz4")
    assert any(enc.masks)
    with ShardWriter(tmp_path / "s.h5") as w:
        w.add_sample(0, {"label": enc})
        w.set_records({"samples": [], "failed": []})
    with _h5.File(tmp_path / "s.h5", "r") as f:
        np.testing.assert_array_equal(f["samples/00000/label"][()], noise)


def test_a_damaged_raw_image_tile_is_reported_on_a_crop_read(cityscapes_dir, tmp_path):
    from segfix_data.shards import ShardReadError

    build_split(cityscapes_dir, tmp_path / "out", "val", BuildConfig())
    ds = ShardSet(tmp_path / "out", "val")
    path = ds.root / ds.samples[0]["shard"]
    good = ds.read(0, fields="image", window=(3, 5, 40, 60))["image"]
    with h5py.File(path, "r") as f:
        offset = f["samples/00000/image"].id.get_chunk_info(0).byte_offset
    ds.close()
    raw = bytearray(path.read_bytes())
    raw[offset + 100] ^= 0xFF  # one pixel of the first tile
    path.write_bytes(bytes(raw))
    with pytest.raises(ShardReadError):
        ShardSet(tmp_path / "out", "val").read(0, fields="image", window=(3, 5, 40, 60))
    assert good.shape == (40, 60, 3)
