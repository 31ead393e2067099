"""Checkpoints: model, optimiser, scheduler, data-stream position and RNG states, written
atomically as ``RUN_DIR/checkpoints/ckpt_<step:08d>.pt``."""
from __future__ import annotations

import glob
import os
import random
import re

import numpy as np
import torch
from segfix_data.atomic import atomic_path

_NAME = re.compile(r"ckpt_(\d{8})\.pt$")


def rng_state() -> dict:
    """Python, NumPy, torch CPU (and CUDA, when present) generator states."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_path(run_dir: str, step: int) -> str:
    return os.path.join(run_dir, "checkpoints", f"ckpt_{step:08d}.pt")


def list_checkpoints(run_dir: str) -> list[tuple[int, str]]:
    """``[(step, path)]`` ascending."""
    out = []
    for p in glob.glob(os.path.join(run_dir, "checkpoints", "ckpt_*.pt")):
        m = _NAME.search(p)
        if m:
            out.append((int(m.group(1)), p))
    return sorted(out)


def save_checkpoint(path: str, payload: dict, keep: int | None = None) -> None:
    """``torch.save`` to a temporary name, then ``os.replace``; prune to the newest ``keep``."""
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    if keep:
        for _, old in list_checkpoints(os.path.dirname(os.path.dirname(path)))[:-keep]:
            os.remove(old)


def load_checkpoint(path: str) -> dict:
    """Read a checkpoint written by ``save_checkpoint`` (CPU tensors)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint {path!r} not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"cannot read checkpoint {path!r} ({e}); is it a segfix train checkpoint?") from e
