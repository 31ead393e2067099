"""segfix-gt build / verify end to end: correctness, determinism, resume after kill -9, bad input, Dask."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cli.gt import main
from segfix_data import instance_targets, semantic_targets
from segfix_data.datasets import labels
from segfix_data.shards import BuildConfig, BuildError, ParamsMismatch, SplitBusy, build_split
from segfix_data.datasets import LayoutError, read_image, read_instance_ids, read_label
from segfix_data.shards import ShardSet

from tests.support.build_data import write_cityscapes

from tests.support.paths import REPO


def contents(out, split):
    """Every stored array of every sample, in order: [(stem, {name: array})] (derived fields too)."""
    ds = ShardSet(out, split)
    result = []
    for i, s in enumerate(ds.samples):
        arrays = {}
        ds.group(i).visititems(lambda n, o: arrays.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
        for v in ds.params["variants"]:
            arrays[f"{v}/distance (read)"] = ds.read(i, fields=f"{v}/distance")[f"{v}/distance"]
        result.append((s["stem"], arrays))
    ds.close()
    return result


def assert_same(a, b):
    assert [s for s, _ in a] == [s for s, _ in b]
    for (stem, x), (_, y) in zip(a, b):
        assert sorted(x) == sorted(y), stem
        for k in x:
            assert x[k].dtype == y[k].dtype and np.array_equal(x[k], y[k]), (stem, k)


def run_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_build_stores_exact_targets_both_variants(cityscapes_dir, tmp_path):
    r = run_cli("build", cityscapes_dir, tmp_path / "out", "--variant", "both", "--shard-size", "2")
    assert r.exit_code == 0, r.output
    assert "train: 5 frames, 5 built, 0 kept from a previous run, 0 failed" in r.output
    ds = ShardSet(tmp_path / "out", "train")
    assert [s["shard"] for s in ds.samples] == ["shard-00000.h5"] * 2 + ["shard-00001.h5"] * 2 + ["shard-00002.h5"]
    assert [s["index"] for s in ds.samples] == [0, 1, 0, 1, 0]
    assert ds.params["variants"] == ["semantic", "instance"] and ds.params["num_directions"] == 8
    assert ds.manifest["tool_version"] and ds.manifest["failed"] == []
    fields = ("image", "label", "semantic/distance", "semantic/boundary", "semantic/direction",
              "instance/distance", "instance/boundary", "instance/direction", "instance/segments")
    pix = np.zeros(19, np.int64)
    bnd = np.zeros(19, np.int64)
    for i, s in enumerate(ds.samples):
        src = s["sources"]
        label = read_label(src["label"], "cityscapes")
        got = ds.read(i, fields=fields)
        np.testing.assert_array_equal(got["image"], read_image(src["image"]))
        np.testing.assert_array_equal(got["label"], label)
        t = semantic_targets(label)
        seg, ign = labels.cityscapes_instance_ids_to_segments(read_instance_ids(src["instance"]))
        ti = instance_targets(seg, ignore_index=ign)
        for v, tt in (("semantic", t), ("instance", ti)):
            for f in ("distance", "boundary", "direction"):
                want = getattr(tt, f)
                assert got[f"{v}/{f}"].dtype == want.dtype
                np.testing.assert_array_equal(got[f"{v}/{f}"], want)
        np.testing.assert_array_equal(got["instance/segments"], seg)
        counts = np.bincount(label.ravel(), minlength=256)
        assert s["class_pixels"] == {str(k): int(n) for k, n in enumerate(counts[:255]) if n}
        pix += counts[:19]
        bnd += np.bincount(label[t.boundary == 1], minlength=256)[:19]
    assert ds.manifest["class_pixels"] == {str(k): int(n) for k, n in enumerate(pix) if n}
    assert ds.manifest["class_boundary_pixels"]["semantic"] == {str(k): int(n) for k, n in enumerate(bnd) if n}
    assert len(ShardSet(tmp_path / "out", "val")) == 2


def test_openseg_preset_stores_the_authors_arrays(cityscapes_dir, tmp_path):
    r = run_cli("build", cityscapes_dir, tmp_path / "out", "--split", "val", "--preset", "openseg",
                "--variant", "both", "--no-images")
    assert r.exit_code == 0, r.output
    ds = ShardSet(tmp_path / "out", "val")
    for i, s in enumerate(ds.samples):
        label = read_label(s["sources"]["label"], "cityscapes")
        o = semantic_targets(label, preset="openseg").to_openseg()
        seg = labels.cityscapes_instance_ids_to_openseg_segments(read_instance_ids(s["sources"]["instance"]))
        oi = instance_targets(seg, ignore_index=255, preset="openseg")
        got = ds.read(i, fields=("semantic/openseg_depth", "semantic/openseg_dir_deg", "instance/openseg_dir_deg",
                                 "instance/distance"))
        np.testing.assert_array_equal(got["semantic/openseg_depth"], o["depth"])
        np.testing.assert_array_equal(got["semantic/openseg_dir_deg"], o["dir_deg"])
        np.testing.assert_array_equal(got["instance/openseg_dir_deg"], oi.to_openseg()["dir_deg"])
        np.testing.assert_array_equal(got["instance/distance"], oi.distance)
        with pytest.raises(KeyError, match="image"):
            ds.read(i, fields="image")


def test_deterministic_across_jobs_and_image_format(cityscapes_dir, tmp_path):
    cfg = BuildConfig(variant="both", shard_size=2)
    calls = []
    build_split(cityscapes_dir, tmp_path / "a", "train", cfg, jobs=1, progress=lambda n, t: calls.append((n, t)))
    assert calls == [(1, 5)] * 5
    build_split(cityscapes_dir, tmp_path / "b", "train", cfg, jobs=2)
    assert_same(contents(tmp_path / "a", "train"), contents(tmp_path / "b", "train"))
    ma = json.loads((tmp_path / "a" / "train" / "manifest.json").read_text())
    mb = json.loads((tmp_path / "b" / "train" / "manifest.json").read_text())
    for m in (ma, mb):
        for s in m["shards"]:
            s.pop("bytes")
    assert ma == mb
    build_split(cityscapes_dir, tmp_path / "c", "train", BuildConfig(variant="both", image_format="file"))
    build_split(cityscapes_dir, tmp_path / "d", "train", BuildConfig(image_level=0, tile=32))
    ds_a, ds_c, ds_d = (ShardSet(tmp_path / n, "train") for n in "acd")
    assert "image_file" in ds_c.group(0) and ds_d.group(0)["image"].compression is None
    for i in range(len(ds_a)):
        np.testing.assert_array_equal(ds_a.read(i, window=(3, 9, 40, 50))["image"],
                                      ds_c.read(i, window=(3, 9, 40, 50))["image"])
        np.testing.assert_array_equal(ds_a.read(i, window=(3, 9, 40, 50))["image"],
                                      ds_d.read(i, window=(3, 9, 40, 50))["image"])


@pytest.mark.slow
def test_dask_local_cluster_equals_local_build(cityscapes_dir, tmp_path):
    from dask.distributed import LocalCluster

    cfg = BuildConfig(variant="both", shard_size=3)
    build_split(cityscapes_dir, tmp_path / "local", "train", cfg, jobs=1)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        r = run_cli("build", cityscapes_dir, tmp_path / "dask", "--split", "train", "--variant", "both",
                    "--shard-size", "3", "--backend", "dask", "--scheduler", cluster.scheduler_address)
    assert r.exit_code == 0, r.output
    assert_same(contents(tmp_path / "local", "train"), contents(tmp_path / "dask", "train"))
    with pytest.raises(ValueError, match="--scheduler"):
        build_split(cityscapes_dir, tmp_path / "x", "train", cfg, backend="dask")


_SLOW_BUILD = """
import sys, time
import segfix_data.shards.pipeline as b
orig = b.process_frame
def slow(*a):
    time.sleep(0.25)
    return orig(*a)
b.process_frame = slow
from cli.gt import main
main(sys.argv[1:])
"""


@pytest.mark.slow
def test_kill_9_mid_build_then_rerun_equals_uninterrupted(tmp_path):
    data = write_cityscapes(tmp_path / "cs", {"train": 12}, 48, 96)
    args = ["build", str(data), str(tmp_path / "killed"), "--split", "train", "--variant", "both",
            "--shard-size", "2", "-q"]
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_BUILD, *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    split_dir = tmp_path / "killed" / "train"
    deadline = time.time() + 60
    while not (split_dir / "shard-00001.h5").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    published = sorted(p.name for p in split_dir.glob("shard-*.h5"))
    assert 2 <= len(published) < 6 and not (split_dir / "manifest.json").exists()
    # verify says the build is incomplete (shards done / planned, how to resume) and exits non-zero
    v = run_cli("verify", tmp_path / "killed")
    assert v.exit_code == 1, v.output
    assert f"train: incomplete build: {len(published)}/6 shards done (12 frames planned)" in v.output
    assert "resume it with: the same `segfix-gt build" in v.output
    # a half-written temporary file and a damaged published shard must not survive the resume
    (split_dir / "shard-00004.h5.tmp-99999").write_bytes(b"partial")
    with open(split_dir / "shard-00000.h5", "r+b") as f:
        f.truncate(os.path.getsize(split_dir / "shard-00000.h5") // 2)
    r = subprocess.run([sys.executable, "-m", "cli.gt", *args], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    kept = len(published) - 1
    assert f"12 frames, {12 - 2 * kept} built, {2 * kept} kept from a previous run" in r.stdout
    assert sorted(p.name for p in split_dir.iterdir()) == sorted(
        ["build.json", "build.lock", "manifest.json", "plan.json"] + [f"shard-{k:05d}.h5" for k in range(6)])
    build_split(data, tmp_path / "clean", "train", BuildConfig(variant="both", shard_size=2))
    a, b = contents(tmp_path / "killed", "train"), contents(tmp_path / "clean", "train")
    assert len({s for s, _ in a}) == 12
    assert_same(a, b)


def _corrupt_dataset(root):
    """Bad files in a 7-frame train split: one per kind of problem, and two good frames."""
    gt = root / "gtFine" / "train"
    files = sorted(gt.glob("*/*_labelIds.png"))
    assert len(files) == 7
    trunc = files[0].read_bytes()
    files[0].write_bytes(trunc[: len(trunc) // 3])
    Image.fromarray(np.zeros((64, 128), np.uint8)).save(files[1], format="JPEG")
    Image.fromarray(np.zeros((64, 128, 3), np.uint8)).save(files[2])
    Image.fromarray(np.full((60, 128), 7, np.uint8)).save(files[3])
    Image.fromarray(np.full((64, 128), 40, np.uint8)).save(files[4])
    problems = ["truncated or corrupt", "not a PNG file", "mode RGB", "differs from its image",
                "ids outside the Cityscapes labelIds"]
    return files, problems


def test_bad_files_fail_policy_stops_naming_the_file(tmp_path):
    data = write_cityscapes(tmp_path / "cs", {"train": 7})
    files, problems = _corrupt_dataset(data)
    # files[0] (first in sorted order) is bad: nothing completes, the message names it
    r = run_cli("build", data, tmp_path / "out", "--split", "train", "--shard-size", "1")
    assert r.exit_code == 1
    assert f"{files[0]}: cannot decode" in r.output and "truncated or corrupt" in r.output
    assert not (tmp_path / "out" / "train" / "manifest.json").exists()
    # fix the first file by removing it: frames before the next bad one complete and stay valid
    good = write_cityscapes(tmp_path / "cs2", {"train": 7})
    files2 = sorted((good / "gtFine" / "train").glob("*/*_labelIds.png"))
    Image.fromarray(np.full((64, 128, 3), 1, np.uint8)).save(files2[4])
    with pytest.raises(BuildError, match=rf"{files2[4].name}: label has mode RGB"):
        build_split(good, tmp_path / "out2", "train", BuildConfig(shard_size=2))
    split_dir = tmp_path / "out2" / "train"
    assert sorted(p.name for p in split_dir.glob("shard-*")) == ["shard-00000.h5", "shard-00001.h5"]
    from segfix_data.shards import read_records, verify_samples

    for name in ("shard-00000.h5", "shard-00001.h5"):
        rec = read_records(split_dir / name)
        assert len(rec["samples"]) == 2
        assert verify_samples(split_dir, [dict(s, shard=name) for s in rec["samples"]]) == []


def test_bad_files_skip_policy_records_failures(tmp_path):
    data = write_cityscapes(tmp_path / "cs", {"train": 7})
    files, problems = _corrupt_dataset(data)
    img6 = sorted((data / "leftImg8bit" / "train").glob("*/*.png"))[5]
    img6.unlink()
    problems.append("image file not found")
    r = run_cli("build", data, tmp_path / "out", "--split", "train", "--on-error", "skip", "--shard-size", "3")
    assert r.exit_code == 3, r.output
    assert "7 frames, 1 built, 0 kept from a previous run, 6 failed" in r.output
    ds = ShardSet(tmp_path / "out", "train")
    assert len(ds) == 1 and ds.samples[0]["sources"]["label"] == str(files[6])
    failed = ds.manifest["failed"]
    assert len(failed) == 6
    for f, path, problem in zip(failed, list(files[:5]) + [img6], problems):
        assert f["path"] == str(path) and problem in f["error"] and str(path) in f["error"]
        assert f"failed: {path}" in r.output
    # rerun with the same command: the failed frames are tried again (still bad: same status), the
    # shard without failures is kept
    r2 = run_cli("build", data, tmp_path / "out", "--split", "train", "--on-error", "skip", "--shard-size", "3")
    assert r2.exit_code == 3, r2.output
    assert "0 built (rebuilt: 0 with changed sources, 6 failed before), 1 kept" in r2.output
    # fix one file: the next rerun builds its frame
    Image.fromarray(np.full((64, 128), 7, np.uint8)).save(files[0])
    r3 = run_cli("build", data, tmp_path / "out", "--split", "train", "--on-error", "skip", "--shard-size", "3")
    assert r3.exit_code == 3 and "5 failed" in r3.output, r3.output
    ds = ShardSet(tmp_path / "out", "train")
    assert [s["sources"]["label"] for s in ds.samples] == [str(files[0]), str(files[6])]


def test_missing_and_empty_dirs_exit_2(tmp_path):
    data = write_cityscapes(tmp_path / "cs", {"train": 1})
    r = run_cli("build", data, tmp_path / "out", "--split", "val")
    assert r.exit_code == 2 and f"{data} (gtFine/<split>): no split 'val' (splits found: train)" in r.output
    (data / "gtFine" / "empty").mkdir()
    (data / "leftImg8bit" / "empty").mkdir()
    r = run_cli("build", data, tmp_path / "out", "--split", "empty")  # an empty split is no split
    assert r.exit_code == 2 and "no split 'empty' (splits found: train)" in r.output
    with pytest.raises(LayoutError, match="no files matching"):  # the library's own check
        build_split(data, tmp_path / "out", "empty", BuildConfig())


def test_rerun_with_other_params_refuses_unless_overwrite(cityscapes_dir, tmp_path):
    out = tmp_path / "out"
    assert run_cli("build", cityscapes_dir, out, "--split", "val").exit_code == 0
    r = run_cli("build", cityscapes_dir, out, "--split", "val", "--gamma", "3")
    assert r.exit_code == 2 and "built with other parameters (" in r.output
    assert "gamma: None -> 3.0" in r.output  # (beside direction_band 15 -> 9, its 3 x gamma)
    assert "targets.gamma: 5.0 -> 3.0" in r.output and "{" not in r.output  # the one nested setting
    assert "--overwrite" in r.output
    with pytest.raises(ParamsMismatch):
        build_split(cityscapes_dir, out, "val", BuildConfig(num_directions=4))
    r = run_cli("build", cityscapes_dir, out, "--split", "val", "--gamma", "3", "--overwrite")
    assert r.exit_code == 0 and "2 built, 0 kept" in r.output
    ds = ShardSet(out, "val")
    assert ds.params["targets"]["gamma"] == 3.0
    label = read_label(ds.samples[0]["sources"]["label"], "cityscapes")
    np.testing.assert_array_equal(ds.read(0, fields="semantic/boundary")["semantic/boundary"],
                                  semantic_targets(label, gamma=3).boundary)
    r = run_cli("build", cityscapes_dir, out, "--split", "val", "--gamma", "3")
    assert r.exit_code == 0 and "0 built, 2 kept" in r.output


def test_verify_cli_detects_damage(cityscapes_dir, tmp_path):
    out = tmp_path / "out"
    assert run_cli("build", cityscapes_dir, out, "--shard-size", "2").exit_code == 0
    r = run_cli("verify", out)
    assert r.exit_code == 0 and "train: 5 samples, 0 damaged" in r.output and "val: 2 samples" in r.output
    path = out / "train" / "shard-00001.h5"
    with h5py.File(path, "r") as f:
        info = f["samples/00001/semantic/boundary_direction"].id.get_chunk_info(0)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + 8)
        fh.write(b"\xde\xad\xbe\xef")
    r = run_cli("verify", out, "--split", "train")
    assert r.exit_code == 1
    stem = ShardSet(out, "train").samples[3]["stem"]
    assert f"damaged: train/shard-00001.h5 sample 1 ({stem}): semantic/boundary_direction" in r.output
    assert "train: 5 samples, 1 damaged" in r.output
    # resume repairs it: the damaged shard is rebuilt, the others kept
    r = run_cli("build", cityscapes_dir, out, "--shard-size", "2", "--split", "train")
    assert r.exit_code == 0 and "2 built, 3 kept" in r.output
    assert run_cli("verify", out).exit_code == 0
    (out / "val" / "shard-00000.h5").unlink()
    r = run_cli("verify", out)
    assert r.exit_code == 1 and "val: 2 samples, 2 damaged" in r.output and "cannot open" in r.output
    r = run_cli("verify", tmp_path)
    assert r.exit_code == 2 and "no <split>/manifest.json" in r.output


def _save(path, arr, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, **kw)


def test_ade20k_gta5_and_folder_layouts_build(tmp_path):
    rng = np.random.default_rng(0)
    ann = rng.integers(0, 151, (2, 24, 40)).astype(np.uint8)
    ade = tmp_path / "ade" / "ADEChallengeData2016"
    for i in range(2):
        _save(ade / "annotations" / "validation" / f"ADE_val_0000000{i + 1}.png", ann[i])
        _save(ade / "images" / "validation" / f"ADE_val_0000000{i + 1}.jpg",
              rng.integers(0, 256, (24, 40, 3), dtype=np.uint8), quality=95)
    r = run_cli("build", tmp_path / "ade", tmp_path / "out_ade", "--layout", "ade20k", "--split", "validation")
    assert r.exit_code == 0, r.output
    ds = ShardSet(tmp_path / "out_ade", "validation")
    assert [s["stem"] for s in ds.samples] == ["ADE_val_00000001", "ADE_val_00000002"]
    assert ds.manifest["num_classes"] == 150
    np.testing.assert_array_equal(ds.read(1)["label"], np.where(ann[1] == 0, 255, ann[1] - 1))
    np.testing.assert_array_equal(ds.read(1)["image"], read_image(ds.samples[1]["sources"]["image"]))
    r = run_cli("build", tmp_path / "ade", tmp_path / "out_ade2", "--layout", "ade20k", "--variant", "both")
    assert r.exit_code == 2 and "needs instance ids" in r.output

    gta = tmp_path / "gta"
    for s in ("00001", "00002", "00003"):
        _save(gta / "images" / f"{s}.png", rng.integers(0, 256, (16, 20, 3), dtype=np.uint8))
    for s in ("00001", "00003", "00004"):
        _save(gta / "labels" / f"{s}.png", rng.integers(0, 34, (16, 20)).astype(np.uint8))
    r = run_cli("build", gta, tmp_path / "out_gta", "--layout", "gta5")
    assert r.exit_code == 3 and "--allow-unpaired" in r.output, r.output  # no silent loss
    assert "train: 2 frames, 2 built, 0 kept from a previous run, 0 failed, 2 unpaired" in r.output
    r = run_cli("build", gta, tmp_path / "out_gta", "--layout", "gta5", "--allow-unpaired")
    assert r.exit_code == 0, r.output
    assert f"unpaired: {gta / 'images' / '00002.png'}: image without a label" in r.output
    ds = ShardSet(tmp_path / "out_gta", "train")
    assert [u["stem"] for u in ds.manifest["unpaired"]] == ["00002", "00004"]

    (tmp_path / "map.json").write_text(json.dumps({str(k): (k % 3 if k < 30 else 255) for k in range(34)}))
    r = run_cli("build", gta, tmp_path / "out_folder", "--layout", "folder", "--class-map", tmp_path / "map.json",
                "--image-glob", "images/*.png", "--label-glob", "labels/*.png", "--split", "all",
                "--allow-unpaired")
    assert r.exit_code == 0, r.output
    ds = ShardSet(tmp_path / "out_folder", "all")
    raw = np.asarray(Image.open(ds.samples[0]["sources"]["label"])).astype(np.int64)
    np.testing.assert_array_equal(ds.read(0)["label"], np.where(raw < 30, raw % 3, 255))
    r = run_cli("build", gta, tmp_path / "out_f2", "--layout", "folder")
    assert r.exit_code == 2 and "needs --image-glob" in r.output
    # a class map given to a layout with its own id table is refused, not silently ignored
    r = run_cli("build", gta, tmp_path / "out_g2", "--layout", "gta5", "--class-map", tmp_path / "map.json")
    assert r.exit_code == 2 and "--class-map applies to the folder layout only" in r.output, r.output
    assert "Traceback" not in r.output and not (tmp_path / "out_g2").exists()


def test_concurrent_build_into_the_same_split_refuses(cityscapes_dir, tmp_path):
    import fcntl

    split_dir = tmp_path / "out" / "val"
    split_dir.mkdir(parents=True)
    with open(split_dir / "build.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(SplitBusy, match="another build is writing this split"):  # not a parameter mismatch
            build_split(cityscapes_dir, tmp_path / "out", "val", BuildConfig())
    assert build_split(cityscapes_dir, tmp_path / "out", "val", BuildConfig()).built == 2
