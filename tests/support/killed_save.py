"""``python -m tests.support.killed_save ROOT``: ``checkpoint.save_best`` killed at each of its
publishing points, as ``kill -9`` would (``os._exit``: no clean-up, no ``finally``).

For every point of :data:`KILL_POINTS` two run directories are made: ``ROOT/again/kill_<point>``
gets a best model of step 2 (value 0.1) and ``ROOT/first/kill_<point>`` none; then a forked child
saves step 4 (value 0.5) and dies just before its ``point``-th ``os.replace`` (``"save"``: inside
``torch.save``, leaving a half-written temporary file; ``"none"``: not killed). Run in a fresh
process: a fork of a process whose torch thread pools already ran can deadlock.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from segfix_train import checkpoint as ckpt

KEY = "delta_miou"
KILL_POINTS = ("save", "1", "2", "3", "4", "none")


def payload(step: int, value: float):
    """A ``BEST_FORMAT`` payload of step ``step`` with ``val[KEY] = value`` (a 256 KB tensor)."""
    return lambda: {"format": ckpt.BEST_FORMAT, "model": {"w": torch.full((256, 256), float(step))},
                    "model_spec": {}, "num_directions": 8, "config": {}, "step": step, "val": {KEY: value}}


def _child(run: Path, point: str) -> None:
    calls = [0]
    real_replace, real_save = os.replace, torch.save

    def replace(a, b):
        calls[0] += 1
        if str(calls[0]) == point:
            os._exit(9)
        real_replace(a, b)

    def save(obj, f):
        real_save(obj, f)
        with open(f, "r+b") as fh:
            fh.truncate(100)
        os._exit(9)
    os.replace = replace
    if point == "save":
        torch.save = save
    ckpt.save_best(str(run), 4, KEY, 0.5, payload(4, 0.5))


def main(root: str) -> None:
    torch.set_num_threads(1)
    for kind in ("again", "first"):
        for point in KILL_POINTS:
            run = Path(root) / kind / f"kill_{point}"
            run.mkdir(parents=True)
            if kind == "again":
                ckpt.save_best(str(run), 2, KEY, 0.1, payload(2, 0.1))
            pid = os.fork()
            if pid == 0:
                try:
                    _child(run, point)
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)


if __name__ == "__main__":
    main(sys.argv[1])
