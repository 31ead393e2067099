"""Validation passes of a training run, on the training device: every validation set, frames
batched through the network, read in worker processes, refinement scored in worker processes.

What one frame costs, and where it goes:

* **read** (image, boundary and direction targets, label map from the shard): DataLoader workers
  (``workers``), which deliver uint8 arrays; the device turns the image into the network input
  (``data.to_model_input``: ImageNet normalisation, channels-last) as training does;
* **forward**: ``batch`` frames of one size per pass (frames are grouped by size, never padded,
  so a frame's logits do not depend on its neighbours), under the run's autocast, logits cast to
  float32 before the upsampling to the frame size (``step.TrainForward``, as training);
  ``cudnn.benchmark`` is off during the pass, so frames of a new size are not autotuned (a run
  on ADE20K would tune once per frame size, for minutes);
* **boundary and direction counts** (``validate.count``): on the device, one transfer per batch;
* **refinement score** (``validate.RefinementScore``: the coarse map, its refinement with the
  model's offsets, ``SegmentationScore`` of both): the boundary mask and direction bins (uint8)
  go to a pool of ``workers`` processes, which score while the device runs the next batch. The
  coarse maps' scores do not depend on the model: a set's subset is scored coarse once per run
  and reused.

During the run each validation scores a fixed subset of every set (:func:`subset_indices`:
``subset`` frames spread evenly over the split); after the last step the ``final`` frames (by
default the whole split), and the subset again among them, so that the last figure on the subset
is comparable with the earlier ones (``--keep-best`` ranks by those). Under DDP each rank takes
every ``world``-th frame and the sums are added across ranks.
"""
from __future__ import annotations

import collections
import concurrent.futures as cf
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from .data import to_model_input
from .step import TrainForward
from .coarse import block_majority
from .validate import COUNTS, REFINE_SCALE, RefinementScore, count, summarise

#: Which frames a pass scores: the fixed subset (during the run) or the final frames (after the
#: last step, with the subset among them).
SUBSET, FINAL = "subset", "final"


def subset_indices(n: int, limit: int | None) -> list[int]:
    """``limit`` frame indices of ``0 .. n-1`` spread evenly over the split
    (``floor(i * n / limit)``, ``i < limit``; a split ordered by city or scene is sampled across
    all of them), or all ``n`` when ``limit`` is None or ``>= n``."""
    if limit is None or limit >= n:
        return list(range(n))
    return [i * n // limit for i in range(limit)]


def shape_batches(shapes: Sequence[tuple[int, int]], indices: Sequence[int], batch: int) -> list[list[int]]:
    """``indices`` cut into batches of at most ``batch`` frames of one shape (``shapes[i]``: frame
    ``i``'s ``(H, W)``); shapes in the order they first appear, frames in their given order."""
    by_shape: dict[tuple[int, int], list[int]] = {}
    for i in indices:
        by_shape.setdefault(tuple(shapes[i]), []).append(int(i))
    return [group[k: k + batch] for group in by_shape.values() for k in range(0, len(group), batch)]


@dataclass
class ValSet:
    """One validation set: ``name`` (``DIR:SPLIT``, its key in ``val.jsonl``), the opened shard
    set ``ds``, the classes scored, and the frame indices of the passes during the run
    (``subset``) and after the last step (``final``)."""

    name: str
    ds: object
    num_classes: int
    subset: list[int]
    final: list[int]


def frame_shapes(ds) -> list[tuple[int, int]]:
    """``(H, W)`` of every frame of shard set ``ds`` (its manifest's ``shape``)."""
    return [tuple(int(v) for v in s["shape"]) for s in ds.samples]


class FrameBatches(torch.utils.data.Dataset):
    """Item ``k``: the frames ``batches[k]`` of ``ds`` as stored, stacked: ``image`` uint8
    ``(B, H, W, 3)``, ``boundary`` and ``direction`` uint8 ``(B, H, W)`` (the ``target`` group's
    boundary, and its direction band's directions, ``<v>/direction_band``, as training reads them,
    so that predicted boundary pixels off the ground-truth boundary have targets too), ``label``
    uint8 ``(B, H, W)`` train ids (255 ignore)."""

    def __init__(self, ds, batches: list[list[int]], target: str = "semantic"):
        self.ds, self.batches = ds, batches
        self.fields = ("image", f"{target}/boundary", f"{target}/direction_band", "label")

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        reads = [self.ds.read(i, fields=self.fields) for i in self.batches[k]]
        keys = ("image", "boundary", "direction", "label")
        return {key: torch.from_numpy(np.stack([r[f] for r in reads])) for key, f in zip(keys, self.fields)}


def score_frame(num_classes: int, label: np.ndarray, boundary: np.ndarray, direction: np.ndarray,
                num_directions: int, with_coarse: bool) -> tuple[np.ndarray | None, np.ndarray]:
    """One frame's share of :class:`~segfix_train.validate.RefinementScore`, as two float64 state
    vectors (``RefinementScore.state()`` layouts): the coarse map's score (None unless
    ``with_coarse``) and the refined map's. ``boundary`` uint8 ``(H, W)`` 0/1, ``direction``
    uint8 ``(H, W)`` bins (255 off the boundary), ``label`` uint8 ``(H, W)``. A module-level
    function: it runs in the scoring pool."""
    from segfix_data.refine import refine_labels

    coarse = block_majority(label)
    part = None
    if with_coarse:
        c = RefinementScore(num_classes)
        c.scores[0].update(coarse, label)
        part = c.state().numpy()
    r = RefinementScore(num_classes)
    r.scores[1].update(refine_labels(coarse, boundary, direction, num_directions, scale=REFINE_SCALE), label)
    return part, r.state().numpy()


def _one_thread(*_args) -> None:
    """Worker initialiser: one torch thread per reading or scoring process (the scoring's numba
    code is serial)."""
    torch.set_num_threads(1)


class _Done:
    """A computed result with the ``Future.result`` interface (scoring without a pool)."""

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value

    def done(self) -> bool:
        return True


class Scorer:
    """Runs :func:`score_frame`: in a pool of ``workers`` processes (started on first use, after
    the scoring code is compiled here, so that forked workers inherit it), or in this process
    when ``workers`` is 0."""

    def __init__(self, workers: int):
        self.workers = int(workers)
        self.pool: cf.ProcessPoolExecutor | None = None

    def submit(self, *args):
        if self.workers <= 0:
            return _Done(score_frame(*args))
        if self.pool is None:
            tiny = np.zeros((8, 8), np.uint8)
            score_frame(2, tiny, tiny, np.full((8, 8), 255, np.uint8), 8, True)  # compile numba here
            self.pool = cf.ProcessPoolExecutor(self.workers, initializer=_one_thread)
        return self.pool.submit(score_frame, *args)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


class _Sums:
    """This rank's sums for one set and one group of frames: the ``validate.count`` counts and the
    ``RefinementScore`` state, plus the frames added."""

    def __init__(self):
        self.counts = torch.zeros(len(COUNTS), dtype=torch.float64)
        self.state: np.ndarray | None = None
        self.frames = 0

    def add_state(self, v: np.ndarray) -> None:
        self.state = v.copy() if self.state is None else self.state + v


class Validator:
    """Validation passes of one run (module docstring).

    Args:
        sets: the validation sets, in report order.
        target: which target group of the shards (``"semantic"`` or ``"instance"``).
        device, precision, channels_last: as the run's training step.
        batch: frames per forward pass; ``workers``: reading processes and scoring processes
            (0: all in this process).
        rank, world, all_sum: this process's DDP place and the sum over ranks (``Dist.all_sum``).
    """

    def __init__(self, sets: Sequence[ValSet], *, target: str, device: torch.device, precision,
                 channels_last: bool, batch: int = 4, workers: int = 0, rank: int = 0, world: int = 1,
                 all_sum: Callable[[torch.Tensor], torch.Tensor] = lambda t: t):
        self.sets = list(sets)
        self.target, self.device, self.precision = target, device, precision
        self.channels_last, self.batch, self.workers = channels_last, int(batch), int(workers)
        self.rank, self.world, self.all_sum = rank, world, all_sum
        self.scorer = Scorer(self.workers)
        self._coarse: dict[str, np.ndarray] = {}  # set name -> this rank's subset, coarse score state

    def close(self) -> None:
        self.scorer.close()

    @torch.no_grad()
    def run(self, model: torch.nn.Module, final: bool = False) -> dict:
        """One pass of ``model`` over every set: ``{"sets": {name: metrics}, "seconds": s}`` and,
        for the ``final`` pass, ``"subset": {name: metrics}`` (the subset's figures, comparable
        with those of the passes during the run). ``metrics``: ``validate.summarise`` and
        ``RefinementScore.result`` keys, and ``images`` (frames scored, all ranks)."""
        t0 = time.perf_counter()
        was_training, bench = model.training, torch.backends.cudnn.benchmark
        model.eval()
        torch.backends.cudnn.benchmark = False  # no autotuning per frame size
        try:
            forward = TrainForward(model, self.precision)
            out: dict = {"sets": {}}
            if final:
                out["subset"] = {}
            for vs in self.sets:
                sums = self._run_set(forward, vs, final)
                if final:
                    out["sets"][vs.name] = self._metrics(vs, sums[FINAL])
                    out["subset"][vs.name] = self._metrics(vs, sums[SUBSET])
                else:
                    out["sets"][vs.name] = self._metrics(vs, sums[SUBSET])
        finally:
            torch.backends.cudnn.benchmark = bench
            model.train(was_training)
        out["seconds"] = time.perf_counter() - t0
        return out

    def _groups(self, vs: ValSet, final: bool) -> list[tuple[list[int], tuple[str, ...]]]:
        """This rank's frames, in groups that go to the same sums: ``(indices, sum keys)``."""
        sub = set(vs.subset)
        if not final:
            return [(vs.subset[self.rank::self.world], (SUBSET,))]
        fin = set(vs.final)
        both = [i for i in vs.final if i in sub]
        return [(both[self.rank::self.world], (SUBSET, FINAL)),
                ([i for i in vs.subset if i not in fin][self.rank::self.world], (SUBSET,)),
                ([i for i in vs.final if i not in sub][self.rank::self.world], (FINAL,))]

    def _run_set(self, forward: TrainForward, vs: ValSet, final: bool) -> dict[str, _Sums]:
        shapes = frame_shapes(vs.ds)
        m = int(forward.model.num_directions)
        use_cache = not final and vs.name in self._coarse
        batches, keys = [], []
        for indices, group_keys in self._groups(vs, final):
            for b in shape_batches(shapes, indices, self.batch):
                batches.append(b)
                keys.append(group_keys)
        sums = {SUBSET: _Sums(), FINAL: _Sums()}
        pending: collections.deque = collections.deque()
        coarse: list = [None]  # this pass's coarse states of the subset, summed (for the cache)
        backlog = max(4 * self.workers, self.batch)  # frames in the pool at most (each holds its maps)

        def drain(keep: int) -> None:
            """Add the scored frames at the head of ``pending`` (in submission order: the sums do
            not depend on timing) until at most ``keep`` are left and the head is not done."""
            while pending and (len(pending) > keep or pending[0][1].done()):
                group_keys, fut = pending.popleft()
                part, refined = fut.result()
                for key in group_keys:
                    sums[key].add_state(refined if part is None else refined + part)
                if part is not None and SUBSET in group_keys and not final:
                    coarse[0] = part.copy() if coarse[0] is None else coarse[0] + part
        loader = torch.utils.data.DataLoader(
            FrameBatches(vs.ds, batches, self.target), batch_size=None, shuffle=False,
            num_workers=self.workers, pin_memory=self.device.type == "cuda",
            worker_init_fn=_one_thread if self.workers else None)
        for item, group_keys in zip(loader, keys):
            img = item["image"].to(self.device, non_blocking=True)
            x = to_model_input(img)
            x = x.contiguous(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)
            bl, dl = forward(x)
            c = count(bl, dl, item["boundary"].to(self.device), item["direction"].to(self.device))
            boundary = torch.sigmoid(bl[:, 0]) > 0.5  # as predict.probs_to_maps
            direction = dl.argmax(1).to(torch.uint8).masked_fill_(~boundary, 255)
            b_np, d_np = boundary.to(torch.uint8).cpu().numpy(), direction.cpu().numpy()
            labels = item["label"].numpy()
            for key in group_keys:
                sums[key].counts += c
                sums[key].frames += len(labels)
            for j in range(len(labels)):
                pending.append((group_keys, self.scorer.submit(vs.num_classes, labels[j], b_np[j], d_np[j], m,
                                                               not use_cache)))
            drain(backlog)
        drain(0)
        if not final:
            if use_cache:
                sums[SUBSET].add_state(self._coarse[vs.name])
            elif coarse[0] is not None:
                self._coarse[vs.name] = coarse[0]
        return sums

    def _metrics(self, vs: ValSet, s: _Sums) -> dict:
        """The sums of every rank turned into the metrics of one set."""
        size = RefinementScore(vs.num_classes).state().numel()
        state = torch.from_numpy(s.state) if s.state is not None else torch.zeros(size, dtype=torch.float64)
        packed = self.all_sum(torch.cat([s.counts, torch.tensor([float(s.frames)], dtype=torch.float64), state]))
        counts, frames, state = packed[:len(COUNTS)], packed[len(COUNTS)], packed[len(COUNTS) + 1:]
        ref = RefinementScore(vs.num_classes).load(state.clone()).result()
        return {**summarise(counts), **ref, "images": int(frames)}


def ranked_value(subset_metrics: dict[str, dict], key: str) -> float:
    """The figure ``--keep-best`` ranks validations by: ``key`` on the fixed subset, averaged over
    the validation sets (each set weighs the same, whatever its number of frames)."""
    return float(np.mean([m[key] for m in subset_metrics.values()]))
