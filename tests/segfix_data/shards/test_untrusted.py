"""Manifests and shard files are untrusted input; damaged reads raise; resume follows contents."""
from __future__ import annotations

import json
import os
import shutil

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cli.gt import main
from segfix_data import shards
from segfix_data.shards import BuildConfig, ShardSet, build_split, verify_samples
from segfix_data.shards.codec import checksum
from segfix_data.shards.manifest import CHECKSUM_KEY, manifest_checksum
from tests.support.build_data import write_cityscapes
from tests.segfix_data.shards.test_build import assert_same, contents


def _copy(built, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(built, out)
    return out


def _edit_manifest(out, fn):
    """Edit the manifest as a hostile user would: its content checksum recomputed, so that the
    refusal under test (not the checksum) is what stops it."""
    path = out / "train" / "manifest.json"
    m = json.loads(path.read_text())
    fn(m)
    m[CHECKSUM_KEY] = manifest_checksum(m)
    path.write_text(json.dumps(m))


def _verify(out):
    return CliRunner().invoke(main, ["verify", str(out), "-q"])


@pytest.mark.parametrize("shard", ["../../outside/x.h5", "ABS", "sub/../../x.h5", "..", ".hidden.h5", "LINK"])
def test_shard_paths_leaving_the_split_are_refused(built, tmp_path, shard):
    out = _copy(built, tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(out / "train" / "shard-00000.h5", outside / "x.h5")
    if shard == "ABS":
        shard = str(outside / "x.h5")
    if shard == "LINK":  # a symbolic link inside the split pointing outside
        os.symlink(outside / "x.h5", out / "train" / "shard-77777.h5")
        shard = "shard-77777.h5"
    _edit_manifest(out, lambda m: m["samples"][0].update(shard=shard))
    with pytest.raises(shards.ManifestError, match="refusing"):
        ShardSet(out, "train")
    r = _verify(out)
    assert r.exit_code == 1 and "refusing" in r.output, r.output
    m = json.loads((out / "train" / "manifest.json").read_text())
    damaged = verify_samples(out / "train", [dict(m["samples"][0])])
    assert damaged and damaged[0]["problems"][0].startswith("refused:")


def _swap_label(out, make):
    """Replace sample 0's label dataset by ``make(group, name, label)``; fix the manifest checksum."""
    path = out / "train" / "shard-00000.h5"
    with h5py.File(path, "r+") as f:
        g = f["samples/00000"]
        label = g["label"][()]
        del g["label"]
        new = make(f, g, label)
    if new is not None:
        _edit_manifest(out, lambda m: m["samples"][0]["checksums"].update(label=checksum(new)))


def _external(tmp_path):
    def make(f, g, label):
        secret = tmp_path / "secret.bin"
        secret.write_bytes(b"root:x:0:0:" * (label.size // 11 + 1))
        g.create_dataset("label", shape=label.shape, dtype=np.uint8, external=[(str(secret), 0, label.size)])
        return np.frombuffer(secret.read_bytes()[: label.size], np.uint8).reshape(label.shape)
    return make


def _virtual(tmp_path):
    def make(f, g, label):
        src = tmp_path / "src.h5"
        with h5py.File(src, "w") as s:
            s["x"] = label + 1
        layout = h5py.VirtualLayout(shape=label.shape, dtype=np.uint8)
        layout[:] = h5py.VirtualSource(str(src), "x", shape=label.shape)
        g.create_virtual_dataset("label", layout)
        return label + 1
    return make


def _soft(tmp_path):
    def make(f, g, label):
        f["elsewhere"] = label
        g["label"] = h5py.SoftLink("/elsewhere")
        return label
    return make


def _extlink(tmp_path):
    def make(f, g, label):
        with h5py.File(tmp_path / "other.h5", "w") as o:
            o["x"] = label
        g["label"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/x")
        return label
    return make


@pytest.mark.parametrize("kind,match", [(_external, "external storage"), (_virtual, "virtual sources"),
                                        (_soft, "SoftLink"), (_extlink, "ExternalLink")])
def test_hdf5_indirection_is_refused(built, tmp_path, kind, match):
    out = _copy(built, tmp_path)
    _swap_label(out, kind(tmp_path))
    with pytest.raises(shards.ManifestError, match=match):  # refused when the reader opens the shard
        ShardSet(out, "train").read(0, fields="label")
    r = _verify(out)
    assert r.exit_code == 1 and match in r.output, r.output


def test_edited_index_invalid_json_and_bad_stems_are_refused(built, tmp_path):
    out = _copy(built, tmp_path)
    _edit_manifest(out, lambda m: m["samples"][0].update(index=1))
    with pytest.raises(shards.ManifestError, match="holds .* there; the manifest was edited"):
        ShardSet(out, "train").read(0, fields="label")
    path = out / "train" / "manifest.json"
    path.write_text(path.read_text()[:-20])
    with pytest.raises(shards.ManifestError, match=f"{path}: not valid JSON"):
        ShardSet(out, "train")
    out = _copy(built, tmp_path / "b")
    for stem in ("../../evil", "..", "a/b", ""):
        _edit_manifest(out, lambda m: m["samples"][0].update(stem=stem))
        with pytest.raises(shards.ManifestError, match="not a plain file name"):
            ShardSet(out, "train")
    with pytest.raises(shards.ManifestError, match="not a plain file name"):
        shards.output_path(tmp_path, "../x.mat")
    _edit_manifest(out, lambda m: m["samples"][0].update(stem=m["samples"][1]["stem"]))
    with pytest.raises(shards.ManifestError, match="appears twice"):
        ShardSet(out, "train")


def test_flipped_byte_in_a_raw_image_tile_raises_naming_the_shard(built, tmp_path):
    out = _copy(built, tmp_path)
    path = out / "train" / "shard-00000.h5"
    with h5py.File(path, "r") as f:
        ds = f["samples/00001/image"]
        assert ds.compression is None and ds.fletcher32  # raw tiles, still checked
        info = ds.id.get_chunk_info(3)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + 100)
        b = fh.read(1)
        fh.seek(info.byte_offset + 100)
        fh.write(bytes([b[0] ^ 1]))
    ds = ShardSet(out, "train")
    stem = ds.samples[1]["stem"]
    ds.read(0)  # the other sample reads fine
    with pytest.raises(shards.ShardReadError) as e:
        ds.read(1, fields=("label", "image"))
    msg = str(e.value)
    assert str(path) in msg and f"sample 1 ({stem}" in msg and "image" in msg and "Fletcher-32" in msg
    assert f"segfix-gt verify {out}" in msg
    r = _verify(out)
    assert r.exit_code == 1 and f"damaged: train/shard-00000.h5 sample 1 ({stem})" in r.output


def test_loader_workers_report_a_damaged_shard_the_same_way(built, tmp_path):
    from segfix_train.data import AugmentConfig, CropStream, checked_batches, make_loader

    out = _copy(built, tmp_path)
    path = out / "train" / "shard-00000.h5"
    with h5py.File(path, "r") as f:
        offsets = [f[f"samples/{i:05d}/{n}"].id.get_chunk_info(k).byte_offset
                   for i in (0, 1) for n in ("image", "label") for k in range(6)]
    with open(path, "r+b") as fh:
        for o in offsets:
            fh.seek(o + 2)
            fh.write(b"\xff\x00\xff")
    stream = CropStream([ShardSet(out, "train")], [1.0], 2, seed=0, aug=AugmentConfig(crop=16))
    with pytest.raises(shards.ShardReadError) as e:
        for _ in checked_batches(make_loader(stream, 0, 8, num_workers=1)):
            pass
    msg = str(e.value)
    assert msg.startswith(str(path)) and "segfix-gt verify" in msg and "Traceback" not in msg


def test_label_edited_after_a_complete_build_is_rebuilt_equal_to_a_fresh_build(tmp_path):
    data = write_cityscapes(tmp_path / "cs", {"train": 4}, 40, 72)
    cfg = BuildConfig(shard_size=2, tile=16)
    build_split(data, tmp_path / "out", "train", cfg)
    label = sorted((data / "gtFine" / "train").glob("*/*_labelIds.png"))[2]
    ids = np.asarray(Image.open(label)).copy()
    ids[:10] = 7  # road
    Image.fromarray(ids).save(label)
    r = build_split(data, tmp_path / "out", "train", cfg)
    assert (r.kept, r.built, r.changed) == (2, 2, 1)
    build_split(data, tmp_path / "fresh", "train", cfg)
    assert_same(contents(tmp_path / "out", "train"), contents(tmp_path / "fresh", "train"))
    m = json.loads((tmp_path / "out" / "train" / "manifest.json").read_text())
    fresh = json.loads((tmp_path / "fresh" / "train" / "manifest.json").read_text())
    assert m["samples"] == fresh["samples"]
    assert m["samples"][2]["source_stats"][str(label)][0] == label.stat().st_size
    assert build_split(data, tmp_path / "out", "train", cfg).kept == 4
