"""Machine metadata and JSON output shared by the trainer benchmarks."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys


def machine_metadata(threads: int) -> dict:
    import numpy
    import torch

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except OSError:
        commit = ""
    meta = {"cpu": cpu, "cores": os.cpu_count(), "python": sys.version.split()[0], "numpy": numpy.__version__,
            "torch": torch.__version__, "threads": threads, "git_commit": commit,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    try:
        import numba
        meta["numba"] = numba.__version__
    except ImportError:
        pass
    return meta


def write_json(path: str, obj: dict) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)
