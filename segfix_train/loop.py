"""The training loop: SGD + poly schedule, AMP (``segfix_train.precision``) and channels-last on
CUDA, gradient accumulation, DDP (``torchrun``; NCCL on CUDA, gloo on CPU), checkpoints that
resume exactly, JSON-lines logs and validation.

Outputs in ``RUN_DIR``: ``config.json`` (resolved configuration), ``train.jsonl`` (one object per
logged step: ``iter``, ``loss``, ``boundary_loss``, ``direction_loss`` (means over the steps since
the previous log line), ``lr``, ``images_per_s`` (global batch x steps since the previous log line,
over the training time without validation and checkpoint writing), ``elapsed_s``), ``val.jsonl`` (``iter`` and the
metrics of ``segfix_train.validate`` per validation set, ``segfix_train.valpass``),
``checkpoints/ckpt_<step>.pt``.

Exact resumption: the crop stream is a function of the micro-batch index (``segfix_train.data``),
so a checkpoint stores that index with the model, optimiser, scheduler, the partial log window and
every rank's RNG states; a resumed run first drops log lines written after the checkpoint. On CPU a
killed and resumed run ends with bitwise the same weights and logs (timing fields aside) as an
uninterrupted one.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable

import torch
import torch.distributed as dist

from segfix_data.errors import InputError
from . import checkpoint as ckpt
from .config import (FIELDS, TrainConfig, describe_sources, plain_origin, resize_for, save_json, shard_entries,
                     val_entries)
from .data import AugmentConfig, CropStream, batch_allocation, checked_batches, make_loader, padding_note
from .distributed import Dist
from .losses import band_note
from .models import create_model
from .precision import Precision, resolve_amp
from .preflight import check_val_split, require_images
from .rundir import claim_run_dir
from .runlog import LogWindow, append_jsonl, truncate_jsonl
from .step import TrainForward, TrainStep
from .validate import BEST_KEY, keep_if_best, num_classes_of
from .valpass import ValSet, Validator, ranked_value, subset_indices

#: Fields of train.jsonl and val.jsonl that are timings (they differ between identical runs).
TIMING_FIELDS = ("images_per_s", "elapsed_s", "seconds")


def default_open_set(directory: str, split: str):
    """Open ``directory``/``split`` with ``segfix_data.shards.ShardSet`` (docs/shards.md, "Reading"); ``train`` /
    ``val`` and ``training`` / ``validation`` are aliases when only one of a pair was built."""
    from segfix_data.datasets.layouts import normalise_split
    from segfix_data.shards import ShardSet, list_splits

    if os.path.isdir(directory):
        split = normalise_split(split, list_splits(directory), directory, "--shards DIR:SPLIT (or --split)")
    return ShardSet(directory, split)


def poly_lambda(iters: int, power: float) -> Callable[[int], float]:
    """lr factor ``(1 - step / iters) ** power`` at optimiser step ``step``."""
    return lambda step: max(0.0, 1.0 - step / iters) ** power


def follow_schedule(opt: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LambdaLR) -> None:
    """Set every parameter group's lr to the schedule's value at its current step. A restored
    optimiser holds the lr its run's schedule last set: after ``--resume`` with another
    ``--iters`` that is the old schedule's (0 at the old end), and the first resumed step would
    use it; the schedule's own lambda (this run's ``--iters``) gives the right one."""
    for group, base, factor in zip(opt.param_groups, sched.base_lrs, sched.lr_lambdas):
        group["lr"] = base * factor(sched.last_epoch)


#: Settings a resumed run may change: when and how it logs, validates and checkpoints, where it
#: runs, and ``iters`` (the poly schedule then runs to the new total). Any other difference from
#: the checkpoint's configuration is refused (it would be ignored, or change the run midway).
RESUME_MAY_CHANGE = frozenset({
    "iters", "resume", "stop_after", "num_workers", "log_every", "ckpt_every", "val_every",
    "val_max_images", "final_val_max_images", "val_split", "val_shards", "val_batch", "val_workers",
    "keep_checkpoints", "device", "amp", "channels_last", "out",
    "pretrained", "allow_partial_pretrained", "sync_bn", "from_scratch", "recipe", "sources", "base_lr",
    "keep_best", "overwrite"})


def resume_differences(saved: dict, cfg: TrainConfig) -> list[str]:
    """``"name: RUN_VALUE -> NEW_VALUE (run: ORIGIN; now: ORIGIN)"`` for each setting that differs
    from the checkpoint's configuration and may not change on resume (``lr`` compared as resolved,
    ``shards`` as (directory, split, weight) entries); the origins (``default``, ``recipe NAME``,
    ``config FILE``, ``flag``) say where each value came from, so that a recipe's value is told
    apart from a default."""
    old = TrainConfig(**{k: v for k, v in saved.items() if k in FIELDS})
    old_src = saved.get("sources") or {}
    out = []
    for name in sorted(FIELDS - RESUME_MAY_CHANGE):
        a, b = getattr(old, name), getattr(cfg, name)
        src = name
        if name == "lr":
            a, b = old.resolved_lr(), cfg.resolved_lr()
        elif name in ("shards", "shard_weights", "split"):
            a, b = shard_entries(old), shard_entries(cfg)
            name = src = "shards"
        where = (f" (run: {plain_origin(_origin(old_src, src, old))}; "
                 f"now: {plain_origin(_origin(cfg.sources, src, cfg))})")
        if a != b and isinstance(a, dict) and isinstance(b, dict):  # only the keys that differ
            out += [f"{name}.{k}: {a.get(k, '<unset>')!r} -> {b.get(k, '<unset>')!r}{where}"
                    for k in sorted(set(a) | set(b), key=str) if a.get(k, _UNSET) != b.get(k, _UNSET)]
        elif a != b and not any(d.startswith(name + ":") for d in out):
            out.append(f"{name}: {a!r} -> {b!r}{where}")
    return out


def _origin(sources: dict, name: str, cfg: TrainConfig) -> str:
    """Where ``cfg`` had setting ``name`` from; the resolved ``lr`` of an unset ``lr`` comes from
    ``base_lr`` (and ``batch``)."""
    if name == "lr" and cfg.lr is None:
        return sources.get("base_lr", "default")
    return sources.get(name, "default")


_UNSET = object()


def step_allocation(cfg: TrainConfig, entries, local_batch: int, world: int) -> tuple[list[int], list[int]]:
    """Crops per shard set: ``(per forward pass on one rank, per optimiser step over all ranks and
    accumulation steps)``; the stream draws the first (largest remainder of the local batch)."""
    local = batch_allocation(local_batch, [w for _, _, w in entries])
    return local, [a * cfg.accum * world for a in local]


def _count(n: int, noun: str) -> str:
    """``"1 crop"``, ``"8 crops"``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _banner(cfg, dd, model, entries, sets, val_sets, precision, use_cl, local_batch) -> list[str]:
    n_params = sum(p.numel() for p in model.parameters())
    local, alloc = step_allocation(cfg, entries, local_batch, dd.world)
    lines = [f"model {cfg.model}: {n_params / 1e6:.2f} M parameters; device {dd.device}, "
             f"AMP {precision.name}, channels-last {'on' if use_cl else 'off'}, "
             f"{dd.world} process{'es' if dd.world > 1 else ''}"]
    for (d, split, w), ds, a in zip(entries, sets, alloc):
        split = os.path.basename(str(getattr(ds, "root", split)))  # as opened (aliases resolved)
        side = resize_for(cfg.resize_short, ds.params)
        resized = f", shorter side resized to {side} before cropping" if side else ""
        lines.append(f"shards {d}:{split}: {_count(len(ds.samples), 'sample')}, weight {w:g}, "
                     f"{_count(a, 'crop')} per batch{resized}")
    lines.append(f"batch {cfg.batch} = {' + '.join(map(str, alloc))} {'crop' if cfg.batch == 1 else 'crops'} "
                 f"of {cfg.crop}x{cfg.crop} "
                 f"({' + '.join(map(str, local))} per forward pass x accum {cfg.accum} x {dd.world} "
                 f"rank{'s' if dd.world > 1 else ''}); lr "
                 f"{cfg.resolved_lr():g}, {cfg.iters} iters")
    note = padding_note(sets, cfg.crop, [resize_for(cfg.resize_short, ds.params) for ds in sets])
    lines += [note] if note else []
    for vs in val_sets:
        n = len(vs.ds.samples)
        lines.append(f"validation {vs.name}: {_frames(len(vs.subset), n)} every {cfg.val_every or cfg.ckpt_every} "
                     f"steps, {_frames(len(vs.final), n)} after the last step ({cfg.val_batch} per forward pass)")
    if not val_sets:
        lines.append("validation: off")
    elif cfg.keep_best:
        over = ", ".join(vs.name for vs in val_sets)
        lines.append(f"--keep-best: best.pt is the model of the validation with the largest {BEST_KEY} on the "
                     f"fixed subset{' (the mean over ' + over + ')' if len(val_sets) > 1 else ' of ' + over}")
    return lines


def _frames(used: int, n: int) -> str:
    return f"all {_count(n, 'frame')}" if used >= n else f"{used} of {_count(n, 'frame')}"


def train(cfg: TrainConfig, *, open_set: Callable | None = None,
          echo: Callable[[str], None] = print) -> dict:
    """Run (or resume) training as configured; returns the last validation metrics on rank 0
    (an empty dict on the other ranks)."""
    open_set = open_set or default_open_set
    dd = Dist(cfg.device)
    try:
        with claim_run_dir(cfg.out, resume=cfg.resume, overwrite=cfg.overwrite, main=dd.main, echo=echo):
            result = _train(cfg, dd, open_set, echo)
        # every rank done before any tears the group down: a rank that destroys it (or exits) while
        # another is still in its last collective aborts that one (gloo: "terminate called ...")
        dd.barrier()
        return result
    finally:
        dd.close()


def _train(cfg: TrainConfig, dd: Dist, open_set: Callable, echo: Callable[[str], None]) -> dict:
    """The orchestration: set up, restore, record the configuration, then step, log, validate and
    save until ``cfg.iters`` (or ``cfg.stop_after``)."""
    say = echo if dd.main else _silent
    run = _setup(cfg, dd, open_set, say)
    validator = Validator(run.val_sets, target=cfg.target, device=dd.device, precision=run.precision,
                          channels_last=run.use_cl, batch=cfg.val_batch, workers=val_workers(cfg),
                          rank=dd.rank, world=dd.world, all_sum=dd.all_sum)
    try:
        return _steps(cfg, dd, run, validator, say)
    finally:
        validator.close()


def _steps(cfg: TrainConfig, dd: Dist, run: "_Run", validator: Validator, say: Callable[[str], None]) -> dict:
    """Restore, record the configuration, then step, log, validate and save."""
    stepper = TrainStep(run.net, run.opt, run.sched, device=dd.device, channels_last=run.use_cl, world=dd.world,
                        loss_args=dict(pixels=cfg.direction_pixels, boundary_weight=cfg.boundary_weight,
                                       direction_weight=cfg.direction_weight))
    step, window = _restore(cfg, dd, run, say, stepper.scaler)
    if dd.main:
        _write_config(cfg, dd, run)
    batches = _batches(cfg, dd, run, step)
    log = LogWindow(dd, window.to(dd.device), run.train_log, say, iters=cfg.iters, batch=cfg.batch)
    last_val: dict = {}
    run.net.train()
    while step < cfg.iters:
        step_lr = run.opt.param_groups[0]["lr"]
        sums = stepper([next(batches) for _ in range(cfg.accum)])
        step += 1
        log.add(sums, cfg.accum)
        if step % cfg.log_every == 0 or step == cfg.iters:
            log.flush(step, step_lr)
        with log.pause():
            last_val = _validate_and_save(cfg, dd, run, validator, step, log.window, stepper.scaler, say) or last_val
        if cfg.stop_after is not None and step >= cfg.stop_after:
            break
    return last_val if dd.main else {}


SCRATCH_WARNING = ("warning: training from scratch: no --pretrained weights (the paper starts from "
                   "ImageNet weights); give --pretrained FILE, or --from-scratch if this is intended")


def initialisation(cfg: TrainConfig, report) -> str:
    """How the weights start, as recorded in ``config.json`` (``init``) and printed: the pretrained
    file and its load report (``model.pretrained_report.summary()``: tensors loaded, missing, ...),
    or training from scratch, asked for (``--from-scratch``) or warned about."""
    if cfg.pretrained:
        return f"pretrained {cfg.pretrained}" + (f": {report.summary()}" if report is not None else "")
    return "from scratch (--from-scratch)" if cfg.from_scratch else "from scratch (no --pretrained; warned)"


def _silent(_: str) -> None:
    """``echo`` of the ranks other than 0."""


@dataclass
class _Run:
    """What ``_setup`` builds: precision choices, the opened shard sets, the model (``net`` is the
    DDP wrapper, or the model itself in one process), optimiser, schedule and log paths."""

    local_batch: int
    cuda: bool
    precision: Precision
    use_cl: bool
    init: str
    entries: list
    sets: list
    val_sets: list
    num_directions: int
    model: torch.nn.Module
    net: torch.nn.Module
    opt: torch.optim.Optimizer
    sched: object
    train_log: str
    val_log: str


def val_workers(cfg: TrainConfig) -> int:
    """Reading processes (and as many scoring processes) of validation: ``val_workers``, else
    ``num_workers``."""
    return int(cfg.num_workers if cfg.val_workers is None else cfg.val_workers)


def open_val_sets(cfg: TrainConfig, open_set: Callable) -> list[ValSet]:
    """The validation sets (``config.val_entries``), opened, each with its name ``DIR:SPLIT`` (the
    split as opened, aliases resolved), its classes and the frames of the passes during the run
    (``val_max_images``, spread over the split) and after the last step (``final_val_max_images``)."""
    out = []
    for d, split in val_entries(cfg):
        check_val_split(d, split)
        ds = open_set(d, split)
        name = f"{d}:{os.path.basename(str(getattr(ds, 'root', split)))}"
        require_images([ds], [name])
        n = len(ds.samples)
        out.append(ValSet(name, ds, num_classes_of(ds), subset_indices(n, cfg.val_max_images),
                          subset_indices(n, cfg.final_val_max_images)))
    return out


def _setup(cfg: TrainConfig, dd: Dist, open_set: Callable, say: Callable[[str], None]) -> _Run:
    """Device and precision, shard sets, model (on the device, DDP-wrapped), SGD and poly schedule;
    prints the pretrained report and the banner."""
    per_step = dd.world * cfg.accum
    if cfg.batch % per_step:
        raise InputError(f"batch {cfg.batch} is not divisible by world_size * accum = {per_step}")
    local_batch = cfg.batch // per_step
    cuda = dd.device.type == "cuda"
    precision = resolve_amp(cfg.amp, dd.device)
    if cuda:
        torch.backends.cudnn.benchmark = True  # fixed crop size: autotuned kernels pay off
    use_cl = cfg.channels_last == "on" or (cfg.channels_last == "auto" and cuda)

    entries = shard_entries(cfg)
    sets = [open_set(d, split) for d, split, _ in entries]
    require_images(sets, [f"{d}:{split}" for d, split, _ in entries])
    val_sets = open_val_sets(cfg, open_set)
    m = int(sets[0].params.get("num_directions", 8))
    for line in describe_sources(cfg):  # once the shards are known to be usable
        say(line)
    if note := band_note([ds.params for ds in sets], cfg.direction_pixels):
        say(note)

    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model, num_directions=m, pretrained=cfg.pretrained,
                         allow_partial=cfg.allow_partial_pretrained, **cfg.model_args)
    init = initialisation(cfg, getattr(model, "pretrained_report", None))
    if cfg.pretrained or not cfg.from_scratch:
        say(init if cfg.pretrained else SCRATCH_WARNING)
    for line in _banner(cfg, dd, model, entries, sets, val_sets, precision, use_cl, local_batch):
        say(line)
    if dd.world > 1 and cfg.sync_bn and cuda:  # SyncBatchNorm is CUDA-only in PyTorch
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model.to(dd.device)
    if use_cl:
        model.to(memory_format=torch.channels_last)
    net = TrainForward(model, precision)
    if dd.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(net, device_ids=[dd.device.index] if cuda else None)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.resolved_lr(), momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, poly_lambda(cfg.iters, cfg.poly_power))
    os.makedirs(cfg.out, exist_ok=True)
    return _Run(local_batch, cuda, precision, use_cl, init, entries, sets, val_sets, m, model, net, opt, sched,
                os.path.join(cfg.out, "train.jsonl"), os.path.join(cfg.out, "val.jsonl"))


def _restore(cfg: TrainConfig, dd: Dist, run: _Run, say: Callable[[str], None],
             scaler=None) -> tuple[int, torch.Tensor]:
    """Remove files left by an interrupted save; with ``--resume``, load the latest intact
    checkpoint (refusing other settings, another direction count or weights that do not fit),
    the fp16 ``scaler``'s state when both runs use one, and cut the logs back to it; without,
    start fresh logs. Returns ``(step, log window)``: the window is float64 ``(4,)`` (loss,
    boundary, direction sums; steps), on the CPU."""
    if dd.main:
        for p in ckpt.remove_stale(cfg.out):
            say(f"removed {p} (left by an interrupted save)")
    path, state = None, None
    if cfg.resume:
        path, state, skipped = ckpt.load_latest(cfg.out)
        for p, why in skipped:
            say(f"--resume: skipped {p}: {why}")
        if skipped and state is None:
            raise ckpt.CheckpointError(f"--resume: no intact checkpoint in {cfg.out}/checkpoints "
                                       f"({len(skipped)} skipped, listed above); use a new --out or "
                                       "remove them to start from scratch")
        if state is None:
            say(f"--resume: no checkpoint in {cfg.out}/checkpoints; starting from scratch")
    if state is None:
        if dd.main:
            for p in (run.train_log, run.val_log):
                if os.path.exists(p):
                    os.remove(p)
            ckpt.clear_best(cfg.out)
        return 0, torch.zeros(4, dtype=torch.float64)
    _check_resumable(cfg, state, path, run.num_directions, say)
    try:
        run.model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise ckpt.CheckpointError(f"cannot resume from {path}: its weights do not fit model "
                                   f"{cfg.model!r} ({str(e).splitlines()[0]}); use a new --out") from None
    run.opt.load_state_dict(state["optimizer"])
    run.sched.load_state_dict(state["scheduler"])
    follow_schedule(run.opt, run.sched)
    if scaler is not None and state.get("grad_scaler"):  # its loss scale and growth tracker
        scaler.load_state_dict(state["grad_scaler"])
    step = int(state["step"])
    rngs = state["rng"]
    ckpt.set_rng_state(rngs[dd.rank] if len(rngs) == dd.world else rngs[0])
    if dd.main:
        truncate_jsonl(run.train_log, step)
        truncate_jsonl(run.val_log, step)
    say(f"resumed from {path} at step {step}")
    return step, state["log_window"].clone()


def _check_resumable(cfg: TrainConfig, state: dict, path: str, m: int, say: Callable[[str], None]) -> None:
    """Refuse a checkpoint whose settings (``RESUME_MAY_CHANGE`` aside) or direction count differ."""
    diff = resume_differences(state["config"], cfg)
    if diff:
        raise InputError(f"{path}: cannot resume with other settings ({'; '.join(diff)}); give the "
                         "run's values (see its config.json) or start a new run with another --out")
    if int(state["config"].get("iters", cfg.iters)) != cfg.iters:
        step = int(state["step"])
        lr = cfg.resolved_lr() * poly_lambda(cfg.iters, cfg.poly_power)(step)
        say(f"iters {state['config'].get('iters')} -> {cfg.iters}: the lr schedule runs to the new "
            f"total from step {step + 1} on (lr {lr:.5g} there)")
    got_m = int(state.get("num_directions", m))
    if got_m != m:
        raise ckpt.CheckpointError(f"cannot resume from {path}: it predicts {got_m} directions, the "
                                   f"shards have {m} (built with --directions {m}); use a new --out")


def _write_config(cfg: TrainConfig, dd: Dist, run: _Run) -> None:
    """``RUN_DIR/config.json``: the settings (which ``--resume`` takes up again) and, under other
    names, what they resolved to on this machine (``resolved_amp``, ``resolved_device``, ...)."""
    alloc = step_allocation(cfg, run.entries, run.local_batch, dd.world)[1]
    save_json(cfg, os.path.join(cfg.out, "config.json"),
              {"resolved_lr": cfg.resolved_lr(), "world_size": dd.world, "local_batch": run.local_batch,
               "num_directions": run.num_directions, "resolved_amp": run.precision.name, "init": run.init,
               "resolved_channels_last": run.use_cl, "resolved_device": str(dd.device),
               "validation_sets": [{"name": vs.name, "frames": len(vs.ds.samples), "subset": len(vs.subset),
                                    "final": len(vs.final)} for vs in run.val_sets],
               "shard_sets": [{"dir": d, "split": os.path.basename(str(getattr(ds, "root", split))), "weight": w,
                               "samples": len(ds.samples), "crops_per_batch": a}
                              for (d, split, w), ds, a in zip(run.entries, run.sets, alloc)]})


def _batches(cfg: TrainConfig, dd: Dist, run: _Run, step: int):
    """The crop stream of this rank from micro-batch ``step * accum`` on, through the DataLoader."""
    augs = [AugmentConfig(crop=cfg.crop, flip=cfg.flip, brightness=cfg.brightness,
                          scale=tuple(cfg.scale) if cfg.scale else None, target=cfg.target,
                          resize_short=resize_for(cfg.resize_short, ds.params), pad_mode=cfg.pad_mode)
            for ds in run.sets]  # each set its own preprocessing (the unified recipe resizes ADE20K only)
    stream = CropStream(run.sets, [w for _, _, w in run.entries], run.local_batch, seed=cfg.seed,
                        rank=dd.rank, world_size=dd.world, aug=augs)
    loader = make_loader(stream, step * cfg.accum, cfg.iters * cfg.accum, cfg.num_workers, pin_memory=run.cuda)
    return checked_batches(loader)  # a worker's shard error keeps its one-line message


def _validate_and_save(cfg: TrainConfig, dd: Dist, run: _Run, validator: Validator, step: int,
                       window: torch.Tensor, scaler, say: Callable[[str], None]) -> dict | None:
    """At validation steps run a validation pass (the fixed subset; after the last step the final
    frames too) and append its record to ``val.jsonl`` (returns it); at checkpoint steps save
    (with the fp16 GradScaler's state, ``scaler``, when training has one). Both happen at the
    last step."""
    record = None
    last = step == cfg.iters
    if run.val_sets and (step % (cfg.val_every or cfg.ckpt_every) == 0 or last):
        record = validation_record(step, validator.run(run.model, final=last))
        if dd.main:
            append_jsonl(run.val_log, record)
        for line in validation_lines(record):
            say(line)
        if dd.main and cfg.keep_best:
            ranked = {BEST_KEY: record["best_value"], "iter": step, "sets": record.get("subset", record["sets"])}
            if kept := keep_if_best(cfg.out, run.model, cfg, step, ranked):
                say(kept)
    if step % cfg.ckpt_every == 0 or last:
        _check_finite(dd, window, step)
        saved = _save(cfg, dd, run.model, run.opt, run.sched, step, window, scaler)
        say(f"saved checkpoint {saved}")
    return record


def validation_record(step: int, result: dict) -> dict:
    """The ``val.jsonl`` line of one validation pass (``Validator.run``'s ``result``): ``iter``,
    ``pass`` (``subset`` or ``final``), ``sets`` (metrics per set), for the final pass ``subset``
    (the subset's metrics), ``best_key`` / ``best_value`` (what ``--keep-best`` ranks by: the
    subset's ``BEST_KEY``, mean over the sets), ``seconds``; and at the top level the first set's
    metrics of this pass (the figures of a run with one validation set, where they always were)."""
    sets = result["sets"]
    rec = {"iter": step, **next(iter(sets.values())), "pass": "final" if "subset" in result else "subset",
           "sets": sets}
    if "subset" in result:
        rec["subset"] = result["subset"]
    rec.update(best_key=BEST_KEY, best_value=ranked_value(result.get("subset", sets), BEST_KEY),
               seconds=result["seconds"])
    return rec


def validation_lines(rec: dict) -> list[str]:
    """One printed line per validation set of a ``val.jsonl`` record."""
    out = []
    for name, m in rec["sets"].items():
        out.append(f"val iter {rec['iter']} {name} ({m['images']} frames): boundary F {m['boundary_f']:.4f} "
                   f"(all-boundary {m['boundary_f_all']:.4f}), direction acc {m['dir_acc_gt']:.4f} in GT "
                   f"boundary, {m['dir_acc_pred']:.4f} in predicted; refinement of the x8 coarse labels: "
                   f"mIoU {m['delta_miou']:+.4f}, F@1px {m['delta_f_1px']:+.4f}")
    return out


def _check_finite(dd: Dist, window: torch.Tensor, step: int) -> None:
    """Refuse to checkpoint after a non-finite loss: ``window`` holds the losses of the steps since
    the last log line (those before were checked when logged), summed over ranks here."""
    tot = dd.all_sum(window.clone())
    if not math.isfinite(float(tot[:3].sum())):
        raise FloatingPointError(f"non-finite loss before the checkpoint at step {step}; nothing saved; "
                                 "lower --lr or check the shards (segfix-gt verify), then --resume")


def _save(cfg, dd, model, opt, sched, step, window, scaler=None) -> str:
    """Write ``checkpoints/ckpt_<step>.pt`` (rank 0; every rank's RNG state gathered into it)."""
    rng = ckpt.rng_state()
    rngs = [None] * dd.world
    if dd.world > 1:
        dist.all_gather_object(rngs, rng)
    else:
        rngs = [rng]
    if dd.main:
        payload = ckpt.make_payload(
            ckpt.TRAIN_FORMAT, model, cfg.to_dict(), step=step, optimizer=opt.state_dict(),
            scheduler=sched.state_dict(), data={"micro_batch": step * cfg.accum, "world_size": dd.world},
            log_window=window.detach().cpu().clone(), rng=rngs,
            grad_scaler=scaler.state_dict() if scaler is not None else None)
        ckpt.save_checkpoint(ckpt.checkpoint_path(cfg.out, step), payload, keep=cfg.keep_checkpoints)
    return ckpt.checkpoint_path(cfg.out, step)
