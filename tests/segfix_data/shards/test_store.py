"""Shard format: tile encoding, atomic writer, windowed reader, derived distance, verification."""
from __future__ import annotations

import os
import pickle

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segfix_data import semantic_targets, shards
from segfix_data.shards import codec as shard_codec
from segfix_data.shards.codec import derive_distance, encode_array
from segfix_data.shards import ShardSet, ShardWriter, read_records, verify_samples
from tests.support.damage import flip_chunk_bytes


def _write_split(root, arrays_per_sample, tile=16):
    """A one-shard split with a minimal manifest (what build writes, reduced to what reading needs)."""
    root.mkdir(parents=True, exist_ok=True)
    samples = []
    with ShardWriter(root / "shard-00000.h5") as w:
        for i, arrays in enumerate(arrays_per_sample):
            enc = {k: encode_array(v, tile=tile, level=3) for k, v in arrays.items()}
            w.add_sample(i, enc)
            samples.append({"stem": f"s{i}", "shape": list(arrays["label"].shape), "shard": "shard-00000.h5",
                            "index": i, "checksums": {k: e.checksum for k, e in enc.items()},
                            "distance": {"semantic": {"ignore_index": 255, "cap": 255.0,
                                                      "border_is_boundary": False, "stored": False}}})
        w.set_records({"samples": samples, "failed": []})
    shards.atomic_write_json(root / shards.MANIFEST, {"format": shards.FORMAT_NAME, "samples": samples,
                                                       "params": {"variant": "semantic"}})
    return samples


def _label(rng, h, w, k=4):
    lab = rng.integers(0, k, (max(1, h // 8), max(1, w // 8))).repeat(8, 0).repeat(8, 1)[:h, :w]
    lab = np.pad(lab, ((0, h - lab.shape[0]), (0, w - lab.shape[1])), mode="edge").astype(np.uint8)
    lab[rng.random((h, w)) < 0.02] = 255
    return lab


@settings(max_examples=20, deadline=None)
@given(h=st.integers(1, 70), w=st.integers(1, 70), c=st.sampled_from([None, 3]), tile=st.sampled_from([16, 32]),
       seed=st.integers(0, 2**16))
def test_encoded_tiles_read_back_by_plain_h5py(tmp_path_factory, h, w, c, tile, seed):
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (h, w) if c is None else (h, w, c), dtype=np.uint8)
    enc = encode_array(arr, tile=tile, level=2)
    path = tmp_path_factory.mktemp("enc") / "x.h5"
    with ShardWriter(path) as wr:
        wr.add_sample(0, {"a": enc})
        wr.set_records({"samples": [], "failed": []})
    with h5py.File(path, "r") as f:
        ds = f["samples/00000/a"]
        assert ds.chunks[:2] == (min(tile, h), min(tile, w)) and ds.compression == "gzip"
        np.testing.assert_array_equal(ds[()], arr)
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        np.testing.assert_array_equal(ds[y0:, x0:], arr[y0:, x0:])
    assert enc.checksum == shard_codec.checksum(arr)


def test_writer_publishes_atomically(tmp_path):
    path = tmp_path / "shard-00000.h5"
    with pytest.raises(RuntimeError):
        with ShardWriter(path) as w:
            w.add_sample(0, {"a": encode_array(np.zeros((4, 4), np.uint8))})
            raise RuntimeError("crash mid-shard")
    assert list(tmp_path.iterdir()) == []
    with ShardWriter(path) as w:
        w.add_sample(0, {"a": encode_array(np.zeros((4, 4), np.uint8))})
        w.set_records({"samples": [{"stem": "x"}], "failed": []})
    assert [p.name for p in tmp_path.iterdir()] == ["shard-00000.h5"]
    assert read_records(path)["samples"] == [{"stem": "x"}]


@settings(max_examples=15, deadline=None)
@given(h=st.integers(8, 90), w=st.integers(8, 90), cap=st.sampled_from([3.0, 6.5, 255.0]),
       seed=st.integers(0, 2**16))
def test_derived_window_distance_equals_full(tmp_path_factory, h, w, cap, seed):
    rng = np.random.default_rng(seed)
    lab = _label(rng, h, w)
    full = derive_distance(lab, ignore_index=255, cap=cap)
    root = tmp_path_factory.mktemp("d") / "train"
    _write_split(root.parent / "train", [{"label": lab}])
    with h5py.File(root / "shard-00000.h5", "r") as f:
        y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
        wh, ww = int(rng.integers(1, h - y0 + 1)), int(rng.integers(1, w - x0 + 1))
        win = shard_codec.derive_window(f["samples/00000/label"], (y0, x0, wh, ww), 255, cap, False)
    np.testing.assert_array_equal(win, full[y0:y0 + wh, x0:x0 + ww])


@pytest.fixture
def split(tmp_path):
    rng = np.random.default_rng(0)
    arrays = []
    for _ in range(3):
        lab = _label(rng, 40, 72)
        t = semantic_targets(lab)
        arrays.append({"image": rng.integers(0, 256, (40, 72, 3), dtype=np.uint8), "label": lab,
                       "semantic/boundary": t.boundary, "semantic/direction": t.direction})
    _write_split(tmp_path / "train", arrays)
    return tmp_path, arrays


def test_shardset_reads_fields_and_windows(split):
    out, arrays = split
    ds = ShardSet(out, "train")
    assert len(ds) == 3 and ds.index_of("s2") == 2
    full = ds.read(1)
    assert set(full) == {"image", "label", "semantic/boundary", "semantic/direction"}
    for k, v in full.items():
        np.testing.assert_array_equal(v, arrays[1][k])
        assert v.dtype == arrays[1][k].dtype
    win = ds.read(2, fields=("image", "semantic/distance"), window=(5, 17, 30, 40))
    np.testing.assert_array_equal(win["image"], arrays[2]["image"][5:35, 17:57])
    t = semantic_targets(arrays[2]["label"])
    np.testing.assert_array_equal(win["semantic/distance"], t.distance[5:35, 17:57])
    assert win["semantic/distance"].dtype == np.float32
    with pytest.raises(ValueError, match=r"window \(30, 0, 20, 10\) .* not inside sample 0 of shape \(40, 72\)"):
        ds.read(0, window=(30, 0, 20, 10))
    with pytest.raises(KeyError, match="instance/boundary"):
        ds.read(0, fields="instance/boundary")
    with pytest.raises(IndexError):
        ds.read(3)
    ds.close()


def test_shardset_pickles_and_reopens_after_fork(split):
    out, arrays = split
    ds = ShardSet(out, "train")
    ds.read(0)
    clone = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(clone.read(0)["label"], arrays[0]["label"])
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: reads through its own handle
        ok = np.array_equal(ds.read(2)["label"], arrays[2]["label"])
        os.write(w, b"1" if ok else b"0")
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(r, 1) == b"1"
    np.testing.assert_array_equal(ds.read(1)["label"], arrays[1]["label"])


def _flip_chunk(path, dataset, chunk_index):
    return flip_chunk_bytes(path, dataset, chunk_index, count=4)


def test_verify_detects_flipped_bytes_and_window_reads_touch_only_their_tiles(split):
    out, arrays = split
    ds = ShardSet(out, "train")
    assert verify_samples(ds.root, ds.samples) == []
    # damage the last tile of sample 1's label (tile 16: chunks at rows 0,16,32, cols 0..64)
    with h5py.File(ds.root / "shard-00000.h5", "r") as f:
        n = f["samples/00001/label"].id.get_num_chunks()
    offset = _flip_chunk(ds.root / "shard-00000.h5", "samples/00001/label", n - 1)
    assert offset == (32, 64)
    damaged = verify_samples(ds.root, ds.samples)
    assert [d["stem"] for d in damaged] == ["s1"] and "label" in damaged[0]["problems"][0]
    ds2 = ShardSet(out, "train")
    # a window away from the damaged tile reads fine and exactly
    np.testing.assert_array_equal(ds2.read(1, fields="label", window=(0, 0, 32, 64))["label"],
                                  arrays[1]["label"][:32, :64])
    # a window over the damaged tile fails its Fletcher-32 check: the error names the shard file,
    # the sample and the command to run
    with pytest.raises(shards.ShardReadError, match=r"shard-00000\.h5: sample 1 \(s1.*label.*segfix-gt verify"):
        ds2.read(1, fields="label", window=(30, 60, 10, 12))
    total, damaged = shards.verify_split(out, "train")
    assert total == 3 and len(damaged) == 1


def test_shardset_decodes_the_code_array(tmp_path):
    rng = np.random.default_rng(1)
    lab = _label(rng, 30, 40)
    t = semantic_targets(lab)
    code = shard_codec.encode_boundary_direction(t.boundary, t.direction)
    _write_split(tmp_path / "train", [{"label": lab, "semantic/boundary_direction": code}])
    got = ShardSet(tmp_path, "train").read(0, fields=("semantic/direction", "semantic/boundary"),
                                         window=(2, 3, 20, 30))
    np.testing.assert_array_equal(got["semantic/boundary"], t.boundary[2:22, 3:33])
    np.testing.assert_array_equal(got["semantic/direction"], t.direction[2:22, 3:33])


def test_shardset_missing_manifest(tmp_path):
    with pytest.raises(FileNotFoundError, match="no manifest"):
        ShardSet(tmp_path, "train")
