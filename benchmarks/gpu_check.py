"""One GPU check, under 5 minutes on one GPU: is the trainer fast and free of host syncs there?

Runs from a checkout with ``PYTHONPATH=.`` and nothing installed beyond torch, numpy, scipy,
numba, h5py, scikit-image and pillow (its shards use zlib tiles: plain h5py reads them, no
hdf5plugin). Prints and writes JSON (``benchmarks/results/gpu_check[_quick].json``) with:

* **train**: img/s of our training step (``segfix_train.step.TrainStep``: uint8 batch to the
  device, flip / brightness / normalisation there, losses on fp32-upsampled logits, SGD) for
  ``hrnet_w18``, ``hrnet_w48`` and ``hrnet2x20`` at batch 16 of 512x512 crops (halved until it
  fits), AMP as ``--amp auto`` picks it and channels-last, with the peak GPU memory;
* **end_to_end**: ``segfix train`` itself (``loop.train``: shards of generated 2048x1024 frames,
  DataLoader workers, logging, the checkpoint at the end) for the recipe's ``hrnet2x20`` with 2
  and 4 workers: img/s against the bare step's, i.e. the share of time the GPU waits;
* **checkpoint**: seconds to write a training checkpoint of ``hrnet2x20`` (model, SGD state, digest);
* **validation**: seconds per frame of ``segfix_train.valpass`` for 2048x1024 frames and frames
  of odd sizes (1000x750, 513x389), first pass and later passes, with the peak memory of a
  full-size validation forward; and the projected share of an 80K Cityscapes run
  (``bench_validation.projection``, with this GPU's training step and validation seconds);
* **host_syncs**: host synchronisations counted over 20 loop steps and one log flush
  (``torch.cuda.set_sync_debug_mode("warn")``) for ``--direction-pixels`` gt, predicted and
  both, ``--accum 2`` and ``--amp fp16``;
* **precision**: the loss of 50 steps in bf16 against fp32, from the same weights on the same
  crops;
* **loader**: crops/s of one DataLoader worker against what the fastest model consumes;
* **predict**: ms per 2048x1024 frame per model, fp32 and bf16, beside the paper's Table 2;
* **sync_check**: one training step under ``set_sync_debug_mode("error")``.

Random weights (timing does not depend on them). ``--dry-run`` (``--cpu --quick``): every section
on the CPU with tiny sizes, in seconds (the tests run it; sync counts need CUDA and are reported
as not measured). Usage: ``PYTHONPATH=. python benchmarks/gpu_check.py [--device cuda|cpu]
[--quick] [--dry-run] [--json PATH]``.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import re
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks._common import machine_metadata, print_metadata, write_json  # noqa: E402
from benchmarks.bench_predict import PAPER_V100_MS, bench as bench_predict, sync  # noqa: E402
from benchmarks.bench_train import fake_batch  # noqa: E402
from benchmarks.bench_validation import RECIPE, projection  # noqa: E402
from segfix_train.data import AugmentConfig, random_crop  # noqa: E402
from segfix_train.loop import poly_lambda  # noqa: E402
from segfix_train.models import create_model  # noqa: E402
from segfix_train.precision import resolve_amp  # noqa: E402
from segfix_train.step import TrainForward, TrainStep  # noqa: E402

TINY = {"blocks": 1, "modules": [1, 1, 1], "channels": [8, 16, 32, 64]}
FULL = dict(models=["hrnet_w18", "hrnet_w48", "hrnet2x20"], batch=16, crop=512, steps=10,
            frame=(1024, 2048), loader_crops=16, predict_repeats=3, model_args={},
            e2e_model="hrnet2x20", e2e_frames=8, e2e_iters=30, e2e_log_every=10, e2e_workers=[2, 4],
            val_model="hrnet2x20",
            val_sets={"cs": ((1024, 2048), 8), "odd": ((750, 1000), 4), "odd2": ((389, 513), 4)},
            val_batch=4, sync_model="hrnet_w18", sync_batch=4, sync_steps=20,
            prec_model="hrnet_w18", prec_batch=8, prec_steps=50)
#: a smoke run: a tiny hrnet_w18 (one block per stage, narrow), tiny crops and frames
QUICK = dict(models=["hrnet_w18"], batch=2, crop=32, steps=1, frame=(64, 128), loader_crops=4, predict_repeats=1,
             model_args=TINY,
             e2e_model="hrnet_w18", e2e_frames=2, e2e_iters=3, e2e_log_every=1, e2e_workers=[2],
             val_model="hrnet_w18", val_sets={"cs": ((64, 128), 2), "odd": ((37, 53), 2)},
             val_batch=2, sync_model="hrnet_w18", sync_batch=2, sync_steps=2,
             prec_model="hrnet_w18", prec_batch=2, prec_steps=2)
#: The loop configurations whose host synchronisations are counted: name -> (settings, expected
#: syncs per window of ``sync_steps`` steps + one log flush, and why).
SYNC_CASES = {
    "gt": ({}, "1: the log flush"),
    "predicted": ({"pixels": "predicted"}, "1: the log flush"),
    "both": ({"pixels": "both"}, "1: the log flush"),
    "accum2": ({"accum": 2}, "1: the log flush"),
    "fp16": ({"amp": "fp16"}, "1 per step (the GradScaler's inf check) + the log flush"),
}


def _stepper(name: str, batch: int, crop: int, dev: torch.device, model_args: dict, amp: str = "auto",
             pixels: str = "gt"):
    torch.manual_seed(0)
    model = create_model(name, **model_args).to(dev)
    cl = dev.type == "cuda"
    if cl:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, poly_lambda(10**6, 0.9))
    precision = resolve_amp(amp, dev)
    step = TrainStep(TrainForward(model, precision), opt, sched, device=dev, channels_last=cl,
                     loss_args={"pixels": pixels})
    batches = [fake_batch(batch, crop, s) for s in range(2)]
    if dev.type == "cuda":
        batches = [{k: v.pin_memory() for k, v in b.items()} for b in batches]
    return step, batches, precision


def train_row(name: str, cfg: dict, dev: torch.device) -> dict:
    """img/s, seconds per step and peak memory at the largest batch (from ``cfg['batch']``,
    halving) that fits."""
    batch = cfg["batch"]
    while True:
        step = batches = None
        try:
            if dev.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            step, batches, precision = _stepper(name, batch, cfg["crop"], dev, cfg["model_args"])
            step([batches[0]])
            step([batches[1]])  # warm-up (cudnn.benchmark autotuning)
            sync(dev)
            t = time.perf_counter()
            for i in range(cfg["steps"]):
                step([batches[i % 2]])
            sync(dev)
            sec = time.perf_counter() - t
            peak = torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda" else None
            return {"model": name, "batch": batch, "crop": cfg["crop"], "amp": precision.name,
                    "channels_last": dev.type == "cuda", "img_per_s": batch * cfg["steps"] / sec,
                    "step_s": sec / cfg["steps"], "peak_mem_gib": peak}
        except torch.cuda.OutOfMemoryError:
            if batch == 1:
                return {"model": name, "batch": 0, "error": "out of memory at batch 1"}
            batch //= 2
        finally:
            step = batches = None


def loader_row(cfg: dict, consumed: float, shards: str) -> dict:
    """Crops/s of one worker (this process, one thread) reading ``cfg['crop']`` crops from the
    generated train ``shards``."""
    from segfix_data.shards import ShardSet

    h, w = cfg["frame"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ds = ShardSet(shards, "train")
        aug = AugmentConfig(crop=cfg["crop"])
        n = cfg["loader_crops"]
        random_crop(ds, 0, np.random.default_rng(0), aug, 8)  # open the files
        t = time.perf_counter()
        for k in range(n):
            random_crop(ds, k % len(ds.samples), np.random.default_rng(k + 1), aug, 8)
        per_worker = n / (time.perf_counter() - t)
    finally:
        torch.set_num_threads(threads)
    return {"crop": cfg["crop"], "frame": [h, w], "crops_per_s_per_worker": per_worker,
            "gpu_consumes_crops_per_s": consumed,
            "workers_needed": math.ceil(consumed / per_worker) if consumed else None}


def sync_check(cfg: dict, dev: torch.device) -> dict:
    """One training step with any host synchronisation raising an error."""
    if dev.type != "cuda":
        return {"status": "skipped (no CUDA)"}
    step, batches, _ = _stepper(cfg["models"][0], min(cfg["batch"], 4), cfg["crop"], dev, cfg["model_args"])
    step([batches[0]])
    sync(dev)
    torch.cuda.set_sync_debug_mode("error")
    try:
        step([batches[1]])
        status = "ok"
    except RuntimeError as e:
        status = f"error: {str(e).splitlines()[0]}"
    finally:
        torch.cuda.set_sync_debug_mode("default")
    sync(dev)
    return {"model": cfg["models"][0], "status": status}


# --- end to end ------------------------------------------------------------------------------

def make_train_shards(root: str, n: int, h: int, w: int) -> str:
    """``n`` generated Cityscapes-layout train frames of ``h`` x ``w`` as zlib shards."""
    from segfix_data.shards import BuildConfig, build
    from segfix_data.synthetic import write_example_dataset

    write_example_dataset(os.path.join(root, "cs"), splits={"train": n}, height=h, width=w, seed=1)
    build(os.path.join(root, "cs"), os.path.join(root, "shards"), ["train"], BuildConfig(image_level=0, codec="zlib"))
    return os.path.join(root, "shards")


def end_to_end_rows(cfg: dict, dev: torch.device, bare: dict | None, shards: str) -> list[dict]:
    """``segfix train`` (``loop.train``) img/s with each worker count of ``cfg['e2e_workers']``,
    the first log window (autotuning) left out, against the bare step's img/s (``bare``: the
    ``train`` row of the same model): ``gpu_idle_share = 1 - end_to_end / bare``; and the
    seconds of the checkpoint the run writes at its end (from the run's log)."""
    from segfix_train.config import resolve
    from segfix_train.loop import train

    model_args = cfg["model_args"]
    rows = []
    with tempfile.TemporaryDirectory() as root:
        for workers in cfg["e2e_workers"]:
            out = os.path.join(root, f"run{workers}")
            c = resolve(shards=[shards], out=out, model=cfg["e2e_model"], model_args=dict(model_args),
                        iters=cfg["e2e_iters"], batch=bare["batch"] if bare else cfg["batch"], crop=cfg["crop"],
                        log_every=cfg["e2e_log_every"], ckpt_every=10**9, num_workers=workers, val_split="",
                        device=dev.type, from_scratch=True)
            c.val_split = None
            lines: list[str] = []
            t = time.perf_counter()
            train(c, echo=lines.append)
            wall = time.perf_counter() - t
            with open(os.path.join(out, "train.jsonl")) as f:
                logs = [json.loads(ln) for ln in f]
            rates = [r["images_per_s"] for r in logs[1:]] or [logs[-1]["images_per_s"]]
            e2e = float(np.mean(rates))
            row = {"model": cfg["e2e_model"], "workers": workers, "batch": c.batch, "crop": c.crop,
                   "img_per_s": e2e, "bare_img_per_s": bare.get("img_per_s") if bare else None,
                   "run_wall_s": wall}
            if bare and bare.get("img_per_s"):
                row["gpu_idle_share"] = max(0.0, 1.0 - e2e / bare["img_per_s"])
            rows.append(row)
    return rows


def checkpoint_row(name: str, model_args: dict, dev: torch.device, repeats: int = 3) -> dict:
    """Seconds to write one training checkpoint (``checkpoint.save_checkpoint``: payload with
    model, SGD momentum, digest) of ``name``, and its size."""
    from segfix_train import checkpoint as ckpt

    step, batches, _ = _stepper(name, 2, 64, dev, model_args)
    step([batches[0]])  # momentum buffers exist
    sync(dev)
    model = step.net.model
    times = []
    with tempfile.TemporaryDirectory() as root:
        for k in range(repeats):
            t = time.perf_counter()
            payload = ckpt.make_payload(
                ckpt.TRAIN_FORMAT, model, {"model": name}, step=k, optimizer=step.opt.state_dict(),
                scheduler=step.sched.state_dict(), data={"micro_batch": k, "world_size": 1},
                log_window=torch.zeros(4, dtype=torch.float64), rng=[ckpt.rng_state()], grad_scaler=None)
            path = ckpt.checkpoint_path(root, k + 1)
            ckpt.save_checkpoint(path, payload, keep=1)
            times.append(time.perf_counter() - t)
            size = os.path.getsize(path)
    return {"model": name, "write_s": float(np.median(times)), "mib": size / 2**20}


# --- validation ------------------------------------------------------------------------------

def validation_rows(cfg: dict, dev: torch.device) -> dict:
    """Seconds per frame of the validation pass per frame size (a first pass and a later one),
    the peak memory of each pass, with cudnn.benchmark on as the trainer has it; for the first
    (full-size) set also the former validation's seconds per frame (``before_pass``)."""
    from segfix_data.shards import ShardSet
    from benchmarks.bench_validation import before_pass, make_val_shards, validator_for

    cuda = dev.type == "cuda"
    precision = resolve_amp("auto", dev)
    torch.manual_seed(0)
    model = create_model(cfg["val_model"], **cfg["model_args"]).to(dev)
    if cuda:
        model.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
    from segfix_train.config import TrainConfig
    from segfix_train.loop import val_workers

    workers = val_workers(TrainConfig())  # the defaults' (--workers 2), as the projection assumes
    rows = []
    with tempfile.TemporaryDirectory() as root:
        for k, (name, ((h, w), n)) in enumerate(cfg["val_sets"].items()):
            ds = ShardSet(make_val_shards(os.path.join(root, name), n, h, w, seed=k), "val")
            v = validator_for({f"{name}:val": ds}, dev, precision, cuda, cfg["val_batch"], workers)
            try:
                if cuda:
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats()
                passes = []
                for _ in range(2):
                    sync(dev)
                    t = time.perf_counter()
                    v.run(model)
                    sync(dev)
                    passes.append((time.perf_counter() - t) / n)
                peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
            finally:
                v.close()
            row = {"set": name, "frame": [h, w], "frames": n, "batch": cfg["val_batch"], "workers": workers,
                   "first_pass_s_per_frame": passes[0], "s_per_frame": passes[1], "peak_mem_gib": peak}
            if k == 0:
                before_pass(model, ds, [0], dev, precision, cuda)  # warm-up
                sync(dev)
                t = time.perf_counter()
                before_pass(model, ds, range(n), dev, precision, cuda)
                sync(dev)
                row["before_s_per_frame"] = (time.perf_counter() - t) / n
            rows.append(row)
    return {"model": cfg["val_model"], "amp": precision.name, "rows": rows}


# --- host synchronisations -------------------------------------------------------------------

SYNC_WARNING = re.compile(r"synchroniz", re.I)


def count_sync_warnings(records) -> int:
    """How many of the caught ``warnings`` records are CUDA's "called a synchronizing CUDA
    operation" warnings (``set_sync_debug_mode("warn")`` emits one per synchronisation)."""
    return sum(1 for r in records if SYNC_WARNING.search(str(r.message)))


def loop_window(step, batches, log, accum: int, steps: int) -> None:
    """``steps`` optimiser steps of the training loop (``accum`` micro-batches each) and the log
    flush at the end of the window, as ``loop._steps`` runs them."""
    for i in range(steps):
        lr = step.opt.param_groups[0]["lr"]
        sums = step([batches[(i * accum + a) % len(batches)] for a in range(accum)])
        log.add(sums, accum)
    log.flush(steps, lr)


def host_sync_rows(cfg: dict, dev: torch.device) -> list[dict]:
    """Host synchronisations of ``cfg['sync_steps']`` loop steps and one log flush per
    ``SYNC_CASES`` entry; on the CPU the window runs but nothing is counted."""
    from segfix_train.distributed import Dist
    from segfix_train.runlog import LogWindow

    rows = []
    with tempfile.TemporaryDirectory() as root:
        for case, (over, expected) in SYNC_CASES.items():
            accum = over.get("accum", 1)
            step, batches, precision = _stepper(cfg["sync_model"], cfg["sync_batch"], cfg["crop"], dev,
                                                cfg["model_args"], amp=over.get("amp", "auto"),
                                                pixels=over.get("pixels", "gt"))
            log = LogWindow(Dist(dev.type), torch.zeros(4, dtype=torch.float64, device=dev),
                            os.path.join(root, f"{case}.jsonl"), lambda s: None, iters=cfg["sync_steps"],
                            batch=cfg["sync_batch"] * accum)
            loop_window(step, batches, log, accum, 1)  # warm-up window
            sync(dev)
            count = None
            if dev.type == "cuda":
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    torch.cuda.set_sync_debug_mode("warn")
                    try:
                        loop_window(step, batches, log, accum, cfg["sync_steps"])
                    finally:
                        torch.cuda.set_sync_debug_mode("default")
                count = count_sync_warnings(caught)
            else:
                loop_window(step, batches, log, accum, cfg["sync_steps"])
            rows.append({"case": case, "amp": precision.name, "accum": accum, "steps": cfg["sync_steps"],
                         "syncs": count, "expected": expected,
                         "note": None if count is not None else "not measured (CUDA only)"})
    return rows


# --- bf16 against fp32 -----------------------------------------------------------------------

def precision_row(cfg: dict, dev: torch.device, shards: str) -> dict:
    """Losses of ``cfg['prec_steps']`` steps in bf16 and in fp32 from the same initial weights on
    the same crops (the generated train ``shards``, ``CropStream``): the largest and mean absolute
    difference and the last losses."""
    from segfix_data.shards import ShardSet
    from segfix_train.data import CropStream

    ds = ShardSet(shards, "train")
    stream = CropStream([ds], [1.0], cfg["prec_batch"], seed=0, aug=AugmentConfig(crop=cfg["crop"]))
    batches = [stream[b] for b in range(cfg["prec_steps"])]
    torch.manual_seed(0)
    start = create_model(cfg["prec_model"], **cfg["model_args"]).state_dict()
    losses = {}
    for amp in ("off", "bf16"):
        step, _, _ = _stepper(cfg["prec_model"], cfg["prec_batch"], cfg["crop"], dev, cfg["model_args"], amp=amp)
        step.net.model.load_state_dict(copy.deepcopy(start))
        out = [step([b]) for b in batches]
        losses[amp] = [float(s[0]) for s in out]
    diff = np.abs(np.array(losses["bf16"]) - np.array(losses["off"]))
    return {"model": cfg["prec_model"], "batch": cfg["prec_batch"], "steps": cfg["prec_steps"],
            "fp32": losses["off"], "bf16": losses["bf16"], "max_abs_diff": float(diff.max()),
            "mean_abs_diff": float(diff.mean()),
            "max_rel_diff": float((diff / np.maximum(np.abs(losses["off"]), 1e-12)).max())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--cpu", action="store_true", help="= --device cpu")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, hrnet_w18 only (CPU smoke run)")
    ap.add_argument("--dry-run", action="store_true", help="= --cpu --quick: every section, in seconds")
    ap.add_argument("--json", default=None, help="output [benchmarks/results/gpu_check[_quick].json]")
    args = ap.parse_args()
    if args.dry_run:
        args.cpu = args.quick = True
    if args.cpu:
        args.device = "cpu"
    dev = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
                       else "cpu")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: CUDA is not available")
    cfg = QUICK if args.quick else FULL
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    else:
        torch.set_num_threads(1)  # tiny CPU ops: one thread (a shared machine's spinning OpenMP threads cost 20x)
    meta = machine_metadata()
    meta["gpu"] = torch.cuda.get_device_name(dev) if dev.type == "cuda" else None
    print_metadata(meta)
    print(f"device {dev}{' (' + meta['gpu'] + ')' if meta['gpu'] else ''}", flush=True)
    seconds: dict[str, float] = {}

    def section(name, fn):
        t = time.perf_counter()
        out = fn()
        seconds[name] = time.perf_counter() - t
        return out

    data_root = tempfile.TemporaryDirectory()
    shards = section("data", lambda: make_train_shards(data_root.name, cfg["e2e_frames"], *cfg["frame"]))
    train = section("train", lambda: [train_row(n, cfg, dev) for n in cfg["models"]])
    for r in train:
        mem = f", peak {r['peak_mem_gib']:.1f} GiB" if r.get("peak_mem_gib") is not None else ""
        print(f"train {r['model']}: batch {r['batch']} x {cfg['crop']}^2, {r.get('amp')}, "
              f"{r.get('img_per_s', 0):.3g} img/s{mem}", flush=True)
    bare = next((r for r in train if r["model"] == cfg["e2e_model"]), None)
    e2e = section("end_to_end", lambda: end_to_end_rows(cfg, dev, bare, shards))
    for r in e2e:
        idle = f", GPU idle {100 * r['gpu_idle_share']:.1f}%" if "gpu_idle_share" in r else ""
        print(f"segfix train {r['model']} with {r['workers']} workers: {r['img_per_s']:.3g} img/s "
              f"(bare step {r['bare_img_per_s'] or 0:.3g}){idle}", flush=True)
    ck = section("checkpoint", lambda: checkpoint_row(cfg["e2e_model"], cfg["model_args"], dev))
    print(f"checkpoint {ck['model']}: {ck['write_s']:.2f} s to write {ck['mib']:.0f} MiB", flush=True)
    val = section("validation", lambda: validation_rows(cfg, dev))
    for r in val["rows"]:
        mem = f", peak {r['peak_mem_gib']:.1f} GiB" if r["peak_mem_gib"] is not None else ""
        print(f"validation {val['model']} {r['frame'][1]}x{r['frame'][0]}: {r['s_per_frame']:.4f} s/frame "
              f"(first pass {r['first_pass_s_per_frame']:.4f}){mem}", flush=True)
    full = val["rows"][0]
    step_row = next((r for r in train if r["model"] == val["model"]), None)
    if step_row and step_row.get("step_s") and step_row["batch"] == cfg["batch"]:
        val["projection"] = projection(step_row["step_s"], full["before_s_per_frame"], full["s_per_frame"],
                                       full["first_pass_s_per_frame"])
        p = val["projection"]
        print(f"validation s/frame at {full['frame'][1]}x{full['frame'][0]}: before {full['before_s_per_frame']:.4f}, "
              f"after {full['s_per_frame']:.4f}; projected share of an 80K Cityscapes run (recipe defaults): "
              f"before {100 * p['before_share']:.1f}% ({p['frames_before']} frames), after "
              f"{100 * p['after_share']:.2f}% ({p['frames_after']} frames)", flush=True)
    syncs = section("host_syncs", lambda: host_sync_rows(cfg, dev))
    for r in syncs:
        print(f"host syncs {r['case']} ({r['amp']}, accum {r['accum']}): "
              f"{r['syncs'] if r['syncs'] is not None else r['note']} over {r['steps']} steps + a log flush "
              f"(expected {r['expected']})", flush=True)
    prec = section("precision", lambda: precision_row(cfg, dev, shards))
    print(f"bf16 vs fp32 loss over {prec['steps']} steps ({prec['model']}): max |diff| {prec['max_abs_diff']:.4g}, "
          f"mean {prec['mean_abs_diff']:.4g} (last {prec['bf16'][-1]:.4f} vs {prec['fp32'][-1]:.4f})", flush=True)
    consumed = max((r.get("img_per_s", 0.0) for r in train), default=0.0)
    loader = section("loader", lambda: loader_row(cfg, consumed, shards))
    data_root.cleanup()
    print(f"loader: {loader['crops_per_s_per_worker']:.3g} crops/s per worker; the GPU consumes "
          f"{consumed:.3g}/s -> {loader['workers_needed']} workers", flush=True)
    h, w = cfg["frame"]
    frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    predict = section("predict", lambda: [
        bench_predict(n, frame, dev, amp, "segfix", cfg["predict_repeats"], cfg["model_args"])
        for amp in ("off", "bf16") for n in cfg["models"]])
    for r in predict:
        paper = PAPER_V100_MS.get(r["model"])
        print(f"predict {r['model']} {r['amp']}: {r['ours_ms']:.1f} ms per {w}x{h} frame "
              f"(bare forward {r['bare_ms']:.1f} ms; paper V100 TRT {paper if paper else '-'} ms)")
    check = section("sync_check", lambda: sync_check(cfg, dev))
    print(f"sync check: {check['status']}")
    print(f"seconds per section: {', '.join(f'{k} {v:.0f}' for k, v in seconds.items())}; "
          f"total {sum(seconds.values()):.0f} s")
    out = write_json("gpu_check_quick" if args.quick else "gpu_check",
                     {"machine": meta, "device": str(dev), "quick": args.quick, "recipe": RECIPE,
                      "settings": {k: v for k, v in cfg.items() if k != "val_sets"},
                      "val_sets": {k: {"frame": list(v[0]), "frames": v[1]} for k, v in cfg["val_sets"].items()},
                      "train": train, "end_to_end": e2e, "checkpoint": ck, "validation": val,
                      "host_syncs": syncs, "precision": prec, "loader": loader, "predict": predict,
                      "sync_check": check, "seconds": seconds}, args.json)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
