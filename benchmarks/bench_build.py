"""End-to-end `segfix-gt build` (PNG files on disk -> published shards) against the authors' way.

The authors' way (openseg.pytorch ``dt_offset_generator.py``), run in the same process on the same
frames: per frame read the labelIds PNG, map to train ids, and per class with >= 100 pixels a scipy
EDT of the class mask and a 5x5 (their default ksize) float32 correlation of each gradient kernel,
masked to the class and summed (torch ``conv2d`` as in their code, one thread; scipy ``correlate``
if torch is missing); then ``depth``/``dir_deg`` as uint8 and a compressed ``savemat``.

Ours: ``build_split`` with ``--jobs 1`` and ``--jobs 2`` (loky), with images stored as tiles
(the default), without images (what the authors' files hold: targets only) and with the source
file bytes as the image; and, with one job, the two format-2 changes undone one at a time
(``--codec zlib`` target tiles, PIL instead of pyspng decoding). Reported: ms per frame, the
per-core speed-up (baseline ms per frame / (ours ms per frame * jobs)), stored bytes per frame
(targets = label + boundary_direction), where one frame's time goes (in-process, one frame),
the build's CPU time per frame by stage, before and after the one-pass targets (see
:func:`stage_profile`), and read times: a whole sample, a random 512x512 crop (image + boundary + direction, the
training read; with and without the label), and the authors' ``loadmat`` of one frame. The HDF5
chunk cache is off for reads so every read decompresses its tiles. Medians over interleaved
rounds. Threads pinned to 1 per process (NUMBA/OMP/MKL/OPENBLAS); machine metadata (with the
load) and JSON through ``_common.py``.

Usage: python3 benchmarks/bench_build.py [--quick] [--frames N] [--repeats R]
"""
from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _common import CLOCK, machine_metadata, median_time, print_metadata, use_cpu_time, write_json  # noqa: E402

from segfix_data import datasets, shards  # noqa: E402
from segfix_data.datasets import io  # noqa: E402
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
    import h5py

    meta = machine_metadata()
    meta["hdf5"] = h5py.version.hdf5_version
    meta["threads_per_process"] = 1
    return meta


def median_ms(fn, repeats: int) -> float:
    """:func:`_common.median_time` in milliseconds, without a warm-up run (builds are long)."""
    return 1000 * median_time(fn, repeats, warmup=0)


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


def frame_breakdown(frame, repeats: int) -> dict:
    """Where one frame's build time goes (default config, one thread, in this process)."""
    import h5py

    from segfix_data import semantic_targets
    from segfix_data.shards import codec
    from segfix_data.shards.writer import write_encoded
    from segfix_data.targets import min_distance_bound

    out = {}
    img = datasets.read_image(frame.image)
    label = datasets.read_label(frame.label, "cityscapes")
    bound = min_distance_bound(5.0, 9)
    out["read image (pyspng)"] = median_ms(lambda: datasets.read_image(frame.image), repeats)
    io._spng = False
    try:
        out["read image (PIL)"] = median_ms(lambda: datasets.read_image(frame.image), repeats)
        out["read label (PIL, numpy table)"] = median_ms(
            lambda: datasets.read_label(frame.label, "cityscapes"), repeats)
    finally:
        io._spng = None
    out["read label (pyspng, one-pass table)"] = median_ms(
        lambda: datasets.read_label(frame.label, "cityscapes"), repeats)
    out["semantic_targets, full distance"] = median_ms(lambda: semantic_targets(label), repeats)
    out["semantic_targets, distance_bound, no band"] = median_ms(
        lambda: semantic_targets(label, distance_bound=bound), repeats)
    band, wide = 15.0, min_distance_bound(15.0, 9)
    out["semantic_targets, gamma and band 15 as two passes"] = median_ms(
        lambda: (semantic_targets(label, distance_bound=bound),
                 semantic_targets(label, gamma=band, distance_bound=wide)), repeats)
    out["semantic_targets, band 15 in one pass (the build)"] = median_ms(
        lambda: semantic_targets(label, direction_band=band, distance_bound=wide), repeats)
    t = semantic_targets(label, direction_band=band, distance_bound=wide)
    out["boundary/direction code + class counts"] = median_ms(
        lambda: codec.encode_boundary_direction(t.boundary, t.direction, label,
                                                band_direction=t.band_direction), repeats)
    code = codec.encode_boundary_direction(t.boundary, t.direction)
    out["encode image raw tiles + checksum"] = median_ms(
        lambda: codec.encode_array(img, tile=128, level=0, raw_tiles=True), repeats)
    for name, kw in (("lz4", {"codec": "lz4"}), ("zlib-1", {"codec": "zlib", "level": 1})):
        encs = {}

        def enc():
            encs["label"] = codec.encode_array(label, tile=128, **kw)
            encs["code"] = codec.encode_array(code, tile=128, **kw)
        out[f"encode label + code, {name} (worker side)"] = median_ms(enc, repeats)

        def write():
            with h5py.File(tempfile.mktemp(suffix=".h5"), "w", driver="core", backing_store=False) as f:
                for k, e in encs.items():
                    write_encoded(f, k, e)
        out[f"write label + code, {name} (HDF5, in memory)"] = median_ms(write, repeats)
    return out


# ---------------------------------------------------------------------------------- stages

#: The rows of the per-stage table, in build order (the stage names of ``StageTimes`` in
#: ``segfix_data/shards/process.py``, then the calling process's own steps).
STAGES = ("read sources", "source digests", "image decode", "image encode", "label decode",
          "label encode", "targets", "boundary/direction code + counts", "target encode", "record",
          "shard write (HDF5)", "manifest", "rest of the build (frames, parameters, plan, resume checks)")
REST = STAGES[-1]


def profiled_build(data: Path, out: Path, config, process_fn) -> dict:
    """CPU seconds of one ``build_split(--jobs 1)`` of ``data``'s train split, by stage.

    ``process_fn`` (``process_frame``, or the two-pass reference of the build before the one-pass
    targets) runs in this process with a :class:`~segfix_data.shards.process.StageTimes`; the
    shard and manifest writes are timed around the pipeline's own functions; the rest of
    ``build_split`` is the last row, so the rows add up to the total (``"total"``), measured
    around the whole call.
    """
    import functools
    import time

    from segfix_data.shards import pipeline
    from segfix_data.shards.process import StageTimes

    st = StageTimes(time.process_time)

    def timed(name, fn):
        def run(*a, **k):
            with st(name):
                return fn(*a, **k)
        return run

    saved = pipeline.process_frame, pipeline._write_shard_file, pipeline._write_manifest
    pipeline.process_frame = functools.partial(process_fn, stages=st)
    pipeline._write_shard_file = timed("shard write (HDF5)", saved[1])
    pipeline._write_manifest = timed("manifest", saved[2])
    try:
        t0 = time.process_time()
        build_split(data, out, "train", config, jobs=1)
        total = time.process_time() - t0
    finally:
        pipeline.process_frame, pipeline._write_shard_file, pipeline._write_manifest = saved
    sec = dict(st.seconds)
    sec[REST] = total - sum(sec.values())
    sec["total"] = total
    return sec


def stage_profile(data: Path, tmp: Path, n_frames: int, repeats: int) -> dict:
    """Per-stage CPU ms per frame of the build, before and after, in interleaved rounds.

    "before": the frame step as it was before the one-pass targets (two target passes per variant,
    at gamma and at the direction band; each source read once for its digest and again to decode
    it: ``tests/support/build_reference.py``); "after": ``process_frame``. Both write the same
    shards (checked here, by the arrays' checksums). Configurations: the default (images as raw
    tiles, direction band 15 px) and without images. Medians over ``repeats`` rounds, per stage.
    """
    from segfix_data.shards.process import process_frame
    from tests.support.build_reference import process_frame_two_pass

    out = {}
    n_run = [0]
    for name, kw in (("images, raw tiles (default)", {}), ("no images", {"images": False})):
        config = BuildConfig(shard_size=4, **kw)
        runs = {"before": [], "after": []}
        outs = {}
        for _ in range(repeats):
            for side, fn in (("before", process_frame_two_pass), ("after", process_frame)):
                n_run[0] += 1
                outs[side] = tmp / f"stages{n_run[0]}"
                runs[side].append(profiled_build(data, outs[side], config, fn))
        same = _checksums(outs["before"]) == _checksums(outs["after"])
        if not same:
            raise SystemExit(f"bench_build: the one-pass build stored other arrays than the two-pass one ({name})")
        med = {side: {k: 1000 * float(np.median([r.get(k, 0.0) for r in rs])) / n_frames
                      for k in STAGES + ("total",)} for side, rs in runs.items()}
        out[name] = {"before_ms": med["before"], "after_ms": med["after"], "same_arrays": same,
                     "stages": list(STAGES) + ["total"]}  # the rows' order (JSON objects are sorted)
    return out


def _checksums(out: Path) -> list:
    """The stored arrays' checksums of every sample of ``out``'s train split, in order."""
    ds = shards.ShardSet(out, "train")
    try:
        return [s["checksums"] for s in ds.samples]
    finally:
        ds.close()


def print_stage_profile(profile: dict) -> None:
    for name, p in profile.items():
        b, a = p["before_ms"], p["after_ms"]
        print(f"\nbuild, {name}: CPU ms per frame by stage, one job (before: two target passes, "
              f"sources read twice; after: one pass, one read)")
        print(f"{'stage':62s} {'before':>8s} {'after':>8s} {'after/before':>13s}")
        for k in STAGES + ("total",):
            ratio = f"{a[k] / b[k]:13.2f}" if b[k] > 0.05 else f"{'-':>13s}"
            print(f"{k:62s} {b[k]:8.2f} {a[k]:8.2f} {ratio}")


# ---------------------------------------------------------------------------------- main


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 small frames, 1 repeat (smoke run)")
    ap.add_argument("--frames", type=int, default=None, help="frames to build (default 6; quick 2)")
    ap.add_argument("--repeats", type=int, default=None, help="repeats per build (default 3; quick 1)")
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/results/bench_build[.quick].json)")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time with this process's CPU time (shared machines); --jobs 2 rows are then "
                         "left out (their work runs in other processes)")
    args = ap.parse_args(argv)
    if args.cpu_time:
        use_cpu_time()
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

        # (name, BuildConfig keywords, jobs, decode with PIL instead of pyspng)
        configs = [("images, raw tiles (default)", {}, 1, False),
                   ("images, raw tiles (default)", {}, 2, False),
                   ("no images", {"images": False}, 1, False), ("no images", {"images": False}, 2, False),
                   ("image file bytes", {"image_format": "file"}, 1, False),
                   ("images, zlib-1 image tiles", {"image_level": 1}, 1, False),
                   ("images, --codec zlib targets (format 1)", {"codec": "zlib"}, 1, False),
                   ("images, PIL decode (no pyspng)", {}, 1, True),
                   ("no images, --codec zlib targets", {"images": False, "codec": "zlib"}, 1, False)]
        if args.cpu_time:
            configs = [c for c in configs if c[2] == 1]
        n_run = [0]

        def runner(kw, jobs, pil):
            def run():
                n_run[0] += 1
                io._spng = False if pil else None  # jobs 1: this process decodes
                try:
                    build_split(data, tmp / f"out{n_run[0]}", "train", BuildConfig(shard_size=4, **kw),
                                jobs=jobs)
                finally:
                    io._spng = None
            return run

        # rounds: baseline and every build once per round, so a load change on the (shared)
        # machine hits all of them alike; medians over rounds
        base_t, build_t = [], [[] for _ in configs]
        last_out = [None] * len(configs)
        for _ in range(repeats):
            base_t.append(median_ms(run_baseline, 1) / n_frames)
            for c, (name, kw, jobs, pil) in enumerate(configs):
                build_t[c].append(median_ms(runner(kw, jobs, pil), 1) / n_frames)
                last_out[c] = tmp / f"out{n_run[0]}"
        base_ms = float(np.median(base_t))
        mat_files = sorted(mats.glob("*.mat"))
        mat_bytes = float(np.mean([p.stat().st_size for p in mat_files]))

        import scipy.io

        mat_read_ms = median_ms(lambda: [scipy.io.loadmat(str(p)) for p in mat_files], repeats) / len(mat_files)
        rows = []
        for c, (name, kw, jobs, pil) in enumerate(configs):
            ms = float(np.median(build_t[c]))
            rows.append({"config": name, "jobs": jobs, "ms_per_frame": ms,
                         "speedup_per_core": base_ms / (ms * jobs),
                         "bytes": stored_bytes(last_out[c], "train")})

        # read times on the default build (images as tiles), no chunk cache
        out = tmp / "read"
        build_split(data, out, "train", BuildConfig(shard_size=4), jobs=1)
        ds = shards.ShardSet(out, "train", cache_bytes=0)
        rng = np.random.default_rng(0)
        n_reads = 10 if args.quick else 200

        def timed_reads(fields, window_fn):
            ts = []
            for k in range(n_reads):
                i = k % len(ds)
                win = window_fn()
                t = CLOCK["fn"]()
                ds.read(i, fields=fields, window=win)
                ts.append(CLOCK["fn"]() - t)
            return 1000 * float(np.median(ts))

        rand_win = lambda: (int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1)), crop, crop)  # noqa: E731
        targets_fields = ("label", "semantic/boundary", "semantic/direction")
        train_fields = ("image", "semantic/boundary", "semantic/direction")
        reads = {
            f"{crop}x{crop} crop (image, boundary, direction)": timed_reads(train_fields, rand_win),
            f"{crop}x{crop} crop (image, label, boundary, direction)": timed_reads(shards.DEFAULT_FIELDS, rand_win),
            f"{crop}x{crop} crop (label, boundary, direction)": timed_reads(targets_fields, rand_win),
            "full sample (image, label, boundary, direction)": timed_reads(shards.DEFAULT_FIELDS, lambda: None),
            "full sample + derived distance": timed_reads(shards.DEFAULT_FIELDS + ("semantic/distance",), lambda: None),
            "authors' .mat loadmat (depth, dir_deg), whole frame": mat_read_ms,
        }
        ds.close()
        out = tmp / "read_zlib"
        build_split(data, out, "train", BuildConfig(shard_size=4, codec="zlib"), jobs=1)
        ds = shards.ShardSet(out, "train", cache_bytes=0)
        reads[f"{crop}x{crop} crop (image, boundary, direction), --codec zlib (format 1)"] = \
            timed_reads(train_fields, rand_win)
        reads[f"{crop}x{crop} crop (label, boundary, direction), --codec zlib (format 1)"] = \
            timed_reads(targets_fields, rand_win)
        ds.close()
        breakdown = frame_breakdown(frames[0], repeats=3 if args.quick else 7)
        profile = stage_profile(data, tmp, n_frames, repeats)
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
    meta = metadata()
    print_metadata(meta)
    print(f"bench_build: {n_frames} generated frames of {w}x{h}, median of {repeats} repeat(s); "
          f"threads per process pinned to 1; clock: {CLOCK['name']} time")
    print(f"{'method':52s} {'jobs':>4s} {'ms/frame':>10s} {'x per core':>10s} {'targets KiB':>12s} {'all KiB':>9s}")
    print(f"{'authors: per-class EDT+' + filt_name + ', savemat':52s} {1:4d} {base_ms:10.1f} {1.0:10.2f} "
          f"{mat_bytes / 1024:12.1f} {mat_bytes / 1024:9.1f}")
    for r in rows:
        tb = sum(v for k, v in r["bytes"].items() if k in targets_keys)
        r["targets_bytes_per_frame"] = tb
        r["all_bytes_per_frame"] = sum(r["bytes"].values())
        print(f"{'segfix-gt build, ' + r['config']:52s} {r['jobs']:4d} {r['ms_per_frame']:10.1f} "
              f"{r['speedup_per_core']:10.2f} {tb / 1024:12.1f} {r['all_bytes_per_frame'] / 1024:9.1f}")
    print(f"\n{'read (median, no HDF5 chunk cache)':78s} {'ms':>8s}")
    for k, v in reads.items():
        print(f"{k:78s} {v:8.2f}")
    print(f"\n{'one frame, in-process (median ms)':62s} {'ms':>8s}")
    for k, v in breakdown.items():
        print(f"{k:62s} {v:8.2f}")
    print_stage_profile(profile)
    result = {"name": "bench_build", "quick": args.quick, "frames": n_frames, "height": h, "width": w,
              "repeats": repeats, "baseline": {"filter": filt_name, "ms_per_frame": base_ms, "mat_bytes_per_frame": mat_bytes,
                                               "read_ms": mat_read_ms},
              "builds": rows, "reads_ms": reads, "frame_breakdown_ms": breakdown,
              "stages_cpu_ms_per_frame": profile, "metadata": meta,
              "clock": CLOCK["name"]}
    path = write_json("bench_build", result, out_json)
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
