"""Shared helpers of the benchmark scripts: thread pinning, timing, machine metadata, JSON out."""
from __future__ import annotations

import json
import os
import platform
import subprocess
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


def median_time(fn, repeats: int, warmup: int = 1) -> float:
    """Median time of ``fn()`` in seconds (:data:`CLOCK`) over ``repeats`` runs after ``warmup``."""
    for _ in range(warmup):
        fn()
    times = []
    clock = CLOCK["fn"]
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    times.sort()
    return times[len(times) // 2]


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
