"""Shared helpers of the benchmark scripts: thread pinning, timing, machine metadata, JSON out."""
from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def pin_single_thread() -> None:
    """Pin numba, BLAS/OpenMP (and torch, if imported later) to one thread. Call before imports."""
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"


#: The clock of :func:`median_time`: wall time by default; :func:`use_cpu_time` switches to this
#: process's CPU time, which a shared machine's other jobs inflate far less (single-threaded,
#: in-process work only).
CLOCK = {"fn": time.perf_counter, "name": "wall"}


def use_cpu_time() -> None:
    """Time with ``time.process_time`` (CPU seconds of this process) from now on."""
    CLOCK["fn"], CLOCK["name"] = time.process_time, "cpu"


def median_time_and_result(fn, repeats: int, warmup: int = 1, *, sync=None) -> tuple[float, object]:
    """Median time of ``fn()`` in seconds (:data:`CLOCK`) over ``repeats`` runs after ``warmup``,
    and the last run's result. ``sync`` (e.g. ``torch.cuda.synchronize``) is called before the
    clock starts and before it stops, so that queued device work is timed."""
    sync = sync or (lambda: None)
    out = None
    for _ in range(warmup):
        out = fn()
    sync()
    times = []
    clock = CLOCK["fn"]
    for _ in range(repeats):
        sync()
        t0 = clock()
        out = fn()
        sync()
        times.append(clock() - t0)
    times.sort()
    return times[len(times) // 2], out


def median_time(fn, repeats: int, warmup: int = 1, *, sync=None) -> float:
    """Median time of ``fn()`` in seconds (:data:`CLOCK`) over ``repeats`` runs after ``warmup``
    (the one timer of every benchmark script; see :func:`median_time_and_result`)."""
    return median_time_and_result(fn, repeats, warmup, sync=sync)[0]


def interleaved_median_times(fns: dict, repeats: int, warmup: int = 1, *, sync=None) -> dict:
    """Median seconds of each ``fns[name]()`` (:data:`CLOCK`) over ``repeats`` rounds after
    ``warmup`` rounds; within a round the functions run in turn, so that a drift of a shared
    machine hits ours and the baseline alike. ``sync`` as in :func:`median_time_and_result`."""
    sync = sync or (lambda: None)
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    clock = CLOCK["fn"]
    for _ in range(repeats):
        for name, fn in fns.items():
            sync()
            t0 = clock()
            fn()
            sync()
            times[name].append(clock() - t0)
    return {name: sorted(ts)[len(ts) // 2] for name, ts in times.items()}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _dist_version(module: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return None


def machine_metadata() -> dict:
    """CPU, cores, load, library versions, git commit and thread settings of this run."""
    import numpy

    meta = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "load_average_1_5_15m": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "threads": {k: os.environ.get(k) for k in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS")},
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    for mod in ("numba", "scipy", "h5py", "torch"):
        try:
            meta[mod] = __import__(mod).__version__
        except ImportError:
            meta[mod] = None
    # optional: the fast PNG path, the shard codec, the benchmark-only baselines
    for mod, attr in (("pyspng", None), ("hdf5plugin", "version"), ("cv2", "__version__"),
                      ("edt", None), ("PIL", "__version__")):
        try:
            m = __import__(mod)
            meta[mod] = getattr(m, attr, None) if attr else _dist_version(mod)
        except ImportError:
            meta[mod] = None
    import numba

    meta["numba_threads"] = numba.config.NUMBA_NUM_THREADS
    meta["torch_threads"] = __import__("torch").get_num_threads() if meta["torch"] else None
    try:
        meta["git_commit"] = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        meta["git_commit"] = None
    return meta


def print_metadata(meta: dict) -> None:
    load = meta.get("load_average_1_5_15m") or [meta["load_average_1m"]] * 3
    print(f"machine: {meta['cpu']} | {meta['cores']} cores | load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} | "
          f"python {meta['python']} numpy {meta['numpy']} numba {meta['numba']} "
          f"torch {meta['torch']} | commit {str(meta['git_commit'])[:10]}")


def write_json(name: str, payload: dict, path: str | Path | None = None) -> Path:
    """Write ``payload`` atomically to ``path`` (default ``benchmarks/results/<name>.json``)."""
    path = Path(path) if path else RESULTS_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True))
    os.replace(tmp, path)
    return path


class Stopped(SystemExit):
    """A benchmark stopped by SIGTERM or SIGHUP (``kill``, a closed terminal): raised in the main
    thread so that ``finally`` blocks run; exits with 128 + the signal number, as the signal would."""


@contextlib.contextmanager
def stop_cleanly():
    """Within: SIGTERM and SIGHUP raise :class:`Stopped` (their default would end the process at
    once, leaving a temporary directory of data and shards behind); the handlers are restored after."""
    def stop(signum, frame):
        raise Stopped(128 + signum)

    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def run_in_workdir(run, args) -> object:
    """``run(args, work)`` in ``args.workdir`` when given (data, shards and runs are kept there),
    else in a temporary directory removed afterwards, also when the run is stopped by Ctrl-C,
    SIGTERM or SIGHUP (:func:`stop_cleanly`)."""
    import tempfile

    if getattr(args, "workdir", None):
        return run(args, Path(args.workdir))
    try:
        with stop_cleanly(), tempfile.TemporaryDirectory(prefix="segfix-bench-") as tmp:
            return run(args, Path(tmp))
    except (Stopped, KeyboardInterrupt):
        print("stopped; its temporary data and shards were removed", file=sys.stderr)
        raise


def generated_train_shards(args, work: Path) -> tuple[Path, Path]:
    """Generated Cityscapes-layout frames (``args.train_frames`` train and ``args.val_frames`` val
    of ``args.height`` x ``args.width``, from ``args.seed``) under ``work/cs`` and the train split's
    shards under ``work/shards``; returns both directories."""
    from segfix_data.shards import BuildConfig, build
    from segfix_data.synthetic import write_example_dataset

    data, shards = work / "cs", work / "shards"
    write_example_dataset(data, splits={"train": args.train_frames, "val": args.val_frames},
                          height=args.height, width=args.width, seed=args.seed)
    build(data, shards, ["train"], BuildConfig(image_level=0))
    return data, shards
