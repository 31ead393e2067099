"""Validation seconds per frame, before and after, same frames, model and process; and the share of
an 80K-iteration Cityscapes run (recipe defaults) that validation takes.

* **before**: the validation the trainer had: one frame at a time in the training process, read
  from the shard and normalised on the host, the network's logits upsampled under autocast,
  ``validate.count`` and ``RefinementScore.update`` (which scores the coarse map and the refined
  map, every validation) -- over the whole split every ``--ckpt-every`` steps.
* **after**: ``segfix_train.valpass.Validator`` (frames of one size batched, read in workers and
  normalised on the device, refinement scored in a pool of processes, the coarse maps' scores
  once per run, cudnn autotuning off) -- a fixed subset of 100 frames during the run, the whole
  split after the last step. ``first`` is its first pass (pool start, coarse scores), ``steady``
  the passes after it (what 79 of the 80 validations of a run cost).

The projection, at the recipe's defaults (80000 iterations, validation every 1000 steps, batch
16 of 512x512 crops, 500 Cityscapes val frames, 100 during the run), is validation seconds per
run over training plus validation seconds:

* **this device**, with a real network: the seconds per frame measured here and one training step
  of the same network on the same device (``TrainStep``);
* **FLOPs**: the recipe's network (``hrnet2x20``) counted on the meta device (no compute) for a
  training step and a validation frame, i.e. the share on a device that runs both at one
  efficiency with the host keeping up; and how many forwards' time a frame's validation may take
  for the 5% aim;
* **host parts**: the host's seconds per frame measured here part by part (read, normalise,
  scores), the paper's 69 ms HRNet-2x forward (Table 2, V100) standing for a GPU's and a
  training step of 6.0 forwards (the FLOP ratio): before, the parts add to every frame's forward
  in one process; after, the reading and scoring workers run beside the device.

Defaults: CUDA when present (``hrnet2x20``, 2048x1024 frames, AMP as ``--amp auto``), else the
CPU with ``--model stub``, a stand-in network that costs next to nothing (average pooling by 4, a
1x1 convolution). On the CPU the device's share of validation (normalisation, upsampling, argmax,
counts) runs on the CPU too, beside the workers, so the before / after seconds there measure this
machine, not what a GPU waits for: the host parts and their projection do. Usage:
``python benchmarks/bench_validation.py [--device cpu|cuda] [--model stub|NAME] [--tiny]
[--frames 8] [--workers 2] [--quick] [--json PATH]``. On the CPU torch runs one thread (the
workers are processes of their own).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks._common import machine_metadata, print_metadata, write_json  # noqa: E402

#: The recipe's defaults the projection is made for.
RECIPE = dict(iters=80000, val_every=1000, batch=16, crop=512, val_frames=500, val_subset=100,
              frame=(1024, 2048), model="hrnet2x20")
TINY_ARGS = {"blocks": 1, "modules": [1, 1, 1], "channels": [8, 16, 32, 64]}


class StubNet(torch.nn.Module):
    """A network that costs next to nothing, with the interface validation uses
    (``forward_raw`` at stride 4, ``to_input_size``, ``forward``, ``num_directions``): average
    pooling by 4 and one 1x1 convolution to 1 boundary and 8 direction logits."""

    num_directions = 8

    def __init__(self):
        super().__init__()
        self.head = torch.nn.Conv2d(3, 1 + self.num_directions, 1)

    def forward_raw(self, x):
        y = self.head(torch.nn.functional.avg_pool2d(x, 4, ceil_mode=True))
        return y[:, :1], y[:, 1:]

    def to_input_size(self, m, d, size):
        up = torch.nn.functional.interpolate
        return (up(m, size=size, mode="bilinear", align_corners=False),
                up(d, size=size, mode="bilinear", align_corners=False))

    def forward(self, x):
        return self.to_input_size(*self.forward_raw(x), x.shape[-2:])


def make_val_shards(root: str, n: int, h: int, w: int, seed: int = 0) -> str:
    """``n`` generated Cityscapes-layout val frames of ``h`` x ``w`` and their shards (zlib tiles:
    readable without hdf5plugin); returns the shard directory."""
    from segfix_data.shards import BuildConfig, build
    from segfix_data.synthetic import write_example_dataset

    write_example_dataset(os.path.join(root, "cs"), splits={"val": n}, height=h, width=w, seed=seed)
    build(os.path.join(root, "cs"), os.path.join(root, "shards"), ["val"], BuildConfig(image_level=0, codec="zlib"))
    return os.path.join(root, "shards")


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


@torch.no_grad()
def before_pass(model, ds, indices, dev: torch.device, precision, channels_last: bool) -> dict:
    """The trainer's former validation of ``indices``, one frame at a time (module docstring)."""
    from segfix_train.data import normalise
    from segfix_train.validate import COUNTS, RefinementScore, count, num_classes_of, summarise

    was = model.training
    model.eval()
    c = torch.zeros(len(COUNTS), dtype=torch.float64)
    ref = RefinementScore(num_classes_of(ds))
    for i in indices:
        r = ds.read(i, fields=("image", "semantic/boundary", "semantic/direction", "label"))
        x = torch.from_numpy(normalise(r["image"]))[None].to(dev)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with precision.autocast():
            bl, dl = model(x)
        c += count(bl.float(), dl.float(), torch.from_numpy(r["semantic/boundary"])[None].to(dev),
                   torch.from_numpy(r["semantic/direction"])[None].to(dev))
        ref.update(r["label"], bl, dl)
    model.train(was)
    return {**summarise(c), **ref.result()}


def validator_for(sets: dict, dev, precision, channels_last: bool, batch: int, workers: int):
    """A ``Validator`` over ``{name: shard set}``, every frame in the subset and the final pass."""
    from segfix_train.validate import num_classes_of
    from segfix_train.valpass import ValSet, Validator

    vsets = [ValSet(name, ds, num_classes_of(ds), list(range(len(ds.samples))), list(range(len(ds.samples))))
             for name, ds in sets.items()]
    return Validator(vsets, target="semantic", device=dev, precision=precision, channels_last=channels_last,
                     batch=batch, workers=workers)


def time_after(v, model, dev, repeats: int) -> tuple[float, list[float], dict]:
    """Seconds of the validator's first pass and of ``repeats`` passes after it, and the last result."""
    sync(dev)
    t = time.perf_counter()
    out = v.run(model)
    sync(dev)
    first = time.perf_counter() - t
    steady = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = v.run(model)
        sync(dev)
        steady.append(time.perf_counter() - t)
    return first, steady, out


def train_step_seconds(name: str, model_args: dict, dev: torch.device, batch: int, crop: int, steps: int) -> float:
    """Median seconds of one ``TrainStep`` (batch of ``crop`` crops, AMP ``auto``)."""
    from benchmarks.bench_train import fake_batch
    from segfix_train.loop import poly_lambda
    from segfix_train.models import create_model
    from segfix_train.precision import resolve_amp
    from segfix_train.step import TrainForward, TrainStep

    torch.manual_seed(0)
    cl = dev.type == "cuda"
    model = create_model(name, **model_args).to(dev)
    if cl:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, poly_lambda(10**6, 0.9))
    step = TrainStep(TrainForward(model, resolve_amp("auto", dev)), opt, sched, device=dev, channels_last=cl)
    b = fake_batch(batch, crop, 0)
    step([b])
    sync(dev)
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step([b])
        sync(dev)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def recipe_flops(name: str, model_args: dict, batch: int, crop: int, frame: tuple[int, int]) -> tuple[float, float]:
    """FLOPs of one training step (forward + backward at ``batch`` x ``crop``^2) and of one
    validation forward of a ``frame`` (H, W), counted on the meta device (no compute)."""
    from torch.utils.flop_counter import FlopCounterMode

    from segfix_train.models import create_model

    with torch.device("meta"):
        model = create_model(name, **model_args)
    x = torch.zeros(batch, 3, crop, crop, device="meta")
    with FlopCounterMode(display=False) as fc:
        b, d = model(x)
        (b.mean() + d.mean()).backward()
    train = fc.get_total_flops()
    model.eval()
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        model(torch.zeros(1, 3, *frame, device="meta"))
    return float(train), float(fc.get_total_flops())


def projection(step_s: float, before_s: float, steady_s: float, final_s: float, r: dict = RECIPE) -> dict:
    """Validation's share of a run at the recipe's defaults (seconds per frame: ``before_s``, the
    former validation of the whole split at every validation; ``steady_s`` / ``final_s``, the
    subset passes and the last pass now). Returns the seconds and shares of both."""
    passes = r["iters"] // r["val_every"]
    train_s = r["iters"] * step_s
    before = passes * r["val_frames"] * before_s
    after = (passes - 1) * r["val_subset"] * steady_s + r["val_frames"] * final_s
    return {"validations": passes, "train_s": train_s,
            "before_val_s": before, "before_share": before / (train_s + before),
            "after_val_s": after, "after_share": after / (train_s + after),
            "frames_before": passes * r["val_frames"], "frames_after": (passes - 1) * r["val_subset"] + r["val_frames"]}


def host_components(ds, repeats: int) -> dict:
    """Median seconds per frame of the host's parts of validation, each in this process (one
    thread): ``read`` (a frame's image, targets and label from the shard: a reading worker's
    share), ``normalise`` (the former validation's on the host), ``score_both`` (coarse map,
    refinement, both scored: the former validation's ``RefinementScore.update`` less its device
    work) and ``score_refined`` (the refined map only, the coarse score cached: a scoring
    worker's share)."""
    from segfix_train.data import normalise
    from segfix_train.validate import num_classes_of
    from segfix_train.valpass import score_frame

    k = num_classes_of(ds)
    fields = ("image", "semantic/boundary", "semantic/direction", "label")
    r = ds.read(0, fields=fields)
    b = (r["semantic/boundary"] == 1).astype(np.uint8)
    d = np.where(b == 1, r["semantic/direction"], 255).astype(np.uint8)
    parts = {"read": lambda i: ds.read(i, fields=fields), "normalise": lambda i: normalise(r["image"]),
             "score_both": lambda i: score_frame(k, r["label"], b, d, 8, True),
             "score_refined": lambda i: score_frame(k, r["label"], b, d, 8, False)}
    out = {}
    for name, fn in parts.items():
        fn(0)
        times = []
        for j in range(max(repeats, 3)):
            t = time.perf_counter()
            fn(j % len(ds.samples))
            times.append(time.perf_counter() - t)
        out[name] = statistics.median(times)
    return out


#: The paper's Table 2: HRNet-2x on a V100 with TensorRT, ms per 2048x1024 frame -- the stand-in
#: for the network's forward on a GPU where none was measured.
PAPER_FORWARD_S = 0.069


def host_projection(host: dict, workers: int, forward_s: float, ratio: float, r: dict = RECIPE) -> dict:
    """The share at the recipe's defaults on a GPU whose forward of a frame takes ``forward_s``
    and whose training step takes ``ratio`` times that (the FLOP ratio), from the host parts
    (``host_components``). Before: the host's parts added to every frame's forward, in one
    process; after: the slowest of the forward and the workers' parts (``read`` and
    ``score_refined`` over ``workers`` processes each, in parallel with the device)."""
    before = forward_s + host["read"] + host["normalise"] + host["score_both"]
    after = max(forward_s, host["read"] / max(workers, 1), host["score_refined"] / max(workers, 1))
    p = projection(ratio * forward_s, before, after, after, r)
    return {**p, "forward_s": forward_s, "before_s_per_frame": before, "after_s_per_frame": after}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--model", default=None, help="stub or a model name [hrnet2x20 on CUDA, stub on the CPU]")
    ap.add_argument("--tiny", action="store_true", help="narrow model (one block per stage)")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--height", type=int, default=1024)
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--workers", type=int, default=None,
                    help="reading / scoring processes [segfix train's default: as many as --workers, 2]")
    ap.add_argument("--val-batch", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="3 frames of 64x128, 1 repeat (a smoke run)")
    ap.add_argument("--json", default=None, help="output [benchmarks/results/bench_validation[_quick].json]")
    args = ap.parse_args()
    dev = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
                       else "cpu")
    if args.quick:
        args.frames, args.height, args.width, args.repeats = 3, 64, 128, 1
    cuda = dev.type == "cuda"
    name = args.model or ("hrnet2x20" if cuda else "stub")
    model_args = TINY_ARGS if args.tiny else {}
    from segfix_train.config import TrainConfig
    from segfix_train.loop import val_workers

    workers = args.workers if args.workers is not None else val_workers(TrainConfig())
    if cuda:
        torch.backends.cudnn.benchmark = True  # as the trainer: validation must switch it off itself
    else:
        torch.set_num_threads(1)  # both sides alike; on a shared machine spinning OpenMP threads cost 20x
    meta = machine_metadata()
    meta["gpu"] = torch.cuda.get_device_name(dev) if cuda else None
    print_metadata(meta)

    from segfix_data.shards import ShardSet
    from segfix_train.models import create_model
    from segfix_train.precision import resolve_amp

    precision = resolve_amp("auto", dev)
    torch.manual_seed(0)
    model = (StubNet() if name == "stub" else create_model(name, **model_args)).to(dev)
    if cuda:
        model.to(memory_format=torch.channels_last)
    with tempfile.TemporaryDirectory() as root:
        ds = ShardSet(make_val_shards(root, args.frames, args.height, args.width), "val")
        idx = list(range(len(ds.samples)))
        before_pass(model, ds, idx[:1], dev, precision, cuda)  # warm-up (numba, kernels)
        sync(dev)
        t = time.perf_counter()
        for _ in range(args.repeats):
            before_pass(model, ds, idx, dev, precision, cuda)
        sync(dev)
        before_s = (time.perf_counter() - t) / args.repeats / len(idx)
        v = validator_for({"cs:val": ds}, dev, precision, cuda, args.val_batch, workers)
        try:
            first, steady, _ = time_after(v, model, dev, args.repeats)
        finally:
            v.close()
        first_s, steady_s = first / len(idx), statistics.median(steady) / len(idx)
        host = host_components(ds, args.repeats)
    step_batch, step_crop = (2, 64) if args.quick else (RECIPE["batch"], RECIPE["crop"])
    proj = step_s = None
    if name != "stub":  # a stand-in network has no training step to compare with
        step_s = train_step_seconds(name, model_args, dev, step_batch, step_crop, max(1, args.repeats))
        proj = projection(step_s, before_s, steady_s, first_s)
    flops_train, flops_frame = recipe_flops(RECIPE["model"] if not args.quick else "hrnet_w18",
                                            {} if not args.quick else TINY_ARGS,
                                            RECIPE["batch"] if not args.quick else 2,
                                            RECIPE["crop"] if not args.quick else 64,
                                            RECIPE["frame"] if not args.quick else (64, 128))
    ratio = flops_train / flops_frame
    compute = projection(ratio, 1.0, 1.0, 1.0)  # in units of one validation frame's compute
    # the aim (5%) holds while a frame's validation takes at most this many times the network's
    # forward of it (the host's work overlapping the device's, or not)
    budget = 0.05 / 0.95 * RECIPE["iters"] * ratio / compute["frames_after"]
    print(f"device {dev}{' (' + meta['gpu'] + ')' if meta['gpu'] else ''}; model {name}"
          f"{' (narrow)' if model_args else ''}; {len(idx)} frames of {args.width}x{args.height}; "
          f"{workers} workers, batch {args.val_batch}")
    print(f"validation s/frame: before {before_s:.4f}, after {steady_s:.4f} (first pass {first_s:.4f}); "
          f"before/after {before_s / steady_s:.2f}x")
    if proj is not None:
        print(f"training step ({name}, batch {step_batch} x {step_crop}^2): {step_s:.3f} s")
        print(f"projected share of an 80K Cityscapes run (recipe defaults, this device): before "
              f"{100 * proj['before_share']:.2f}% ({proj['frames_before']} frames), after "
              f"{100 * proj['after_share']:.2f}% ({proj['frames_after']} frames)")
    print(f"FLOPs ({RECIPE['model'] if not args.quick else 'hrnet_w18'}): training step "
          f"{flops_train / 1e12:.2f} T, validation frame {flops_frame / 1e12:.3f} T (x{ratio:.2f}) -> "
          f"compute-bound share: before {100 * compute['before_share']:.2f}%, "
          f"after {100 * compute['after_share']:.2f}%")
    print(f"the 5% aim holds while validation takes at most {budget:.2f}x the network's forward per frame")
    hp = host_projection(host, workers, PAPER_FORWARD_S, ratio)
    print(f"host parts per frame: read {host['read']:.4f} s, normalise {host['normalise']:.4f} s, coarse + "
          f"refined scores {host['score_both']:.4f} s, refined score {host['score_refined']:.4f} s")
    print(f"with a forward of {1e3 * PAPER_FORWARD_S:.0f} ms per frame (the paper's HRNet-2x, V100) and a training "
          f"step {ratio:.2f}x that: validation s/frame before {hp['before_s_per_frame']:.3f}, after "
          f"{hp['after_s_per_frame']:.3f} ({workers} workers); share of an 80K Cityscapes run: before "
          f"{100 * hp['before_share']:.1f}%, after {100 * hp['after_share']:.2f}%")
    out = write_json("bench_validation_quick" if args.quick else "bench_validation", {
        "machine": meta, "device": str(dev), "model": name, "model_args": model_args, "frames": len(idx),
        "frame": [args.height, args.width], "workers": workers, "val_batch": args.val_batch,
        "repeats": args.repeats, "amp": precision.name,
        "before_s_per_frame": before_s, "after_s_per_frame": steady_s, "after_first_pass_s_per_frame": first_s,
        "ratio": before_s / steady_s, "train_step_s": step_s, "train_step_batch": [step_batch, step_crop],
        "recipe": RECIPE, "projection": proj,
        "flops": {"model": RECIPE["model"] if not args.quick else "hrnet_w18", "train_step": flops_train,
                  "val_frame": flops_frame, "ratio": ratio, "projection": compute,
                  "max_val_over_forward_for_5pct": budget},
        "host_parts_s_per_frame": host, "host_projection": hp, "quick": args.quick}, args.json)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
