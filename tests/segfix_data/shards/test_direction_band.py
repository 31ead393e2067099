"""Shard format 3: direction targets on a band wider than the boundary."""
from __future__ import annotations

import json

import h5py
import numpy as np

from segfix_data import instance_targets, semantic_targets
from segfix_data.shards import BuildConfig, ShardSet, build_split
from segfix_data.shards.manifest import CHECKSUM_KEY, manifest_checksum
from segfix_data.shards.writer import write_bytes
from segfix_data.shards.codec import (BD_BAND, BD_NOT_BOUNDARY, decode_boundary_direction,
                                      decode_direction_band, encode_boundary_direction)


def test_band_codes_round_trip_and_leave_boundary_and_direction_as_they_were():
    b = np.array([[1, 1, 0, 0, 255]], np.uint8)
    d = np.array([[3, 255, 255, 255, 255]], np.uint8)
    band = np.array([[3, 255, 5, 255, 255]], np.uint8)  # pixel 2: off the boundary, in the band
    code = encode_boundary_direction(b, d, band_direction=band)
    np.testing.assert_array_equal(code, [[3, 254, BD_BAND + 5, BD_NOT_BOUNDARY, 255]])
    gb, gd = decode_boundary_direction(code)
    np.testing.assert_array_equal(gb, b)
    np.testing.assert_array_equal(gd, d)
    np.testing.assert_array_equal(decode_direction_band(code), [[3, 255, 5, 255, 255]])
    # without a band (formats 1-2): the band direction is the boundary's
    np.testing.assert_array_equal(decode_direction_band(encode_boundary_direction(b, d)), d)


def test_build_stores_the_band_of_3_gamma_and_the_usual_targets(cityscapes_dir, tmp_path):
    build_split(cityscapes_dir, tmp_path / "out", "val", BuildConfig(variant="both"))
    ds = ShardSet(tmp_path / "out", "val")
    assert ds.params["direction_band"] == 15.0
    f = ("label", "semantic/boundary", "semantic/direction", "semantic/direction_band",
         "instance/segments", "instance/direction", "instance/direction_band")
    for i in range(len(ds)):
        r = ds.read(i, fields=f)
        t, wide = semantic_targets(r["label"]), semantic_targets(r["label"], gamma=15)
        np.testing.assert_array_equal(r["semantic/boundary"], t.boundary)
        np.testing.assert_array_equal(r["semantic/direction"], t.direction)
        np.testing.assert_array_equal(r["semantic/direction_band"], wide.direction)
        assert (wide.direction < 8).sum() > 1.5 * (t.direction < 8).sum()  # the band is wider
        seg = r["instance/segments"]
        ti = instance_targets(seg, ignore_index=-1)
        np.testing.assert_array_equal(r["instance/direction"], ti.direction)
        np.testing.assert_array_equal(r["instance/direction_band"],
                                      instance_targets(seg, ignore_index=-1, gamma=15).direction)
        crop = ds.read(i, fields=("semantic/direction_band",), window=(3, 5, 20, 30))
        np.testing.assert_array_equal(crop["semantic/direction_band"], wide.direction[3:23, 5:35])


def test_band_off_and_format_2_manifest_read_the_boundary_directions(cityscapes_dir, tmp_path):
    build_split(cityscapes_dir, tmp_path / "out", "val", BuildConfig(direction_band=0))
    man = tmp_path / "out" / "val" / "manifest.json"
    m = json.loads(man.read_text())
    m["format_version"] = 2  # what a format-2 build wrote: no band codes, no direction_band key
    del m["params"]["direction_band"]
    m[CHECKSUM_KEY] = manifest_checksum(m)  # as that build sealed it
    man.write_text(json.dumps(m))
    for shard in sorted((tmp_path / "out" / "val").glob("shard-*.h5")):  # nor parameters in shards
        with h5py.File(shard, "a") as f:
            rec = json.loads(f["records"][()].tobytes())
            rec.pop("params")
            del f["records"]
            write_bytes(f, "records", np.frombuffer(json.dumps(rec).encode(), dtype=np.uint8))
    ds = ShardSet(tmp_path / "out", "val")
    assert ds.params.get("direction_band") is None
    r = ds.read(0, fields=("semantic/direction", "semantic/direction_band"))
    np.testing.assert_array_equal(r["semantic/direction_band"], r["semantic/direction"])


def test_cli_direction_band_option_reaches_the_manifest(cityscapes_dir, tmp_path):
    from tests.segfix_data.shards.test_build import run_cli

    assert run_cli("build", cityscapes_dir, tmp_path / "out", "--split", "val",
                   "--direction-band", "8").exit_code == 0
    assert ShardSet(tmp_path / "out", "val").params["direction_band"] == 8.0
