"""The training loop: SGD + poly schedule, AMP (bf16) and channels-last on CUDA, gradient
accumulation, DDP (``torchrun``; NCCL on CUDA, gloo on CPU), checkpoints that resume exactly,
JSON-lines logs and validation.

Outputs in ``RUN_DIR``: ``config.json`` (resolved configuration), ``train.jsonl`` (one object per
logged step: ``iter``, ``loss``, ``boundary_loss``, ``direction_loss`` (means over the steps since
the previous log line), ``lr``, ``images_per_s`` (global batch x steps since the previous log line,
over the training time without validation and checkpoint writing), ``elapsed_s``), ``val.jsonl`` (``iter`` and the
metrics of ``segfix_train.validate``), ``checkpoints/ckpt_<step>.pt``.

Exact resumption: the crop stream is a function of the micro-batch index (``segfix_train.data``),
so a checkpoint stores that index with the model, optimiser, scheduler, the partial log window and
every rank's RNG states; a resumed run first drops log lines written after the checkpoint. On CPU a
killed and resumed run ends with bitwise the same weights and logs (timing fields aside) as an
uninterrupted one.
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from typing import Callable

import torch
import torch.distributed as dist

from segfix_data.atomic import atomic_path
from . import checkpoint as ckpt
from .config import TrainConfig, save_json, shard_entries
from .data import AugmentConfig, CropStream, checked_batches, device_batch, make_loader, val_items
from .losses import segfix_loss
from .models import create_model
from .validate import COUNTS, count, summarise

CHECKPOINT_FORMAT = "segfix-train-2"  # 2: RNG states as tensors and plain types (weights_only)
TIMING_FIELDS = ("images_per_s", "elapsed_s")


def default_open_set(directory: str, split: str):
    """Open ``directory``/``split`` with ``segfix_data.shards.ShardSet`` (contract 6); ``train`` /
    ``val`` and ``training`` / ``validation`` are aliases when only one of a pair was built."""
    from segfix_data.datasets.layouts import normalise_split
    from segfix_data.shards import ShardSet, list_splits

    if os.path.isdir(directory):
        split = normalise_split(split, list_splits(directory), directory, "--shards DIR:SPLIT (or --split)")
    return ShardSet(directory, split)


class _Dist:
    """Rank, world size and device of this process (``torchrun`` sets RANK/WORLD_SIZE/LOCAL_RANK)."""

    def __init__(self, device_pref: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        use_cuda = torch.cuda.is_available() if device_pref == "auto" else device_pref == "cuda"
        if use_cuda and not torch.cuda.is_available():
            raise ValueError("device 'cuda' requested but CUDA is not available")
        self.device = torch.device(f"cuda:{local}" if use_cuda else "cpu")
        if use_cuda:
            torch.cuda.set_device(self.device)
        self.owns_group = False
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if use_cuda else "gloo")
            self.owns_group = True

    @property
    def main(self) -> bool:
        return self.rank == 0

    def all_sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.world > 1:
            t = t.to(self.device)
            dist.all_reduce(t)
        return t.cpu()

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()


def _append_jsonl(path: str, obj: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(obj, sort_keys=True) + "\n")
        f.flush()


def _truncate_jsonl(path: str, step: int) -> None:
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


def poly_lambda(iters: int, power: float) -> Callable[[int], float]:
    """lr factor ``(1 - step / iters) ** power`` at optimiser step ``step``."""
    return lambda step: max(0.0, 1.0 - step / iters) ** power


class TrainStep:
    """One optimiser step: ``accum`` micro-batches forward + backward (DDP gradient sync on the last
    only), SGD step, schedule step. Returns the summed (loss, boundary, direction) of the
    micro-batches as a float64 ``(3,)`` tensor on the device (no host synchronisation)."""

    def __init__(self, net, opt, sched, cfg: TrainConfig, device: torch.device, use_cl: bool,
                 use_amp: bool, world: int):
        self.net, self.opt, self.sched, self.cfg = net, opt, sched, cfg
        self.device, self.use_cl, self.world = device, use_cl, world
        self.num_directions = getattr(net, "module", net).num_directions
        self.autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if use_amp else contextlib.nullcontext

    def __call__(self, micro_batches: list[dict]) -> torch.Tensor:
        cfg, dev = self.cfg, self.device
        sums = torch.zeros(3, dtype=torch.float64, device=dev)
        n = len(micro_batches)
        for a, b in enumerate(micro_batches):
            x, bt, dt = device_batch(b, dev, self.num_directions, self.use_cl)
            sync = self.net.no_sync() if self.world > 1 and a < n - 1 else contextlib.nullcontext()
            with sync:
                with self.autocast():
                    bl, dl = self.net(x)
                losses = segfix_loss(bl.float(), dl.float(), bt, dt, mask=cfg.direction_mask,
                                     boundary_weight=cfg.boundary_weight, direction_weight=cfg.direction_weight)
                (losses["loss"] / n).backward()
            sums += torch.stack([losses[k].detach().double() for k in ("loss", "boundary", "direction")])
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self.sched.step()
        return sums


#: Settings a resumed run may change: when and how it logs, validates and checkpoints, where it
#: runs, and ``iters`` (the poly schedule then runs to the new total). Any other difference from
#: the checkpoint's configuration is refused (it would be ignored, or change the run midway).
RESUME_MAY_CHANGE = frozenset({
    "iters", "resume", "stop_after", "num_workers", "log_every", "ckpt_every", "val_every",
    "val_max_images", "val_split", "keep_checkpoints", "device", "amp", "channels_last", "out",
    "pretrained", "sync_bn"})


def resume_differences(saved: dict, cfg: TrainConfig) -> list[str]:
    """``"name: RUN_VALUE -> NEW_VALUE"`` for each setting that differs from the checkpoint's
    configuration and may not change on resume (``lr`` compared as resolved, ``shards`` as
    (directory, split, weight) entries)."""
    from .config import FIELDS

    old = TrainConfig(**{k: v for k, v in saved.items() if k in FIELDS})
    out = []
    for name in sorted(FIELDS - RESUME_MAY_CHANGE):
        a, b = getattr(old, name), getattr(cfg, name)
        if name == "lr":
            a, b = old.resolved_lr(), cfg.resolved_lr()
        elif name in ("shards", "shard_weights", "split"):
            a, b = shard_entries(old), shard_entries(cfg)
            name = "shards"
        if a != b and isinstance(a, dict) and isinstance(b, dict):  # only the keys that differ
            out += [f"{name}.{k}: {a.get(k, '<unset>')!r} -> {b.get(k, '<unset>')!r}"
                    for k in sorted(set(a) | set(b), key=str) if a.get(k, _UNSET) != b.get(k, _UNSET)]
        elif a != b and not any(d.startswith(name + ":") for d in out):
            out.append(f"{name}: {a!r} -> {b!r}")
    return out


_UNSET = object()


def step_allocation(cfg: TrainConfig, entries, local_batch: int, world: int) -> tuple[list[int], list[int]]:
    """Crops per shard set: ``(per forward pass on one rank, per optimiser step over all ranks and
    accumulation steps)``; the stream draws the first (largest remainder of the local batch)."""
    from .data import batch_allocation

    local = batch_allocation(local_batch, [w for _, _, w in entries])
    return local, [a * cfg.accum * world for a in local]


def _banner(cfg, dd, model, entries, sets, val_set, use_amp, use_cl, local_batch) -> list[str]:
    n_params = sum(p.numel() for p in model.parameters())
    local, alloc = step_allocation(cfg, entries, local_batch, dd.world)
    lines = [f"model {cfg.model}: {n_params / 1e6:.2f} M parameters; device {dd.device}, "
             f"AMP {'bf16' if use_amp else 'off'}, channels-last {'on' if use_cl else 'off'}, "
             f"{dd.world} process{'es' if dd.world > 1 else ''}"]
    for (d, split, w), ds, a in zip(entries, sets, alloc):
        split = os.path.basename(str(getattr(ds, "root", split)))  # as opened (aliases resolved)
        lines.append(f"shards {d}:{split}: {len(ds.samples)} samples, weight {w:g}, {a} crops per batch")
    lines.append(f"batch {cfg.batch} = {' + '.join(map(str, alloc))} crops of {cfg.crop}x{cfg.crop} "
                 f"({' + '.join(map(str, local))} per forward pass x accum {cfg.accum} x {dd.world} "
                 f"rank{'s' if dd.world > 1 else ''}); lr "
                 f"{cfg.resolved_lr():g}, {cfg.iters} iters")
    from .data import padding_note

    note = padding_note(sets, cfg.crop)
    lines += [note] if note else []
    lines.append(f"validation: {len(val_set.samples)} images of {entries[0][0]}:{cfg.val_split}"
                 if val_set is not None else "validation: off")
    return lines


def train(cfg: TrainConfig, *, open_set: Callable | None = None,
          echo: Callable[[str], None] = print) -> dict:
    """Run (or resume) training as configured; returns the last validation metrics on rank 0
    (an empty dict on the other ranks)."""
    open_set = open_set or default_open_set
    dd = _Dist(cfg.device)
    try:
        return _train(cfg, dd, open_set, echo)
    finally:
        dd.close()


def _train(cfg: TrainConfig, dd: _Dist, open_set: Callable, echo: Callable[[str], None]) -> dict:
    per_step = dd.world * cfg.accum
    if cfg.batch % per_step:
        raise ValueError(f"batch {cfg.batch} is not divisible by world_size * accum = {per_step}")
    local_batch = cfg.batch // per_step
    cuda = dd.device.type == "cuda"
    use_amp = cfg.amp == "bf16" or (cfg.amp == "auto" and cuda)
    use_cl = cfg.channels_last == "on" or (cfg.channels_last == "auto" and cuda)

    entries = shard_entries(cfg)
    sets = [open_set(d, split) for d, split, _ in entries]
    val_set = open_set(entries[0][0], cfg.val_split) if cfg.val_split else None
    m = int(sets[0].params.get("num_directions", 8))

    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model, num_directions=m, pretrained=cfg.pretrained, **cfg.model_args)
    if model.pretrained_report is not None and dd.main:
        echo(f"pretrained {cfg.pretrained}: {model.pretrained_report.summary()}")
    if dd.main:
        for line in _banner(cfg, dd, model, entries, sets, val_set, use_amp, use_cl, local_batch):
            echo(line)
    if dd.world > 1 and cfg.sync_bn and cuda:  # SyncBatchNorm is CUDA-only in PyTorch
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model.to(dd.device)
    if use_cl:
        model.to(memory_format=torch.channels_last)
    net = model
    if dd.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[dd.device.index] if cuda else None)

    lr = cfg.resolved_lr()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, poly_lambda(cfg.iters, cfg.poly_power))

    os.makedirs(cfg.out, exist_ok=True)
    train_log = os.path.join(cfg.out, "train.jsonl")
    val_log = os.path.join(cfg.out, "val.jsonl")
    step = 0
    window = torch.zeros(4, dtype=torch.float64)  # loss, boundary, direction sums; steps (on the device)
    if dd.main:
        for p in ckpt.remove_stale(cfg.out):
            echo(f"removed {p} (left by an interrupted save)")
    path, state = None, None
    if cfg.resume:
        path, state, skipped = ckpt.load_latest(cfg.out)
        if dd.main:
            for p, why in skipped:
                echo(f"--resume: skipped {p}: {why}")
        if skipped and state is None:
            raise ckpt.CheckpointError(f"--resume: no intact checkpoint in {cfg.out}/checkpoints "
                                       f"({len(skipped)} skipped, listed above); use a new --out or "
                                       "remove them to start from scratch")
        if state is None and dd.main:
            echo(f"--resume: no checkpoint in {cfg.out}/checkpoints; starting from scratch")
    if state is not None:
        diff = resume_differences(state["config"], cfg)
        if diff:
            raise ValueError(f"{path}: cannot resume with other settings ({'; '.join(diff)}); give the "
                             "run's values (see its config.json) or start a new run with another --out")
        if int(state["config"].get("iters", cfg.iters)) != cfg.iters and dd.main:
            echo(f"iters {state['config'].get('iters')} -> {cfg.iters}: the lr schedule continues "
                 "towards the new total")
        got_m = int(state.get("num_directions", m))
        if got_m != m:
            raise ckpt.CheckpointError(f"cannot resume from {path}: it predicts {got_m} directions, the "
                                       f"shards have {m} (built with --directions {m}); use a new --out")
        try:
            model.load_state_dict(state["model"])
        except RuntimeError as e:
            raise ckpt.CheckpointError(f"cannot resume from {path}: its weights do not fit model "
                                       f"{cfg.model!r} ({str(e).splitlines()[0]}); use a new --out") from None
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step = int(state["step"])
        window = state["log_window"].clone()
        rngs = state["rng"]
        ckpt.set_rng_state(rngs[dd.rank] if len(rngs) == dd.world else rngs[0])
        if dd.main:
            _truncate_jsonl(train_log, step)
            _truncate_jsonl(val_log, step)
            echo(f"resumed from {path} at step {step}")
    elif dd.main:
        for p in (train_log, val_log):
            if os.path.exists(p):
                os.remove(p)
    stream_alloc = step_allocation(cfg, entries, local_batch, dd.world)[1]
    if dd.main:
        save_json(cfg, os.path.join(cfg.out, "config.json"),
                  {"resolved_lr": lr, "world_size": dd.world, "local_batch": local_batch, "num_directions": m,
                   "amp": "bf16" if use_amp else "off", "channels_last": use_cl, "device": str(dd.device),
                   "shard_sets": [{"dir": d, "split": os.path.basename(str(getattr(ds, "root", split))), "weight": w,
                                   "samples": len(ds.samples), "crops_per_batch": a}
                                  for (d, split, w), ds, a in zip(entries, sets, stream_alloc)]})

    aug = AugmentConfig(crop=cfg.crop, flip=cfg.flip, brightness=cfg.brightness,
                        scale=tuple(cfg.scale) if cfg.scale else None, target=cfg.target)
    stream = CropStream(sets, [w for _, _, w in entries], local_batch, seed=cfg.seed, rank=dd.rank,
                        world_size=dd.world, aug=aug)
    loader = make_loader(stream, step * cfg.accum, cfg.iters * cfg.accum, cfg.num_workers, pin_memory=cuda)
    batches = checked_batches(loader)  # a worker's shard error keeps its one-line message
    stepper = TrainStep(net, opt, sched, cfg, dd.device, use_cl, use_amp, dd.world)
    autocast = stepper.autocast
    window = window.to(dd.device)
    last_val: dict = {}
    val_every = cfg.val_every or cfg.ckpt_every
    t_window = time.perf_counter()
    t_start = t_window
    # img/s counts the steps of this process since the last log line (a resumed window also holds
    # steps run before the checkpoint) over the time spent training (validation and checkpoint
    # writing excluded)
    timed_steps, paused = 0, 0.0
    net.train()
    while step < cfg.iters:
        step_lr = opt.param_groups[0]["lr"]
        sums = stepper([next(batches) for _ in range(cfg.accum)])
        step += 1
        window[:3] += sums / cfg.accum
        window[3] += 1
        timed_steps += 1
        if step % cfg.log_every == 0 or step == cfg.iters:
            tot = dd.all_sum(window.clone())  # the one host synchronisation per log line
            # tot[3] counts rank-steps: the means are over ranks and steps
            now = time.perf_counter()
            rec = {"iter": step, "loss": float(tot[0] / tot[3]), "boundary_loss": float(tot[1] / tot[3]),
                   "direction_loss": float(tot[2] / tot[3]), "lr": step_lr,
                   "images_per_s": timed_steps * cfg.batch / max(now - t_window - paused, 1e-9),
                   "elapsed_s": now - t_start}
            if not all(map(lambda v: v == v and abs(v) != float("inf"), (rec["loss"],))):
                raise FloatingPointError(f"non-finite loss at step {step}: {rec}; lower --lr or check the "
                                         "shards (segfix-gt verify), then --resume")
            if dd.main:
                _append_jsonl(train_log, rec)
                echo(f"iter {step}/{cfg.iters} loss {rec['loss']:.4f} (boundary {rec['boundary_loss']:.4f}, "
                     f"direction {rec['direction_loss']:.4f}) lr {step_lr:.5f} "
                     f"{rec['images_per_s']:.3g} img/s")
            window.zero_()
            t_window, timed_steps, paused = now, 0, 0.0
        t_pause = time.perf_counter()
        if val_set is not None and (step % val_every == 0 or step == cfg.iters):
            last_val = _validate(model, val_set, cfg, dd, autocast, use_cl)
            if dd.main:
                _append_jsonl(val_log, {"iter": step, **last_val})
                echo(f"val iter {step}: boundary F {last_val['boundary_f']:.4f} (all-boundary "
                     f"{last_val['boundary_f_all']:.4f}), direction acc {last_val['dir_acc_gt']:.4f} in GT "
                     f"boundary, {last_val['dir_acc_pred']:.4f} in predicted")
        if step % cfg.ckpt_every == 0 or step == cfg.iters:
            saved = _save(cfg, dd, model, opt, sched, step, window, m)
            if dd.main:
                echo(f"saved checkpoint {saved}")
        paused += time.perf_counter() - t_pause
        if cfg.stop_after is not None and step >= cfg.stop_after:
            break
    return last_val if dd.main else {}


def _save(cfg, dd, model, opt, sched, step, window, m) -> str:
    rng = ckpt.rng_state()
    rngs = [None] * dd.world
    if dd.world > 1:
        dist.all_gather_object(rngs, rng)
    else:
        rngs = [rng]
    if dd.main:
        ckpt.save_checkpoint(ckpt.checkpoint_path(cfg.out, step), {
            "format": CHECKPOINT_FORMAT, "step": step, "config": cfg.to_dict(), "num_directions": m,
            "model_spec": model.spec,  # rebuilds this exact network (head, align_corners, ...)
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "data": {"micro_batch": step * cfg.accum, "world_size": dd.world},
            "log_window": window.detach().cpu().clone(), "rng": rngs,
        }, keep=cfg.keep_checkpoints)
    return ckpt.checkpoint_path(cfg.out, step)


@torch.no_grad()
def _validate(model, val_set, cfg, dd, autocast, use_cl) -> dict:
    was = model.training
    model.eval()
    c = torch.zeros(len(COUNTS), dtype=torch.float64)
    for x, bt, dt in val_items(val_set, cfg.target, cfg.val_max_images, dd.rank, dd.world):
        x = x.to(dd.device)
        if use_cl:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast():
            bl, dl = model(x)
        c += count(bl.float(), dl.float(), bt.to(dd.device), dt.to(dd.device))
    model.train(was)
    return summarise(dd.all_sum(c))
