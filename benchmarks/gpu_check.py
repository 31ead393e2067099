"""One GPU check, under 5 minutes on one GPU: is the trainer fast and free of host syncs there?

Prints and writes JSON (``benchmarks/results/gpu_check[_quick].json``) with:

* **train**: img/s of our training step (``segfix_train.step.TrainStep``: uint8 batch to the
  device, flip / brightness / normalisation there, losses on fp32-upsampled logits, SGD) for
  ``hrnet_w18``, ``hrnet_w48`` and ``hrnet2x20`` at batch 16 of 512x512 crops (halved until it
  fits), AMP as ``--amp auto`` picks it (bf16 where native, else fp16 + GradScaler) and
  channels-last, with the peak GPU memory;
* **loader**: crops/s of one DataLoader worker (``random_crop`` on real HDF5 shards of generated
  2048x1024 frames) against the crops/s the fastest model consumes, and the workers that needs;
* **predict**: ms per 2048x1024 frame per model, fp32 (``amp`` ``off``) and bf16 (``bench_predict.bench``), beside
  the paper's Table 2 (V100 + TensorRT: W18 16 ms, W32 20 ms, HRNet-2x 69 ms);
* **sync_check**: one training step under ``torch.cuda.set_sync_debug_mode("error")`` (any
  host synchronisation raises): ``ok``, or the error.

Random weights and batches (timing does not depend on them). ``--device cpu --quick``: tiny
sizes, hrnet_w18 only, seconds (the tests run it; the sync check is skipped without CUDA).
Usage: ``python benchmarks/gpu_check.py [--device cuda|cpu] [--quick] [--json PATH]``.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks._common import machine_metadata, print_metadata, write_json  # noqa: E402
from benchmarks.bench_loader import make_data  # noqa: E402
from benchmarks.bench_predict import PAPER_V100_MS, bench as bench_predict, sync  # noqa: E402
from benchmarks.bench_train import fake_batch  # noqa: E402
from segfix_train.data import AugmentConfig, random_crop  # noqa: E402
from segfix_train.loop import poly_lambda  # noqa: E402
from segfix_train.models import create_model  # noqa: E402
from segfix_train.precision import resolve_amp  # noqa: E402
from segfix_train.step import TrainForward, TrainStep  # noqa: E402

FULL = dict(models=["hrnet_w18", "hrnet_w48", "hrnet2x20"], batch=16, crop=512, steps=10,
            frame=(1024, 2048), loader_frames=2, loader_crops=16, predict_repeats=3, model_args={})
#: a smoke run: a tiny hrnet_w18 (one block per stage, narrow), tiny crops and frame
QUICK = dict(models=["hrnet_w18"], batch=2, crop=32, steps=1, frame=(64, 128), loader_frames=1,
             loader_crops=4, predict_repeats=1,
             model_args={"blocks": 1, "modules": [1, 1, 1], "channels": [8, 16, 32, 64]})


def _stepper(name: str, batch: int, crop: int, dev: torch.device, model_args: dict):
    torch.manual_seed(0)
    model = create_model(name, **model_args).to(dev)
    cl = dev.type == "cuda"
    if cl:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, poly_lambda(10**6, 0.9))
    precision = resolve_amp("auto", dev)
    step = TrainStep(TrainForward(model, precision), opt, sched, device=dev, channels_last=cl)
    batches = [fake_batch(batch, crop, s) for s in range(2)]
    if dev.type == "cuda":
        batches = [{k: v.pin_memory() for k, v in b.items()} for b in batches]
    return step, batches, precision


def train_row(name: str, cfg: dict, dev: torch.device) -> dict:
    """img/s and peak memory at the largest batch (from ``cfg['batch']``, halving) that fits."""
    batch = cfg["batch"]
    while True:
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
                    "peak_mem_gib": peak}
        except torch.cuda.OutOfMemoryError:
            if batch == 1:
                return {"model": name, "batch": 0, "error": "out of memory at batch 1"}
            batch //= 2
        finally:
            step = batches = None


def loader_row(cfg: dict, consumed: float) -> dict:
    """Crops/s of one worker (this process, one thread) reading ``cfg['crop']`` crops from shards."""
    from segfix_data.shards import ShardSet

    h, w = cfg["frame"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory() as root:
            shards, _ = make_data(root, cfg["loader_frames"], h, w, 0)
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, hrnet_w18 only (CPU smoke run)")
    ap.add_argument("--json", default=None, help="output [benchmarks/results/gpu_check[_quick].json]")
    args = ap.parse_args()
    dev = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
                       else "cpu")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: CUDA is not available")
    cfg = QUICK if args.quick else FULL
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    meta = machine_metadata()
    meta["gpu"] = torch.cuda.get_device_name(dev) if dev.type == "cuda" else None
    print_metadata(meta)
    print(f"device {dev}{' (' + meta['gpu'] + ')' if meta['gpu'] else ''}")

    train = [train_row(n, cfg, dev) for n in cfg["models"]]
    for r in train:
        mem = f", peak {r['peak_mem_gib']:.1f} GiB" if r.get("peak_mem_gib") is not None else ""
        print(f"train {r['model']}: batch {r['batch']} x {cfg['crop']}^2, {r.get('amp')}, "
              f"{r.get('img_per_s', 0):.3g} img/s{mem}")
    consumed = max((r.get("img_per_s", 0.0) for r in train), default=0.0)
    loader = loader_row(cfg, consumed)
    print(f"loader: {loader['crops_per_s_per_worker']:.3g} crops/s per worker; the GPU consumes "
          f"{consumed:.3g}/s -> {loader['workers_needed']} workers")
    h, w = cfg["frame"]
    frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    predict = [bench_predict(n, frame, dev, amp, "segfix", cfg["predict_repeats"], cfg["model_args"])
               for amp in ("off", "bf16") for n in cfg["models"]]
    for r in predict:
        paper = PAPER_V100_MS.get(r["model"])
        print(f"predict {r['model']} {r['amp']}: {r['ours_ms']:.1f} ms per {w}x{h} frame "
              f"(bare forward {r['bare_ms']:.1f} ms; paper V100 TRT {paper if paper else '-'} ms)")
    check = sync_check(cfg, dev)
    print(f"sync check: {check['status']}")
    out = write_json("gpu_check_quick" if args.quick else "gpu_check",
                     {"machine": meta, "device": str(dev), "quick": args.quick,
                      "settings": {k: v for k, v in cfg.items()}, "train": train, "loader": loader,
                      "predict": predict, "sync_check": check}, args.json)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
