"""The run's logs: JSON-lines files (``train.jsonl``, ``val.jsonl``) that a resumed run cuts back to
its checkpoint, and the log window of the training loop (loss sums on the device, img/s timing)."""
from __future__ import annotations

import contextlib
import json
import math
import os
import time
from typing import Callable

import torch

from segfix_data.atomic import atomic_path


def append_jsonl(path: str, obj: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(obj, sort_keys=True) + "\n")
        f.flush()


def truncate_jsonl(path: str, step: int) -> None:
    """Keep only the complete lines with ``iter <= step`` (written before the checkpoint; a kill
    may have left a half-written last line)."""
    if not os.path.exists(path):
        return
    keep = []
    with open(path) as f:
        for ln in f:
            try:
                if ln.endswith("\n") and json.loads(ln)["iter"] <= step:
                    keep.append(ln)
            except (ValueError, KeyError):
                continue
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.writelines(keep)


class LogWindow:
    """Loss sums since the last log line, kept on the device (``window``: float64 ``(4,)``: loss,
    boundary, direction sums; steps), and the timing of ``images_per_s``: the steps of this process
    since the last log line (a resumed window also holds steps run before the checkpoint) over the
    time spent training (time inside ``pause()`` -- validation, checkpoint writing -- excluded).

    ``dd``: the run's ``Dist`` (ranks to reduce over); ``path``: ``train.jsonl``; ``say``: print on
    rank 0; ``iters``: the run's total steps (printed); ``batch``: images per step, all ranks."""

    def __init__(self, dd, window: torch.Tensor, path: str, say: Callable[[str], None], *, iters: int,
                 batch: int):
        self.dd, self.window, self.path, self.say = dd, window, path, say
        self.iters, self.batch = iters, batch
        self.t_start = self.t_window = time.perf_counter()
        self.timed_steps, self.paused = 0, 0.0

    def add(self, sums: torch.Tensor, accum: int) -> None:
        self.window[:3] += sums / accum
        self.window[3] += 1
        self.timed_steps += 1

    @contextlib.contextmanager
    def pause(self):
        t = time.perf_counter()
        try:
            yield
        finally:
            self.paused += time.perf_counter() - t

    def flush(self, step: int, step_lr: float) -> dict:
        """Reduce over ranks (the one host synchronisation per log line), refuse a non-finite loss,
        append to ``train.jsonl`` and print on rank 0, and start a new window."""
        tot = self.dd.all_sum(self.window.clone())  # tot[3] counts rank-steps: means over ranks and steps
        now = time.perf_counter()
        rec = {"iter": step, "loss": float(tot[0] / tot[3]), "boundary_loss": float(tot[1] / tot[3]),
               "direction_loss": float(tot[2] / tot[3]), "lr": step_lr,
               "images_per_s": self.timed_steps * self.batch / max(now - self.t_window - self.paused, 1e-9),
               "elapsed_s": now - self.t_start}
        if not math.isfinite(rec["loss"]):
            raise FloatingPointError(f"non-finite loss at step {step}: {rec}; lower --lr or check the "
                                     "shards (segfix-gt verify), then --resume")
        if self.dd.main:
            append_jsonl(self.path, rec)
        self.say(f"iter {step}/{self.iters} loss {rec['loss']:.4f} (boundary {rec['boundary_loss']:.4f}, "
                 f"direction {rec['direction_loss']:.4f}) lr {step_lr:.5f} {rec['images_per_s']:.3g} img/s")
        self.window.zero_()
        self.t_window, self.timed_steps, self.paused = now, 0, 0.0
        return rec
