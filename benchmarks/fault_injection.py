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
  the file (or refused) rather than passing silently or with a traceback;
* **hostile or careless input**: offsets files declaring more than they hold, damaged ``.npy``
  predictions, malformed offsets scalars, outputs that would mix two runs (a second refine into a
  used OUT_DIR, ``kill -9`` while publishing), a label swapped for a link during a refine, build
  sources that are FIFOs or ``/dev/zero``, frame names the reader refuses, predictions in the other
  id space: each the real command in its own process, handled when it ends with one line naming
  the file (and the expected exit status); a bomb case also needs its peak RSS within 2x of a
  normal refine of the same frame, printed as a ratio. ``--hostile-repo DIR`` runs the same cases
  against another checkout (an earlier version) to print its figures; ``--hostile-only`` runs just
  this group.
* **training and prediction rows** (``benchmarks/fault_rows_train.py``): crafted model specs (with
  the peak memory of each refused ``segfix predict`` over a normal one's, at most 2x), non-finite
  weights, offsets directories of another run, user mistakes in settings, kills inside
  ``--keep-best``'s save and inside an export.

Usage: ``python benchmarks/fault_injection.py [--quick] [--seed N] [--hostile-only] [--hostile-repo DIR]``.
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
from benchmarks.fault_rows_train import print_rows, train_predict_rows  # noqa: E402
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
    # tagged as a training checkpoint, so that only the damage can make a load fail
    ckpt.save_checkpoint(path, {"format": ckpt.TRAIN_FORMAT, "config": {}, "model": {"w": torch.randn(64, 64)},
                                "rng": [ckpt.rng_state()]})
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

    torch.save({"format": ckpt.TRAIN_FORMAT, "config": {}, "model": {}, "x": Evil()}, path)
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



# ============================================================================================
# Hostile or careless input: declared sizes of offsets files, outputs that mix two runs, reading
# the file that was checked, one line for a user's mistake, the build's special files and frame
# names, the id space. Every case runs the real command in its own process (``run_measured``: its
# peak RSS from ``getrusage(RUSAGE_CHILDREN)`` in a small launcher); a case is handled when the command ends with the expected exit status
# and one line naming the file, and a bomb case only if its peak stays within 2x of a normal
# refine of the same frame (run first, in the same way).

#: The frame of the bomb cases (H, W) and the limit on a bomb's peak RSS over a normal refine's.
BOMB_FRAME = (64, 128)
PEAK_RATIO_LIMIT = 2.0
BOMB_KEY = "frankfurt_000000_000294"


#: Runs ``argv[2:]`` as its child and writes that child's peak RSS (KiB) to ``argv[1]``. A launcher
#: is needed because Linux carries a process's RSS high-water mark across ``exec``: a command
#: forked from this (large) script would report at least this script's RSS; forked from the small
#: launcher, it reports its own.
_LAUNCHER = ("import resource, subprocess, sys\n"
             "rc = subprocess.call(sys.argv[2:])\n"
             "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
             "sys.exit(rc if rc >= 0 else 128 - rc)\n")


def run_measured(args, repo: Path, *, module: str | None = "cli.main", timeout: float = 120) -> dict:
    """Run ``python -m module args`` (``module`` None: ``python args``) with ``repo`` first on the
    path, in its own session, through :data:`_LAUNCHER`. Returns ``rc``, ``stdout``, ``stderr``,
    ``peak_mib`` (the command's maximum resident set, ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` in
    the launcher) and ``timed_out`` (killed after ``timeout`` seconds)."""
    env = dict(os.environ, PYTHONPATH=str(repo), PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable] + (["-m", module] if module else []) + [str(a) for a in args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        proc = subprocess.Popen([sys.executable, "-c", _LAUNCHER, rss.name, *cmd], cwd=repo, env=env, stdout=out,
                                stderr=err, start_new_session=True)
        timed_out = False
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            timed_out = True
        out.seek(0)
        err.seek(0)
        peak = rss.read().strip()
        return {"rc": proc.returncode, "stdout": out.read().decode(errors="replace"),
                "stderr": err.read().decode(errors="replace"), "peak_mib": int(peak) / 1024 if peak else None,
                "timed_out": timed_out}


def _one_line(r: dict, *names: str) -> bool:
    """One ``error:`` line on stderr naming every one of ``names``, no traceback, no bug report."""
    lines = [s for s in r["stderr"].splitlines() if s.strip()]
    return (len(lines) == 1 and lines[0].startswith("error: ") and all(n in lines[0] for n in names)
            and "internal error" not in r["stderr"])


def _row(case: str, r: dict, handled: bool, base_peak: float | None = None) -> dict:
    lines = [s for s in (r["stderr"] + r["stdout"]).splitlines() if s.strip()]
    peak = r["peak_mib"]
    row = {"case": case, "rc": r["rc"], "timed_out": r["timed_out"], "handled": bool(handled),
           "peak_mib": None if peak is None else round(peak, 1), "said": (lines[-1] if lines else "")[:300]}
    if base_peak and peak is not None:
        row["peak_ratio"] = round(peak / base_peak, 2)
    return row


def _within(r: dict, base_peak: float) -> bool:
    """The command's peak RSS is known and within :data:`PEAK_RATIO_LIMIT` of ``base_peak``."""
    return r["peak_mib"] is not None and r["peak_mib"] <= PEAK_RATIO_LIMIT * base_peak


def _bomb_frame_dirs(root: Path, offsets_name: str | None = None, instance: bool = False) -> tuple[Path, Path]:
    """(PRED_DIR, offsets directory) for one frame of :data:`BOMB_FRAME`: a label map, or (with
    ``instance``) a Cityscapes instance list with one mask; ``offsets_name``: the offsets file to
    be written by the caller (None: a valid predict file is written here)."""
    from PIL import Image

    from segfix_data.refine.offsets import write_offsets

    pred, off = root / "pred", root / "off"
    pred.mkdir(parents=True)
    off.mkdir()
    h, w = BOMB_FRAME
    label = np.zeros(BOMB_FRAME, np.uint8)
    label[:, w // 2:] = 26
    if instance:
        (pred / "masks").mkdir()
        Image.fromarray((label == 26).astype(np.uint8) * 255).save(pred / "masks" / f"{BOMB_KEY}_0.png")
        (pred / f"{BOMB_KEY}_pred.txt").write_text(f"masks/{BOMB_KEY}_0.png 26 0.9\n")
    else:
        Image.fromarray(label).save(pred / f"{BOMB_KEY}_leftImg8bit.png")
    if offsets_name is None:
        b = np.zeros(BOMB_FRAME, np.uint8)
        b[:, w // 2 - 2: w // 2 + 2] = 1
        write_offsets(off / f"{BOMB_KEY}_leftImg8bit.npz", b, np.where(b == 1, 4, 255).astype(np.uint8), 8)
    return pred, off


def hostile_offsets(tmp: Path, repo: Path, base_peak: float) -> list[dict]:
    """Offsets files that pass a shape check and then take gigabytes: refused from what they
    declare, one line, peak RSS within :data:`PEAK_RATIO_LIMIT` of a normal refine."""
    from tests.support.bombs import offsets_members, write_mat, write_npz

    h, w = BOMB_FRAME
    npz = f"{BOMB_KEY}_leftImg8bit.npz"
    mat = f"{BOMB_KEY}_leftImg8bit.mat"
    valid = dict(offsets_members(BOMB_FRAME))
    cases = [
        ("npz members boundary/direction without .npy declaring 16000x16000", False, npz,
         lambda p: write_npz(p, [("boundary", ((16000, 16000), "uint8")), ("direction", ((16000, 16000), "uint8")),
                                 ("num_directions.npy", np.int64(8))])),
        ("npz boundary of the frame's shape with dtype V65536 (512 MiB)", False, npz,
         lambda p: write_npz(p, [("boundary.npy", (BOMB_FRAME, "V65536")), ("direction.npy", valid["direction.npy"]),
                                 ("num_directions.npy", np.int64(8))])),
        (".mat: a 4000x4000x2 double mat, then a right-sized mat", False, mat,
         lambda p: write_mat(p, [("mat", (4000, 4000, 2), "double"), ("mat", (h, w, 2), "int16")])),
        (".mat: mat is a cell array of the frame's dims (1x4096 doubles in each cell)", False, mat,
         lambda p: write_mat(p, [("mat", (h, w, 2), ("cell", (1, 4096), "double"))])),
        (".mat: a right-sized mat whose data element declares 512 MiB", False, mat,
         lambda p: write_mat(p, [("mat", (h, w, 2), "int16", 512 << 20)])),
        ("instance list, npz declaring 16000x16000 maps", True, npz,
         lambda p: write_npz(p, [("boundary.npy", ((16000, 16000), "uint8")),
                                 ("direction.npy", ((16000, 16000), "uint8")), ("num_directions.npy", np.int64(8))])),
        ("instance list, .mat declaring 8000x8000x2 int16", True, mat,
         lambda p: write_mat(p, [("mat", (8000, 8000, 2), "int16")])),
    ]
    rows = []
    for k, (case, instance, name, craft) in enumerate(cases):
        pred, off = _bomb_frame_dirs(tmp / f"bomb{k}", name, instance)
        craft(off / name)
        r = run_measured(["refine", pred, tmp / f"bomb{k}" / "out", "--offsets", off], repo)
        ok = r["rc"] == 2 and _one_line(r, name) and _within(r, base_peak)
        rows.append(_row(case, r, ok, base_peak))
        shutil.rmtree(tmp / f"bomb{k}")
    return rows


def _bad_npy() -> dict:
    import io

    def npy(arr) -> bytes:
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=True)
        return buf.getvalue()

    good = npy(np.zeros(BOMB_FRAME, np.int32))
    huge = io.BytesIO()
    np.lib.format.write_array_header_1_0(huge, {"descr": "<i8", "fortran_order": False, "shape": (100000, 100000)})
    return {"0-byte": b"", "truncated data": good[:-1000], "truncated header": good[:20],
            "object dtype": npy(np.array([[1, None]], dtype=object)), "huge shape (100000x100000 int64)": huge.getvalue()}


def hostile_npy_predictions(tmp: Path, repo: Path, base_peak: float, quick: bool = False) -> list[dict]:
    """Damaged ``.npy`` predictions given to refine and to eval: one line each (was: a traceback).
    ``quick``: an empty one to refine and a huge one to eval (the unit tests have every pair)."""
    data = tmp / "npy_data"
    write_example_dataset(data, splits={"val": 1}, height=BOMB_FRAME[0], width=BOMB_FRAME[1])
    key = frame_key_of(next((data / "gtFine" / "val").rglob("*_labelIds.png")))
    _, off = _bomb_frame_dirs(tmp / "npy_off")
    for p in off.iterdir():
        p.rename(off / f"{key}_leftImg8bit.npz")
    rows = []
    for kind, blob in _bad_npy().items():
        for command in ("refine", "eval"):
            if quick and (kind, command) not in (("0-byte", "refine"), ("huge shape (100000x100000 int64)", "eval")):
                continue
            pred = tmp / f"npy_{command}_{len(rows)}"
            pred.mkdir()
            name = f"{key}_leftImg8bit.npy"
            (pred / name).write_bytes(blob)
            args = (["refine", pred, tmp / f"{pred.name}_out", "--offsets", off] if command == "refine"
                    else ["eval", data, pred, "--no-boundary"])
            r = run_measured(args, repo)
            ok = r["rc"] == 2 and _one_line(r, name) and _within(r, base_peak)
            rows.append(_row(f"{command}: {kind} .npy prediction", r, ok, base_peak))
    return rows


def frame_key_of(label: Path) -> str:
    return label.name[: -len("_gtFine_labelIds.png")]


def hostile_offsets_scalars(tmp: Path, repo: Path, quick: bool = False) -> list[dict]:
    """num_directions / format_version that are not one integer: one line naming the file (was: a
    traceback, or 8.5 read as 8). ``quick``: two of them (the unit tests have all)."""
    from tests.support.bombs import offsets_members, write_npz

    cases = [("num_directions", np.array([8, 8])), ("num_directions", np.array("8")),
             ("num_directions", np.float64(8.0)), ("num_directions", np.array([8], dtype=object)),
             ("format_version", np.array("1")), ("format_version", np.float64(1.5)),
             ("format_version", np.float64(8.5)), ("format_version", np.array([1, 1]))]
    cases = cases[::5] if quick else cases
    rows = []
    for k, (member, value) in enumerate(cases):
        pred, off = _bomb_frame_dirs(tmp / f"scalar{k}", "x")
        name = f"{BOMB_KEY}_leftImg8bit.npz"
        members = [(n, value if n == f"{member}.npy" else v) for n, v in offsets_members(BOMB_FRAME)]
        write_npz(off / name, members)
        r = run_measured(["refine", pred, tmp / f"scalar{k}" / "out", "--offsets", off], repo)
        ok = r["rc"] == 2 and _one_line(r, name) and ("one integer" in r["stderr"] or "Python objects" in r["stderr"])
        rows.append(_row(f"{member} = {value!r}", r, ok))
    return rows


def _pngs(d: Path, names, value: int, shape=(8, 8)) -> None:
    from PIL import Image

    d.mkdir(parents=True, exist_ok=True)
    for n in names:
        Image.fromarray(np.full(shape, value, np.uint8)).save(d / f"{n}.png")


def _offsets_for(off: Path, names, shape=(8, 8)) -> None:
    from segfix_data.refine.offsets import write_offsets

    b, none = np.zeros(shape, np.uint8), np.full(shape, 255, np.uint8)
    for n in names:
        write_offsets(off / f"{n}.npz", b, none, 8)


def _miou(table: str) -> float | None:
    """The mIoU (percent) a ``segfix eval`` table prints on its ``mean`` line (None: none printed)."""
    import re

    m = re.search(r"^mean\s+([0-9]+\.[0-9]+)", table, re.M)
    return float(m.group(1)) if m else None


def _out_state(out: Path, a: set, b: set) -> str:
    """``"old"``, ``"new"`` (the whole file set of run A / B and a log saying so), ``"absent"`` or
    ``"mixed"``."""
    if not out.exists():
        return "absent"
    names = {p.name for p in out.iterdir()}
    try:
        log = json.loads((out / "refine_log.json").read_text())
    except (OSError, ValueError):
        return "mixed"
    for state, want in (("old", a), ("new", b)):
        if names == {f"{n}.png" for n in want} | {"refine_log.json"} and log.get("label_maps") == len(want):
            return state
    return "mixed"


def hostile_mixed_outputs(tmp: Path, repo: Path, kills: int, rng: random.Random, quick: bool = False) -> list[dict]:
    """A second refine into a used OUT_DIR, a kill while publishing (500 files over 300; ``quick``:
    100 over 60), OUT_DIR inside PRED_DIR."""
    rows = []
    # refine predA out; refine predB out (B has one of A's two frames), then eval out
    data = tmp / "mix_data"
    write_example_dataset(data, splits={"val": 2}, height=32, width=64)
    labels = sorted((data / "gtFine" / "val").rglob("*_labelIds.png"))
    keys = [frame_key_of(p) for p in labels]
    off = tmp / "mix_off"
    _offsets_for(off, [f"{k}_leftImg8bit" for k in keys], (32, 64))
    pred_a, pred_b, out = tmp / "mix_a", tmp / "mix_b", tmp / "mix_out"
    _pngs(pred_a, [f"{k}_leftImg8bit" for k in keys], 7, (32, 64))  # A: all road; B: the ground truth
    pred_b.mkdir()
    shutil.copy(labels[1], pred_b / f"{keys[1]}_leftImg8bit.png")
    first = run_measured(["refine", pred_a, out, "--offsets", off], repo)
    before = sorted(p.name for p in out.iterdir()) if out.exists() else []
    r = run_measured(["refine", pred_b, out, "--offsets", off], repo)
    after = sorted(p.name for p in out.iterdir()) if out.exists() else []
    e = run_measured(["eval", data, out, "--no-boundary"], repo)  # what a mixed OUT_DIR would score
    row = _row("refine predA out; refine predB out (B: one frame): refused, OUT_DIR untouched", r,
               first["rc"] == 0 and r["rc"] == 2 and _one_line(r, "--overwrite") and after == before)
    row["eval_after"] = {"rc": e["rc"], "miou": _miou(e["stdout"])}
    rows.append(row)
    overwrite = ["--overwrite"] if "--overwrite" in run_measured(["refine", "--help"], repo)["stdout"] else []
    r = run_measured(["refine", pred_b, out, "--offsets", off, *(overwrite or ["--overwrite"])], repo)
    e = run_measured(["eval", data, out, "--no-boundary"], repo)
    whole = sorted(p.name for p in out.iterdir()) == sorted([f"{keys[1]}_leftImg8bit.png", "refine_log.json"])
    rows.append(_row("... --overwrite: OUT_DIR holds B alone, eval names A's missing frame (not a mixed score)",
                     e, r["rc"] == 0 and whole and e["rc"] == 2 and _one_line(e, "no prediction for 1 of 2 frames")))
    # kill -9 while refine publishes into an existing OUT_DIR
    n_old, n_new = (60, 100) if quick else (300, 500)
    a = {f"a{i:04d}" for i in range(n_old)}
    b = {f"b{i:04d}" for i in range(n_new)}
    pa, pb, koff, kout = tmp / "kill_a", tmp / "kill_b", tmp / "kill_off", tmp / "kill_out"
    _pngs(pa, sorted(a), 7)
    _pngs(pb, sorted(b), 26)
    _offsets_for(koff, sorted(a | b))
    run_measured(["refine", pa, kout, "--offsets", koff], repo)
    pristine = tmp / "kill_pristine"
    shutil.copytree(kout, pristine)
    states = {"old": 0, "new": 0, "absent": 0, "mixed": 0}
    env = dict(os.environ, PYTHONPATH=str(repo), PYTHONDONTWRITEBYTECODE="1")
    for k in range(kills):
        for p in tmp.glob(".kill_out.*"):
            shutil.rmtree(p, ignore_errors=True)
        shutil.rmtree(kout, ignore_errors=True)
        shutil.copytree(pristine, kout)
        proc = subprocess.Popen([sys.executable, "-m", "cli.main", "refine", str(pb), str(kout), "--offsets",
                                 str(koff), *overwrite], cwd=repo, env=env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        watch_new = k % 2 == 0  # even trials: kill as soon as a new file shows; odd: at a random time
        t_kill = time.time() + rng.uniform(0.3, 3.0)
        deadline = time.time() + 120
        while proc.poll() is None and time.time() < deadline:
            if watch_new:
                try:
                    if any(e.name.startswith("b") for e in os.scandir(kout)):
                        break
                except OSError:
                    pass
            elif time.time() >= t_kill:
                break
            time.sleep(0.0005)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        states[_out_state(kout, a, b)] += 1
    rows.append({"case": f"kill -9 while refine {' '.join(overwrite) or '(no --overwrite here)'} publishes {n_new} "
                         f"files over {n_old} ({kills} kills): "
                         f"old {states['old']}, new {states['new']}, absent {states['absent']}, "
                         f"mixed {states['mixed']}", "rc": None, "timed_out": False,
                 "handled": states["mixed"] == 0 and states["absent"] == 0, "states": states})
    # OUT_DIR inside PRED_DIR
    r = run_measured(["refine", pred_a, pred_a / "refined", "--offsets", off], repo)
    rows.append(_row("OUT_DIR inside PRED_DIR: refused", r, r["rc"] == 2 and _one_line(r, "PRED_DIR")
                     and not (pred_a / "refined").exists()))
    return rows


_SWAP_SCRIPT = """
import json, os, sys
from pathlib import Path
import numpy as np
from PIL import Image
from segfix_data.refine.directory import refine_directory
from segfix_data.refine.offsets import write_offsets

root = Path(sys.argv[1])
key = "frankfurt_000000_000294"
pred, off, out, secret = root / "pred", root / "off", root / "out", root / "secret.png"
pred.mkdir()
Image.fromarray(np.full((8, 8), 7, np.uint8)).save(pred / f"{key}_a.png")
second = pred / f"{key}_b.png"
Image.fromarray(np.full((8, 8), 7, np.uint8)).save(second)
Image.fromarray(np.full((8, 8), 33, np.uint8)).save(secret)
write_offsets(off / f"{key}.npz", np.zeros((8, 8), np.uint8), np.full((8, 8), 255, np.uint8), 8)

def swap(_):
    if not second.is_symlink():
        second.unlink()
        os.symlink(secret, second)

try:
    refine_directory(pred, out, off, progress=swap)
    said = ""
except ValueError as exc:
    said = str(exc)
leaked = out.exists() and any(33 in np.array(Image.open(p)) for p in out.glob("*.png"))
print(json.dumps({"said": said, "out_exists": out.exists(), "leaked": bool(leaked)}))
"""


def hostile_swap(tmp: Path, repo: Path) -> list[dict]:
    """A label map swapped for a link out of PRED_DIR after refine checked every file (in the
    progress callback, between the first and the second map): refused as it is opened."""
    root = tmp / "swap"
    root.mkdir()
    r = run_measured(["-c", _SWAP_SCRIPT, root], repo, module=None)
    try:
        got = json.loads(r["stdout"].strip().splitlines()[-1])
    except (ValueError, IndexError):
        got = {"said": r["stderr"][-200:], "out_exists": None, "leaked": None}
    ok = "outside PRED_DIR" in got["said"] and got["out_exists"] is False and not got["leaked"]
    row = _row("label swapped for an outside link during the run: refused as opened, nothing published", r, ok)
    row["said"] = got["said"][:300] or f"exit 0, outside file read and written: {got['leaked']}"
    return [row]


def hostile_build_sources(tmp: Path, repo: Path, quick: bool = False) -> list[dict]:
    """A label that is a FIFO or a link to /dev/zero (the build hung); frame keys its reader
    refuses (a backslash, a leading dot: exit 0, then verify and train refused the manifest).
    ``quick``: the FIFO and the backslash (the unit tests have all four)."""
    rows = []
    for kind in ("FIFO",) if quick else ("FIFO", "link to /dev/zero"):
        data = tmp / f"special_{len(rows)}"
        write_example_dataset(data, splits={"train": 2}, height=32, width=64)
        label = sorted((data / "gtFine" / "train").rglob("*_labelIds.png"))[0]
        label.unlink()
        os.mkfifo(label) if kind == "FIFO" else os.symlink("/dev/zero", label)
        r = run_measured(["build", data, tmp / f"{data.name}_out", "--split", "train", "-q"], repo,
                         module="cli.gt", timeout=60)
        ok = not r["timed_out"] and r["rc"] == 1 and _one_line(r, str(label), "not a regular file")
        rows.append(_row(f"label is a {kind}: the frame stops the build with one line (exit 1, a failed run)", r, ok))
    names = (("a\\b", "a backslash"),) + (() if quick else ((".", "a leading dot"),))
    for prefix, what in names:
        data = tmp / f"names_{len(rows)}"
        write_example_dataset(data, splits={"train": 2}, height=32, width=64)
        label = sorted((data / "gtFine" / "train").rglob("*_labelIds.png"))[0]
        base = frame_key_of(label)
        image = data / "leftImg8bit" / "train" / label.parent.name / f"{base}_leftImg8bit.png"
        image.rename(image.with_name(prefix + image.name))
        label.rename(label.with_name(prefix + label.name))
        out = tmp / f"{data.name}_out"
        builds = [run_measured(["build", data, out, "--split", "train", "-q"], repo, module="cli.gt")
                  for _ in range(1 if quick else 2)]
        v = run_measured(["verify", out, "-q"], repo, module="cli.gt")
        ok = all(r["rc"] == 3 and "is not a plain file name" in r["stdout"] for r in builds) and v["rc"] == 0
        row = _row(f"frame key with {what}: left out and named (exit 3), the manifest verifies, a rebuild agrees",
                   builds[0], ok)
        row["verify_rc"] = v["rc"]
        rows.append(row)
    return rows


def hostile_id_space(tmp: Path, repo: Path) -> list[dict]:
    """Predictions in the other Cityscapes id space that every range test passes (mIoU 0.0, exit 0)."""
    from PIL import Image

    from segfix_data.datasets.labels import cityscapes_label_ids_to_train_ids

    rows = []
    for case, bands, pred_space, flag in (
            ("labelIds all <= 18 scored as trainIds", ((7, 10), (8, 6), (11, 8), (12, 3), (13, 3), (17, 2)),
             "labelIds", ["--id-space", "trainIds"]),
            ("trainIds with building 40% scored as labelIds", ((11, 13), (26, 13), (21, 6)), "trainIds", [])):
        data = tmp / f"ids_{len(rows)}"
        write_example_dataset(data, splits={"val": 1}, height=32, width=64)
        label = next((data / "gtFine" / "val").rglob("*_labelIds.png"))
        ids = np.zeros((32, 64), np.uint8)
        y = 0
        for v, n in bands:
            ids[y:y + n] = v
            y += n
        Image.fromarray(ids).save(label)
        pred = tmp / f"{data.name}_pred"
        pred.mkdir()
        arr = ids if pred_space == "labelIds" else cityscapes_label_ids_to_train_ids(ids).astype(np.uint8)
        Image.fromarray(arr).save(pred / f"{frame_key_of(label)}_leftImg8bit.png")
        r = run_measured(["eval", data, pred, "--no-boundary", *flag], repo)
        rows.append(_row(f"{case}: stops naming --id-space {pred_space}", r,
                         r["rc"] == 2 and _one_line(r, f"--id-space {pred_space}")))
    return rows


def hostile_inputs(tmp: Path, repo: Path, kills: int, rng: random.Random, quick: bool = False) -> dict:
    """Every hostile-input group against the commands of ``repo``; the normal refine of
    :data:`BOMB_FRAME` first, as the peak-memory baseline (median of three runs; ``quick``: one,
    and fewer of the one-line cases, which the unit tests cover one by one)."""
    peaks = []
    for k in range(1 if quick else 3):
        pred, off = _bomb_frame_dirs(tmp / f"normal{k}")
        r = run_measured(["refine", pred, tmp / f"normal{k}" / "out", "--offsets", off], repo)
        if r["rc"] != 0:
            raise RuntimeError(f"the normal refine failed: {r['stderr'][-500:]}")
        peaks.append(r["peak_mib"])
    base = sorted(peaks)[len(peaks) // 2]
    groups = [("offsets files that pass a size check and then take gigabytes (refine; peak RSS / normal refine)",
               lambda: hostile_offsets(tmp, repo, base)),
              ("damaged .npy predictions (refine and eval): one line", lambda: hostile_npy_predictions(tmp, repo, base, quick)),
              ("offsets num_directions / format_version not one integer: one line",
               lambda: hostile_offsets_scalars(tmp, repo, quick)),
              ("outputs that mix two runs", lambda: hostile_mixed_outputs(tmp, repo, kills, rng, quick)),
              ("refine reads the file it checked", lambda: hostile_swap(tmp, repo)),
              ("build: special source files and frame keys its reader refuses", lambda: hostile_build_sources(tmp, repo, quick)),
              ("eval: predictions in the other id space", lambda: hostile_id_space(tmp, repo))]
    out = []
    for name, fn in groups:
        t0 = time.perf_counter()
        try:
            rows = fn()
        except Exception as e:  # a group that crashes counts as one case not handled
            rows = [{"case": f"(crashed: {type(e).__name__}: {str(e)[:120]})", "handled": False, "rc": None}]
        out.append({"group": name, "cases": len(rows), "handled": sum(r["handled"] for r in rows), "rows": rows,
                    "seconds": round(time.perf_counter() - t0, 1)})
    return {"repo": str(repo), "normal_refine_peak_mib": round(base, 1), "bomb_frame": list(BOMB_FRAME),
            "peak_ratio_limit": PEAK_RATIO_LIMIT, "groups": out}


def print_hostile(h: dict) -> None:
    n = sum(g["cases"] for g in h["groups"])
    k = sum(g["handled"] for g in h["groups"])
    print(f"\nhostile or careless input ({h['repo']}): {k}/{n} cases handled; normal refine of a "
          f"{h['bomb_frame'][0]}x{h['bomb_frame'][1]} frame peaks at {h['normal_refine_peak_mib']:.0f} MiB RSS "
          f"(a bomb case is handled within {h['peak_ratio_limit']:.0f}x)")
    for g in h["groups"]:
        print(f"  {g['handled']}/{g['cases']}  {g['group']} ({g['seconds']:.0f} s)")
        for r in g["rows"]:
            peak = f"  peak {r['peak_mib']:.0f} MiB = {r['peak_ratio']:.2f}x" if "peak_ratio" in r else ""
            rc = "" if r.get("rc") is None else f"  exit {r['rc']}" + (" (timed out)" if r.get("timed_out") else "")
            print(f"    {'ok ' if r['handled'] else 'NOT'} {r['case']}{rc}{peak}")
            if r.get("said"):
                print(f"        {r['said'][:160]}")
            if r.get("eval_after"):
                print(f"        eval of that OUT_DIR: exit {r['eval_after']['rc']}, mIoU {r['eval_after']['miou']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer trials (for the tests)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="JSON path (default benchmarks/results/fault_injection.json)")
    ap.add_argument("--hostile-only", action="store_true", help="run only the hostile-input group")
    ap.add_argument("--hostile-repo", type=Path, default=REPO,
                    help="checkout whose commands the hostile-input group runs (default: this one), e.g. "
                         "an earlier version, to print its figures")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    meta = machine_metadata()
    print_metadata(meta)
    n_kill, n_damage, n_ckpt, frames = (1, 6, 5, 6) if args.quick else (10, 60, 40, 24)
    t0 = time.perf_counter()
    if args.hostile_only:
        with tempfile.TemporaryDirectory(prefix="segfix-hostile-") as tmp:
            res = {"hostile": hostile_inputs(Path(tmp), args.hostile_repo.resolve(), 1 if args.quick else 6, rng,
                                             args.quick)}
        res["seconds"] = time.perf_counter() - t0
        print_hostile(res["hostile"])
        print(f"({res['seconds']:.0f} s)")
        path = write_json("fault_injection_hostile", path=args.out,
                          payload={"benchmark": "fault_injection", "quick": args.quick, "seed": args.seed,
                                   "machine": meta, "results": res})
        print(f"wrote {path}")
        return
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
               "integrity": integrity_cases(tmp), "rows": fault_rows(tmp),
               "hostile": hostile_inputs(tmp, args.hostile_repo.resolve(), 1 if args.quick else 6, rng, args.quick),
               "train_predict": train_predict_rows(tmp)}
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
    print_hostile(res["hostile"])
    print_rows(res["train_predict"])
    print(f"({res['seconds']:.0f} s)")
    path = write_json("fault_injection", path=args.out,
                      payload={"benchmark": "fault_injection", "quick": args.quick, "seed": args.seed,
                               "machine": meta, "results": res})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
