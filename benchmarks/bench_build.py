"""End-to-end `segfix-gt build` (PNG files on disk -> published shards) against the authors' way.

The authors' way (openseg.pytorch ``dt_offset_generator.py``), run in the same process on the same
frames: per frame read the labelIds PNG, map to train ids, and per class with >= 100 pixels a scipy
EDT of the class mask and a 5x5 (their default ksize) float32 correlation of each gradient kernel,
masked to the class and summed (torch ``conv2d`` as in their code, one thread; scipy ``correlate``
if torch is missing); then ``depth``/``dir_deg`` as uint8 and a compressed ``savemat``.

Ours: ``build_split`` with ``--jobs 1`` and ``--jobs 2`` (loky), with images stored as tiles
(the default), without images (what the authors' files hold: targets only) and with the source
file bytes as the image. Reported: ms per frame, the per-core speed-up (baseline ms per frame /
(ours ms per frame * jobs)), stored bytes per frame (targets = label + boundary_direction), and
read times: a whole sample, a random 512x512 crop (with and without the image), and the authors'
``loadmat`` of one frame. The HDF5 chunk cache is off for reads so every read decompresses its
tiles. Medians over repeats. Threads pinned to 1 per process (NUMBA/OMP/MKL/OPENBLAS).

Usage: python3 benchmarks/bench_build.py [--quick] [--frames N] [--repeats R]
"""
from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from segfix_data import datasets, shards  # noqa: E402
from segfix_data.shards import BuildConfig, build_split  # noqa: E402
from segfix_data.synthetic import write_example_dataset  # noqa: E402


# ---------------------------------------------------------------------------------- baseline


def _filter_torch(d32: np.ndarray, ky: np.ndarray, kx: np.ndarray):
    """(gy, gx): float32 cross-correlation with zero padding, as the authors' torch conv2d."""
    import torch

    k = torch.from_numpy(np.stack([ky, kx])[:, None])
    out = torch.nn.functional.conv2d(torch.from_numpy(d32)[None, None], k, padding=ky.shape[0] // 2)
    return out[0, 0].numpy(), out[0, 1].numpy()


def _filter_scipy(d32: np.ndarray, ky: np.ndarray, kx: np.ndarray):
    from scipy import ndimage

    return ndimage.correlate(d32, ky, mode="constant"), ndimage.correlate(d32, kx, mode="constant")


def authors_targets_mat(label_path: str, mat_path: str, ksize: int = 5, filt=_filter_scipy) -> None:
    """The authors' generator for one frame: per-class scipy EDT + per-class filter + savemat."""
    import scipy.io
    from PIL import Image
    from scipy import ndimage

    from segfix_data.datasets.labels import cityscapes_label_ids_to_train_ids

    label = cityscapes_label_ids_to_train_ids(np.asarray(Image.open(label_path)))
    h, w = label.shape
    r = ksize // 2
    jj, ii = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float32)
    den = ii * ii + jj * jj
    den[r, r] = 1
    kx, ky = ii / den, jj / den
    depth = np.zeros((h, w), np.float32)
    gy = np.zeros((h, w), np.float32)
    gx = np.zeros((h, w), np.float32)
    for k in np.unique(label):
        if k == 255:
            continue
        mask = label == k
        if mask.sum() < 100:
            continue
        d = ndimage.distance_transform_edt(mask)
        depth += d
        fy, fx = filt(d.astype(np.float32), ky, kx)
        gy += fy * mask
        gx += fx * mask
    depth[depth > 250] = 250
    dir_deg = ((np.degrees(np.arctan2(gy, gx)) + 180) / 2).astype(np.uint8)
    scipy.io.savemat(mat_path, {"depth": depth.astype(np.uint8), "dir_deg": dir_deg, "deg_reduce": 2},
                     do_compression=True)


# ---------------------------------------------------------------------------------- helpers


def metadata() -> dict:
    import numba
    import scipy

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = None
    try:
        import torch  # only for the version string; segfix_data never imports it

        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    import h5py

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba.__version__, "scipy": scipy.__version__,
            "h5py": h5py.__version__, "hdf5": h5py.version.hdf5_version, "torch": torch_version,
            "commit": commit, "threads_per_process": 1,
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None}


def median_ms(fn, repeats: int) -> float:
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return 1000 * float(np.median(ts))


def stored_bytes(out: Path, split: str) -> dict:
    """Mean stored (compressed) bytes per frame of each field."""
    ds = shards.ShardSet(out, split)
    sizes: dict = {}
    for i in range(len(ds)):
        def visit(name, obj):
            import h5py

            if isinstance(obj, h5py.Dataset):
                sizes[name] = sizes.get(name, 0) + obj.id.get_storage_size()
        ds.group(i).visititems(visit)
    ds.close()
    return {k: v / len(ds) for k, v in sizes.items()}


# ---------------------------------------------------------------------------------- main


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 small frames, 1 repeat (smoke run)")
    ap.add_argument("--frames", type=int, default=None, help="frames to build (default 6; quick 2)")
    ap.add_argument("--repeats", type=int, default=None, help="repeats per build (default 3; quick 1)")
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/results/bench_build[.quick].json)")
    args = ap.parse_args(argv)
    h, w = (128, 256) if args.quick else (1024, 2048)
    n_frames = args.frames or (2 if args.quick else 6)
    repeats = args.repeats or (1 if args.quick else 3)
    crop = min(512, h, w)
    out_json = Path(args.out) if args.out else REPO / "benchmarks" / "results" / (
        "bench_build.quick.json" if args.quick else "bench_build.json")

    tmp = Path(tempfile.mkdtemp(prefix="bench_build_"))
    try:
        data = tmp / "data"
        write_example_dataset(data, splits={"train": n_frames}, height=h, width=w, seed=7)
        frames = datasets.cityscapes_frames(data, "train")
        # warm-up: JIT caches and the loky pool outside the timings
        build_split(data, tmp / "warm", "train", BuildConfig(shard_size=4), jobs=2)
        build_split(data, tmp / "warm1", "train", BuildConfig(shard_size=4), jobs=1)

        # baseline: the authors' way, one process, one thread
        mats = tmp / "mat"
        mats.mkdir()

        try:  # the authors filter with torch conv2d (one thread here); scipy if torch is absent
            import torch

            torch.set_num_threads(1)
            filt, filt_name = _filter_torch, "torch conv2d"
        except ImportError:
            filt, filt_name = _filter_scipy, "scipy correlate"

        def run_baseline():
            for f in frames:
                authors_targets_mat(f.label, str(mats / (Path(f.label).stem + ".mat")), filt=filt)

        configs = [("images, raw tiles (default)", {}, 1), ("images, raw tiles (default)", {}, 2),
                   ("no images", {"images": False}, 1), ("no images", {"images": False}, 2),
                   ("image file bytes", {"image_format": "file"}, 1),
                   ("images, zlib-1 tiles", {"image_level": 1}, 1)]
        n_run = [0]

        def runner(kw, jobs):
            def run():
                n_run[0] += 1
                build_split(data, tmp / f"out{n_run[0]}", "train", BuildConfig(shard_size=4, **kw), jobs=jobs)
            return run

        # rounds: baseline and every build once per round, so a load change on the (shared)
        # machine hits all of them alike; medians over rounds
        base_t, build_t = [], [[] for _ in configs]
        last_out = [None] * len(configs)
        for _ in range(repeats):
            base_t.append(median_ms(run_baseline, 1) / n_frames)
            for c, (name, kw, jobs) in enumerate(configs):
                build_t[c].append(median_ms(runner(kw, jobs), 1) / n_frames)
                last_out[c] = tmp / f"out{n_run[0]}"
        base_ms = float(np.median(base_t))
        mat_files = sorted(mats.glob("*.mat"))
        mat_bytes = float(np.mean([p.stat().st_size for p in mat_files]))

        import scipy.io

        mat_read_ms = median_ms(lambda: [scipy.io.loadmat(str(p)) for p in mat_files], repeats) / len(mat_files)
        rows = []
        for c, (name, kw, jobs) in enumerate(configs):
            ms = float(np.median(build_t[c]))
            rows.append({"config": name, "jobs": jobs, "ms_per_frame": ms,
                         "speedup_per_core": base_ms / (ms * jobs),
                         "bytes": stored_bytes(last_out[c], "train")})

        # read times on the default build (images as tiles), no chunk cache
        out = tmp / "read"
        build_split(data, out, "train", BuildConfig(shard_size=4), jobs=1)
        ds = shards.ShardSet(out, "train", cache_bytes=0)
        rng = np.random.default_rng(0)
        n_reads = 10 if args.quick else 60

        def timed_reads(fields, window_fn):
            ts = []
            for k in range(n_reads):
                i = k % len(ds)
                win = window_fn()
                t = time.perf_counter()
                ds.read(i, fields=fields, window=win)
                ts.append(time.perf_counter() - t)
            return 1000 * float(np.median(ts))

        rand_win = lambda: (int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1)), crop, crop)  # noqa: E731
        targets_fields = ("label", "semantic/boundary", "semantic/direction")
        reads = {
            "full sample (image, label, boundary, direction)": timed_reads(shards.DEFAULT_FIELDS, lambda: None),
            "full sample + derived distance": timed_reads(shards.DEFAULT_FIELDS + ("semantic/distance",), lambda: None),
            f"{crop}x{crop} crop (image, label, boundary, direction)": timed_reads(shards.DEFAULT_FIELDS, rand_win),
            f"{crop}x{crop} crop (label, boundary, direction)": timed_reads(targets_fields, rand_win),
            "authors' .mat loadmat (depth, dir_deg), whole frame": mat_read_ms,
        }
        ds.close()
        out = tmp / "read_raw"
        build_split(data, out, "train", BuildConfig(shard_size=4, image_level=1), jobs=1)
        ds = shards.ShardSet(out, "train", cache_bytes=0)
        reads[f"{crop}x{crop} crop (image, label, boundary, direction), --image-level 1"] = \
            timed_reads(shards.DEFAULT_FIELDS, rand_win)
        reads["full sample (image, label, boundary, direction), --image-level 1"] = \
            timed_reads(shards.DEFAULT_FIELDS, lambda: None)
        ds.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    targets_keys = ("label", "semantic/boundary_direction", "semantic/distance")
    print(f"bench_build: {n_frames} generated frames of {w}x{h}, median of {repeats} repeat(s); "
          f"threads per process pinned to 1")
    print(f"{'method':44s} {'jobs':>4s} {'ms/frame':>10s} {'x per core':>10s} {'targets KiB':>12s} {'all KiB':>9s}")
    print(f"{'authors: per-class EDT+' + filt_name + ', savemat':44s} {1:4d} {base_ms:10.1f} {1.0:10.2f} "
          f"{mat_bytes / 1024:12.1f} {mat_bytes / 1024:9.1f}")
    for r in rows:
        tb = sum(v for k, v in r["bytes"].items() if k in targets_keys)
        r["targets_bytes_per_frame"] = tb
        r["all_bytes_per_frame"] = sum(r["bytes"].values())
        print(f"{'segfix-gt build, ' + r['config']:44s} {r['jobs']:4d} {r['ms_per_frame']:10.1f} "
              f"{r['speedup_per_core']:10.2f} {tb / 1024:12.1f} {r['all_bytes_per_frame'] / 1024:9.1f}")
    print(f"\n{'read (median, no HDF5 chunk cache)':72s} {'ms':>8s}")
    for k, v in reads.items():
        print(f"{k:72s} {v:8.2f}")
    meta = metadata()
    print("\n" + ", ".join(f"{k}={v}" for k, v in meta.items()))
    result = {"name": "bench_build", "quick": args.quick, "frames": n_frames, "height": h, "width": w,
              "repeats": repeats, "baseline": {"filter": filt_name, "ms_per_frame": base_ms, "mat_bytes_per_frame": mat_bytes,
                                               "read_ms": mat_read_ms},
              "builds": rows, "reads_ms": reads, "metadata": meta}
    out_json.parent.mkdir(parents=True, exist_ok=True)
    with open(out_json, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {out_json}")
    return result


if __name__ == "__main__":
    main()
