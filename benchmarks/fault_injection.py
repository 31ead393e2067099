"""Fault injection: kill builds, damage stored bytes and checkpoints, feed bad input; count what is caught.

Everything happens in one temporary directory (removed at the end); every subprocess runs in its
own session and is killed at the end if still alive. Bounded in time: ``--quick`` (used by the
tests) runs in well under a minute on 2 cores, the default in a few minutes.

Figures printed (and written to ``benchmarks/results/fault_injection.json``):

* **kills**: ``kill -9`` of a ``segfix-gt build --jobs 2`` at random moments, then the same
  command again: how many runs resumed to a complete split, samples lost or different from an
  uninterrupted build (array contents), processes left behind after the kill, ``verify`` after
  the kill saying "incomplete" with a non-zero exit;
* **damaged bytes**: one byte flipped at a random place inside a random stored chunk (any
  array, raw image tiles included): detected by ``segfix-gt verify``, and on read (reading the
  sample raises :class:`ShardReadError` naming the shard file);
* **checkpoints**: a bit flipped at a random place / a truncated file / a crafted pickle:
  refused on load (and whether the pickle's code ran);
* **bad input kinds**: each kind of bad file or crafted manifest, handled with a message naming
  the file (or refused) rather than passing silently or with a traceback.

Usage: ``python benchmarks/fault_injection.py [--quick] [--seed N]``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import h5py  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks._common import machine_metadata, print_metadata, write_json  # noqa: E402
from segfix_data import shards  # noqa: E402
from segfix_data.shards import BuildConfig, ShardSet, build_split, verify_split  # noqa: E402
from segfix_data.shards.manifest import CHECKSUM_KEY, manifest_checksum  # noqa: E402
from segfix_data.synthetic import write_example_dataset  # noqa: E402
from tests.support.damage import flip_chunk_bytes  # noqa: E402


def session_pids(sid: int) -> list[int]:
    """Live (non-zombie) processes of session ``sid`` (read from /proc; Linux)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open(f"/proc/{d}/stat").read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[3]) == sid and fields[0] != "Z":
                out.append(int(d))
    return out


def _cli(*args, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "cli.gt", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, **kw)


def _arrays(out: Path, split: str = "train") -> dict:
    ds = ShardSet(out, split)
    fields = [k for k in ds.samples[0]["checksums"]]
    got = {}
    for i, s in enumerate(ds.samples):
        g = ds.group(i)
        got[s["stem"]] = {k: g[k][()] for k in fields}
    ds.close()
    return got


# --------------------------------------------------------------------------------------------


def kills(tmp: Path, data: Path, clean: Path, n: int, rng: random.Random) -> dict:
    ref = _arrays(clean)
    n_shards = (len(ref) + 1) // 2
    res = {"kills": 0, "resumed_complete": 0, "samples_lost": 0, "samples_different": 0,
           "processes_left_after_kill": 0, "verify_said_incomplete": 0, "finished_before_kill": 0}
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for k in range(n):
        out = tmp / f"killed{k}"
        args = ["build", data, out, "--split", "train", "--jobs", "2", "--shard-size", "2", "-q"]
        proc = subprocess.Popen([sys.executable, "-m", "cli.gt", *map(str, args)], cwd=REPO, env=env,
                                start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # kill at a random point of the build: just after it starts, or once shard t is published
            t = rng.randrange(-1, max(0, n_shards - 2))
            mark = out / "train" / ("plan.json" if t < 0 else f"shard-{t:05d}.h5")
            deadline = time.time() + 120
            while time.time() < deadline and proc.poll() is None and not mark.exists():
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.05))
            if proc.poll() is not None:
                res["finished_before_kill"] += 1
                continue
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            if (out / "train" / "manifest.json").exists():  # it completed just before the kill
                res["finished_before_kill"] += 1
                continue
            res["kills"] += 1
            deadline = time.time() + 30
            while session_pids(proc.pid) and time.time() < deadline:
                time.sleep(0.1)
            res["processes_left_after_kill"] += len(session_pids(proc.pid))
        finally:
            for pid in session_pids(proc.pid):
                os.kill(pid, signal.SIGKILL)
        v = _cli("verify", out, "-q")
        res["verify_said_incomplete"] += int(v.returncode != 0 and "incomplete build" in v.stdout)
        r = _cli(*args)
        if r.returncode != 0:
            continue
        res["resumed_complete"] += 1
        got = _arrays(out)
        res["samples_lost"] += len(set(ref) - set(got))
        res["samples_different"] += sum(1 for s in ref if s in got and any(
            not np.array_equal(ref[s][f], got[s][f]) for f in ref[s]))
    return res


def damage(tmp: Path, clean: Path, n: int, rng: random.Random) -> dict:
    res = {"trials": 0, "detected_by_verify": 0, "detected_on_read": 0, "read_error_names_file": 0,
           "raw_image_tile_trials": 0, "raw_image_tile_detected_on_read": 0}
    for k in range(n):
        out = tmp / f"damaged{k}"
        shutil.copytree(clean, out)
        ds = ShardSet(out, "train")
        i = rng.randrange(len(ds))
        s = ds.samples[i]
        ds.close()
        path = out / "train" / s["shard"]
        name = rng.choice(sorted(s["checksums"]))
        with h5py.File(path, "r") as f:
            d = f[f"samples/{s['index']:05d}/{name}"]
            info = d.id.get_chunk_info(rng.randrange(d.id.get_num_chunks()))
            raw_image = name == "image" and d.compression is None
        with open(path, "r+b") as fh:
            pos = info.byte_offset + rng.randrange(info.size)
            fh.seek(pos)
            b = fh.read(1)
            fh.seek(pos)
            fh.write(bytes([b[0] ^ (1 << rng.randrange(8))]))
        res["trials"] += 1
        res["raw_image_tile_trials"] += raw_image
        _, damaged = verify_split(out, "train")
        res["detected_by_verify"] += int(any(d["index"] == s["index"] and d["shard"] == s["shard"] for d in damaged))
        ds = ShardSet(out, "train")
        try:
            ds.read(i, fields=("image", "label", "semantic/boundary"))  # every stored array of the sample
        except shards.ShardReadError as e:
            res["detected_on_read"] += 1
            res["read_error_names_file"] += int(str(path) in str(e) and "segfix-gt verify" in str(e))
            res["raw_image_tile_detected_on_read"] += raw_image
        finally:
            ds.close()
        shutil.rmtree(out)
    return res


def checkpoints(tmp: Path, n: int, rng: random.Random) -> dict:
    import torch

    from segfix_train import checkpoint as ckpt

    res = {"bit_flips": 0, "bit_flips_refused": 0, "truncations": 0, "truncations_refused": 0,
           "crafted_pickles": 0, "crafted_refused": 0, "crafted_code_ran": 0}
    run = str(tmp / "run")
    path = ckpt.checkpoint_path(run, 1)
    ckpt.save_checkpoint(path, {"config": {}, "model": {"w": torch.randn(64, 64)}, "rng": [ckpt.rng_state()]})
    good = open(path, "rb").read()
    for _ in range(n):
        bad = bytearray(good)
        bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
        open(path, "wb").write(bad)
        res["bit_flips"] += 1
        try:
            ckpt.load_checkpoint(path)
        except ckpt.CheckpointError:
            res["bit_flips_refused"] += 1
        open(path, "wb").write(good[: rng.randrange(len(good))])
        res["truncations"] += 1
        try:
            ckpt.load_checkpoint(path)
        except ckpt.CheckpointError:
            res["truncations_refused"] += 1
    marker = tmp / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"config": {}, "model": {}, "x": Evil()}, path)
    with open(path + ckpt.DIGEST_SUFFIX, "w") as f:  # the attacker writes a valid digest too
        f.write(ckpt.file_sha256(path) + "\n")
    res["crafted_pickles"] += 1
    try:
        ckpt.load_checkpoint(path)
    except ckpt.CheckpointError:
        res["crafted_refused"] += 1
    res["crafted_code_ran"] = int(marker.exists())
    return res


def bad_inputs(tmp: Path) -> dict:
    """Each kind of bad input: handled (an error naming the file, or a refusal) or not."""
    from PIL import Image

    from segfix_data.datasets import FrameError, LayoutError, find_frames, read_image, read_label

    data = tmp / "bad"
    write_example_dataset(data, splits={"train": 4}, height=32, width=64)
    labels = sorted((data / "gtFine" / "train").glob("*/*_labelIds.png"))
    images = sorted((data / "leftImg8bit" / "train").glob("*/*.png"))
    lab = lambda p: (lambda: read_label(str(p), "cityscapes"))  # noqa: E731
    kinds = {}
    p = tmp / "trunc.png"
    p.write_bytes(labels[0].read_bytes()[:60])
    kinds["truncated PNG"] = _raises(lab(p), FrameError, str(p))
    p = tmp / "jpeg.png"
    Image.fromarray(np.zeros((32, 64), np.uint8)).save(p, format="JPEG")
    kinds["JPEG as label"] = _raises(lab(p), FrameError, "not a PNG")
    p = tmp / "rgb.png"
    Image.fromarray(np.zeros((32, 64, 3), np.uint8)).save(p)
    kinds["RGB label"] = _raises(lab(p), FrameError, "mode RGB")
    p = tmp / "onebit.png"
    Image.fromarray(np.zeros((32, 64), bool)).save(p)
    kinds["1-bit label"] = _raises(lab(p), FrameError, "1-bit")
    p = tmp / "ids.png"
    Image.fromarray(np.full((32, 64), 99, np.uint8)).save(p)
    kinds["ids outside the table"] = _raises(lab(p), FrameError, "ids outside")
    p = tmp / "dir.png"
    p.mkdir()
    kinds["directory in place of a file"] = _raises(lab(p), FrameError, "is a directory")
    p = tmp / "loop.png"
    os.symlink(p, p)
    kinds["symbolic link loop"] = _raises(lab(p), FrameError, "symbolic link loop")
    p = tmp / "missing.png"
    kinds["missing image"] = _raises(lambda: read_image(str(p)), FrameError, "not found")
    images[0].unlink()
    images[1].rename(images[1].with_name("x_" + images[1].name))
    frames, unpaired = find_frames("cityscapes", data, "train")
    kinds["image without a label (unpaired)"] = any(u["problem"] == "image without a label" for u in unpaired)
    dup = data / "gtFine" / "train" / "zzz"
    dup.mkdir()
    shutil.copy(labels[2], dup / labels[2].name)
    kinds["duplicate frame key"] = _raises(lambda: find_frames("cityscapes", data, "train"), LayoutError,
                                          "two frames with the key")
    shutil.rmtree(dup)
    # crafted manifests and shard files
    out = tmp / "bad_out"
    write_example_dataset(tmp / "ok", splits={"train": 2}, height=32, width=64)
    build_split(tmp / "ok", out, "train", BuildConfig(tile=16))
    mpath = out / "train" / "manifest.json"
    good = mpath.read_text()

    def with_manifest(edit, check) -> bool:
        m = json.loads(good)
        edit(m)
        m[CHECKSUM_KEY] = manifest_checksum(m)  # as a hostile user would: the refusal under test stops it
        mpath.write_text(json.dumps(m))
        try:
            return check()
        finally:
            mpath.write_text(good)

    refused = lambda: _raises(lambda: ShardSet(out, "train"), shards.ManifestError, "refusing")  # noqa: E731
    kinds["shard path with .."] = with_manifest(lambda m: m["samples"][0].update(shard="../../x.h5"), refused)
    kinds["absolute shard path"] = with_manifest(lambda m: m["samples"][0].update(shard="/etc/passwd"), refused)
    os.symlink("/etc/passwd", out / "train" / "shard-09999.h5")
    kinds["shard symlink leaving OUT_DIR"] = with_manifest(lambda m: m["samples"][0].update(shard="shard-09999.h5"),
                                                           refused)
    (out / "train" / "shard-09999.h5").unlink()
    kinds["stem leaving the export folder"] = with_manifest(lambda m: m["samples"][0].update(stem="../../x"),
                                                            lambda: _raises(lambda: ShardSet(out, "train"),
                                                                           shards.ManifestError, "plain file name"))
    kinds["edited sample index"] = with_manifest(
        lambda m: m["samples"][0].update(index=1),
        lambda: _raises(lambda: ShardSet(out, "train").read(0, fields="label"), shards.ManifestError, "edited"))
    mpath.write_text(good[:-30])
    kinds["invalid manifest JSON"] = _raises(lambda: ShardSet(out, "train"), shards.ManifestError, str(mpath))
    mpath.write_text(good)
    shard = out / "train" / "shard-00000.h5"
    secret = tmp / "secret.bin"
    secret.write_bytes(b"root:x:0:0:" * 400)
    with h5py.File(shard, "r+") as f:
        g = f["samples/00000"]
        shape = g["label"].shape
        del g["label"]
        g.create_dataset("label", shape=shape, dtype=np.uint8, external=[(str(secret), 0, shape[0] * shape[1])])
    kinds["HDF5 external storage"] = _raises(lambda: ShardSet(out, "train").read(0, fields="label"),
                                            shards.ManifestError, "external storage")
    with h5py.File(shard, "r+") as f:
        del f["samples/00000/label"]
        f["samples/00000/label"] = h5py.SoftLink("/samples/00001/label")
    kinds["HDF5 soft link"] = _raises(lambda: ShardSet(out, "train").read(0, fields="label"),
                                     shards.ManifestError, "SoftLink")
    return {"kinds": len(kinds), "handled": sum(kinds.values()), "by_kind": kinds}


# --------------------------------------------------------------------------------------------
# Stale shards, records, manifest edits, declared sizes, dtypes (docs/shards.md, "Reading")


def _peak_bytes(fn):
    """(result of fn(), peak bytes traced by tracemalloc while it ran: numpy and h5py reads count)."""
    import tracemalloc

    tracemalloc.start()
    try:
        return fn(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def stale_shards_case(tmp: Path) -> bool:
    """Point 1: build (gamma 5), delete build.json, rebuild with --gamma 3: every shard rebuilt."""
    from segfix_data.shards import read_records

    data, out = tmp / "p1", tmp / "p1_out"
    write_example_dataset(data, splits={"train": 3}, height=32, width=64)
    build_split(data, out, "train", BuildConfig(shard_size=1, tile=16))
    (out / "train" / "build.json").unlink()
    res = build_split(data, out, "train", BuildConfig(shard_size=1, tile=16, gamma=3))
    gammas = {read_records(p)["params"]["targets"]["gamma"] for p in (out / "train").glob("shard-*.h5")}
    return (res.built, res.kept) == (3, 0) and gammas == {3} and verify_split(out, "train")[1] == []


def _small_split(tmp: Path, name: str) -> Path:
    data, out = tmp / f"{name}_data", tmp / name
    write_example_dataset(data, splits={"train": 2}, height=32, width=64)
    build_split(data, out, "train", BuildConfig(shard_size=2, tile=16))
    return out


def _edit(out: Path, edit, recompute: bool) -> None:
    path = out / "train" / "manifest.json"
    m = json.loads(path.read_text())
    edit(m)
    if recompute:
        m[CHECKSUM_KEY] = manifest_checksum(m)
    path.write_text(json.dumps(m))


def _refused(fn, text: str) -> bool:
    try:
        fn()
    except shards.ManifestError as exc:
        return text in str(exc)


# Fault rows: one function per fault, registered in ROWS; each returns (cases, handled).

ROWS: dict = {}


def row(name: str):
    """Register a fault row: ``fn(tmp) -> (cases, handled)``."""
    def deco(fn):
        ROWS[name] = fn
        return fn
    return deco


def _raises(fn, exc, text: str = "") -> bool:
    try:
        fn()
    except exc as e:
        return text in str(e)
    except Exception:
        return False
    return False


def integrity_cases(tmp: Path) -> dict:
    """Each case handled (refused or reported, naming the file)."""
    kinds = {"stale shards, build.json deleted, rebuilt with --gamma 3": stale_shards_case(tmp)}
    out = _small_split(tmp, "p5")
    flip_chunk_bytes(out / "train" / "shard-00000.h5", "records", mask=1)
    damaged = verify_split(out, "train")[1]
    kinds["flipped byte in the records dataset, found by verify"] = (
        len(damaged) == 2 and all(d["problems"][0].startswith("records:") for d in damaged))
    out = _small_split(tmp, "p6")
    mpath = str(out / "train" / "manifest.json")
    good = (out / "train" / "manifest.json").read_text()
    ignore251 = lambda m: m["samples"][0]["distance"]["semantic"].update(ignore_index=251)  # noqa: E731
    for what, edit, recompute in (
            ("ignore_index 255 -> 251", ignore251, False),
            ("ignore_index 255 -> 251, checksum recomputed", ignore251, True),
            ("num_directions 8 -> 16, checksum recomputed", lambda m: m["params"].update(num_directions=16), True)):
        _edit(out, edit, recompute)
        kinds[f"manifest {what}: reader refuses"] = _refused(
            lambda: ShardSet(out, "train").read(0, fields="semantic/distance"), mpath)
        kinds[f"manifest {what}: verify reports"] = _verify_flags(out)
        (out / "train" / "manifest.json").write_text(good)
    out = _small_split(tmp, "p7")
    with h5py.File(out / "train" / "shard-00000.h5", "r+") as f:
        del f["samples/00000/label"]
        f.create_dataset("samples/00000/label", shape=(100_000, 100_000), dtype=np.uint8,
                         chunks=(1024, 1024), compression="gzip", fletcher32=True)
    damaged, peak = _peak_bytes(lambda: verify_split(out, "train")[1])
    kinds["label declared 100000x100000: verify refuses, < 64 MiB"] = (
        peak < 64 << 20 and any("label: refused" in p for d in damaged for p in d["problems"]))
    kinds["label declared 100000x100000: reader refuses"] = _refused(
        lambda: ShardSet(out, "train").read(0, fields="label"), "shard-00000.h5")
    kinds["zlib-bomb .mat offsets (16 MB declared, 16 KB file): refused, < 2 MB"] = _mat_bomb_refused(tmp)
    out = _small_split(tmp, "p8")
    with h5py.File(out / "train" / "shard-00000.h5", "r+") as f:
        img = f["samples/00000/image"][()].astype(np.float32)
        del f["samples/00000/image"]
        f.create_dataset("samples/00000/image", data=img, chunks=(16, 16, 3), fletcher32=True)
        rec = json.loads(f["records"][()].tobytes())
        rec["samples"][0]["checksums"]["image"] = shards.codec.checksum(img)
        del f["records"]
        shards.writer.write_bytes(f, "records", np.frombuffer(json.dumps(rec).encode(), np.uint8))
    _edit(out, lambda m: m["samples"][0]["checksums"].update(image=shards.codec.checksum(img)), True)
    kinds["float32 image, checksums recomputed: reader refuses"] = _refused(
        lambda: ShardSet(out, "train").read(0, fields="image"), "float32")
    kinds["float32 image, checksums recomputed: verify reports"] = _verify_flags(out)
    return {"kinds": len(kinds), "handled": sum(kinds.values()), "by_kind": kinds}


def _verify_flags(out: Path) -> bool:
    """`segfix-gt verify` exits 1 on ``out`` (a damaged sample or an unreadable manifest)."""
    r = _cli("verify", str(out), "-q")
    return r.returncode == 1 and "Traceback" not in r.stderr


def _mat_bomb_refused(tmp: Path) -> bool:
    import scipy.io

    from segfix_data.interop import load_openseg_offsets_mat

    path = tmp / "bomb.mat"
    scipy.io.savemat(path, {"mat": np.zeros((2000, 2000, 2), np.int16)}, do_compression=True)

    def load():
        try:
            load_openseg_offsets_mat(path, expect_shape=(64, 64))
        except ValueError as exc:
            return str(path) in str(exc)
        return False
    ok, peak = _peak_bytes(load)
    return ok and peak < 2_000_000


@row("symlink loops (ln -s . l1; ln -s . l2) in a label dir: walks end")
def row_symlink_loops(tmp: Path) -> tuple[int, int]:
    d = tmp / "loops"
    write_example_dataset(d, splits={"train": 2}, height=32, width=64)
    city = next((d / "gtFine" / "train").iterdir())
    os.symlink(".", city / "l1")
    os.symlink(".", city / "l2")
    code = ("import sys; from segfix_data.datasets import find_frames\n"
            f"f, u = find_frames('cityscapes', {str(d)!r}, 'train')\n"
            f"g, v = find_frames('folder', {str(d)!r}, 'train', image_glob='leftImg8bit/**/*.png', "
            "label_glob='gtFine/**/*_labelIds.png', img_suffix='_leftImg8bit.png', "
            "seg_suffix='_gtFine_labelIds.png')\nprint(len(f), len(g))\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    try:
        r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=120)
        ok = r.returncode == 0 and r.stdout.split() == ["2", "2"]
    except subprocess.TimeoutExpired:
        ok = False
    return 1, int(ok)


@row("PNG bomb 30000x30000 (image, label, refine, eval readers): refused before decoding")
def row_png_bomb(tmp: Path) -> tuple[int, int]:
    from segfix_data.datasets import read_image, read_label
    from segfix_data.datasets.pixels import ImageTooLarge
    from segfix_data.metrics.directory import read_ids
    from segfix_data.refine.directory import read_label_file
    from tests.support.bombs import write_png_bomb

    rgb, grey = write_png_bomb(tmp / "bomb_rgb.png", colour=2), write_png_bomb(tmp / "bomb_grey.png", colour=0)
    calls = [lambda: read_image(str(rgb)), lambda: read_label(str(grey), "mmseg"),
             lambda: read_label_file(grey), lambda: read_ids(grey)]
    return len(calls), sum(_raises(c, ImageTooLarge, "--max-image-pixels") for c in calls)


@row("train into a non-empty run dir / a second trainer on it: refused")
def row_run_dir(tmp: Path) -> tuple[int, int]:
    from segfix_train.rundir import RunDirError, claim_run_dir

    run = tmp / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "ckpt_00000004.pt").write_bytes(b"old")

    def claim(**kw):
        with claim_run_dir(str(run), echo=lambda s: None, **kw):
            pass

    def nested():
        with claim_run_dir(str(run), resume=True, echo=lambda s: None):
            claim(resume=True)

    cases = [_raises(lambda: claim(resume=False), RunDirError, "--overwrite"),
             _raises(nested, RunDirError, "another segfix train")]
    claim(resume=False, overwrite=True)
    cases.append(not (run / "checkpoints" / "ckpt_00000004.pt").exists())
    return len(cases), sum(cases)


def _die(frame, config, class_map=None):
    os.kill(os.getpid(), signal.SIGKILL)


@row("disk full / EFBIG (shard, checkpoint), killed worker, damaged build.json, missing shard: one line")
def row_messages(tmp: Path) -> tuple[int, int]:
    import errno

    import torch

    from segfix_data.shards import pipeline
    from segfix_data.shards import writer as store
    from segfix_train.checkpoint import save_checkpoint

    d = tmp / "msg"
    write_example_dataset(d, splits={"train": 2}, height=32, width=64)
    cases = []
    real_add, real_save, real_pf = store.ShardWriter.add_sample, torch.save, pipeline.process_frame
    for exc in (OSError(errno.ENOSPC, "No space left on device"), OSError(errno.EFBIG, "File too large")):
        def fail(*a, _e=exc, **k):
            raise _e
        store.ShardWriter.add_sample = fail
        try:
            cases.append(_raises(lambda: build_split(d, tmp / "msg_out", "train", BuildConfig(tile=16)),
                                 shards.BuildError, "shard-00000.h5: cannot write: "))
        finally:
            store.ShardWriter.add_sample = real_add
        torch.save = fail
        try:
            cases.append(_raises(lambda: save_checkpoint(str(tmp / "ck" / "ckpt_00000001.pt"), {}), OSError,
                                 "ckpt_00000001.pt: cannot write the checkpoint"))
        finally:
            torch.save = real_save
    pipeline.process_frame = _die
    try:
        cases.append(_raises(lambda: build_split(d, tmp / "msg_out2", "train", BuildConfig(tile=16), jobs=2),
                             shards.BuildError, "worker process died"))
    finally:
        pipeline.process_frame = real_pf
    out = tmp / "msg_out3"
    build_split(d, out, "train", BuildConfig(tile=16))
    (out / "train" / "build.json").write_text("{")
    cases.append(_raises(lambda: build_split(d, out, "train", BuildConfig(tile=16)), Exception,
                         str(out / "train" / "build.json")))
    try:
        build_split(d, out, "train", BuildConfig(tile=16), overwrite=True)
        cases.append(True)
    except Exception:
        cases.append(False)
    (out / "train" / "shard-00000.h5").unlink()  # named as missing, not as a failed checksum
    cases.append(_raises(lambda: ShardSet(out, "train").read(0, fields="label"), shards.ShardReadError,
                         "shard file missing"))
    return len(cases), sum(cases)


@row("source edited with same size and mtime (touch -r): rebuilt with --check-content")
def row_same_size_edit(tmp: Path) -> tuple[int, int]:
    from PIL import Image

    d = tmp / "edit"
    write_example_dataset(d, splits={"train": 2}, height=32, width=64)
    label = sorted((d / "gtFine" / "train").glob("*/*_labelIds.png"))[0]
    ids = np.asarray(Image.open(label))
    Image.fromarray(ids).save(label, compress_level=0)
    out = tmp / "edit_out"
    cfg = BuildConfig(tile=16, shard_size=1)
    build_split(d, out, "train", cfg)
    st = os.stat(label)
    vals = np.unique(ids)
    Image.fromarray(np.where(ids == vals[0], vals[-1], ids).astype(np.uint8)).save(label, compress_level=0)
    os.utime(label, ns=(st.st_atime_ns, st.st_mtime_ns))
    default = build_split(d, out, "train", cfg)
    checked = build_split(d, out, "train", cfg, check_content=True)
    # the default is expected to miss it (documented); the row counts --check-content
    return 1, int(default.built == 0 and checked.built == 1)


@row("refine: label-map link / mask leaving PRED_DIR: refused, nothing written")
def row_refine_confinement(tmp: Path) -> tuple[int, int]:
    from PIL import Image

    from segfix_data.refine.directory import refine_directory
    from segfix_data.refine.offsets import write_offsets

    key = "frankfurt_000000_000294"
    off, cases = tmp / "r_off", []
    write_offsets(off / f"{key}_leftImg8bit.npz", np.zeros((8, 8), np.uint8), np.full((8, 8), 255, np.uint8), 8)
    for kind in ("map link", "mask"):
        pred, out = tmp / f"r_pred_{kind[:3]}", tmp / f"r_out_{kind[:3]}"
        pred.mkdir()
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(pred / f"{key}_a.png")
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp / "outside.png")
        if kind == "map link":
            os.symlink(tmp / "outside.png", pred / f"{key}_z.png")
        else:
            (pred / f"{key}_pred.txt").write_text("../outside.png 26 0.9\n")
        refused = _raises(lambda: refine_directory(pred, out, off), ValueError, "outside PRED_DIR")
        cases.append(refused and not (out.exists() and any(out.rglob("*"))))
    return len(cases), sum(cases)


def fault_rows(tmp: Path) -> list[dict]:
    """Run every registered row: ``[{"row", "cases", "handled"}]``."""
    out = []
    for name, fn in ROWS.items():
        sub = tmp / f"row{len(out)}"
        sub.mkdir()
        try:
            cases, handled = fn(sub)
        except Exception as e:  # a row that crashes counts as not handled
            cases, handled = 1, 0
            name = f"{name} (crashed: {type(e).__name__}: {str(e)[:80]})"
        out.append({"row": name, "cases": cases, "handled": handled})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer trials (for the tests)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="JSON path (default benchmarks/results/fault_injection.json)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    meta = machine_metadata()
    print_metadata(meta)
    n_kill, n_damage, n_ckpt, frames = (1, 6, 5, 6) if args.quick else (10, 60, 40, 24)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="segfix-faults-") as tmp:
        tmp = Path(tmp)
        data = tmp / "cs"
        write_example_dataset(data, splits={"train": frames}, height=128, width=256)
        clean = tmp / "clean"
        build_split(data, clean, "train", BuildConfig(shard_size=2, tile=32))
        res = {"kills": kills(tmp, data, clean, n_kill, rng),
               "damage": damage(tmp, clean, n_damage, rng),
               "checkpoints": checkpoints(tmp, n_ckpt, rng),
               "bad_inputs": bad_inputs(tmp),
               "integrity": integrity_cases(tmp), "rows": fault_rows(tmp)}
    res["seconds"] = time.perf_counter() - t0
    k, d, c, b = res["kills"], res["damage"], res["checkpoints"], res["bad_inputs"]
    print(f"\nkills (kill -9 of `segfix-gt build --jobs 2`, {frames} frames): {k['kills']} kills, "
          f"{k['resumed_complete']} resumed to a complete split, {k['samples_lost']} samples lost, "
          f"{k['samples_different']} different from an uninterrupted build, "
          f"{k['processes_left_after_kill']} processes left behind, verify said incomplete "
          f"{k['verify_said_incomplete']}/{k['kills']}")
    print(f"damaged bytes (1 flipped bit in a random stored chunk): {d['trials']} trials, detected by verify "
          f"{d['detected_by_verify']}/{d['trials']}, on read {d['detected_on_read']}/{d['trials']} (error names "
          f"the shard file: {d['read_error_names_file']}); raw image tiles {d['raw_image_tile_detected_on_read']}/"
          f"{d['raw_image_tile_trials']} on read")
    print(f"checkpoints: bit flips refused {c['bit_flips_refused']}/{c['bit_flips']}, truncations refused "
          f"{c['truncations_refused']}/{c['truncations']}, crafted pickles refused {c['crafted_refused']}/"
          f"{c['crafted_pickles']} (code ran: {c['crafted_code_ran']})")
    print(f"bad input kinds handled: {b['handled']}/{b['kinds']}")
    for kind, ok in b["by_kind"].items():
        print(f"  {'ok ' if ok else 'NOT'} {kind}")
    g = res["integrity"]
    print(f"stale shards, records, manifest edits, declared sizes, dtypes: "
          f"{g['handled']}/{g['kinds']} handled")
    for kind, ok in g["by_kind"].items():
        print(f"  {'ok ' if ok else 'NOT'} {kind}")
    print("\nother faults (cases handled / cases):")
    for r in res["rows"]:
        print(f"  {'ok ' if r['handled'] == r['cases'] else 'NOT'} {r['handled']}/{r['cases']}  {r['row']}")
    print(f"({res['seconds']:.0f} s)")
    path = write_json("fault_injection", path=args.out,
                      payload={"benchmark": "fault_injection", "quick": args.quick, "seed": args.seed,
                               "machine": meta, "results": res})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
