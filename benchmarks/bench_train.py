"""Training throughput (images/s, forward + backward + SGD step) per backbone at 512x512: our
training step (``segfix_train.step.TrainStep``: uint8 batch to device, flip + brightness +
normalisation on the device, class-balanced losses, accumulation bookkeeping, AMP bf16 + channels-last on
CUDA) against a bare ``model(x); loss.backward(); opt.step()`` loop on a ready float batch with
plain BCE + CE losses, same model, precision and memory format, in the same run.

Medians over repeats. ``--quick``: 128x128 crops, batch 2, hrnet_w18 only (a smoke run for CPU).
Usage: ``python benchmarks/bench_train.py [--quick] [--models hrnet_w18,hrnet2x20] [--batch 8]``.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from benchmarks._common import interleaved_median_times, machine_metadata, print_metadata, write_json  # noqa: E402
from segfix_train.data import device_batch, to_model_input  # noqa: E402
from segfix_train.loop import poly_lambda  # noqa: E402
from segfix_train.losses import segfix_loss  # noqa: E402
from segfix_train.models import create_model  # noqa: E402
from segfix_train.precision import resolve_amp  # noqa: E402
from segfix_train.step import TrainForward, TrainStep  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def fake_batch(b: int, c: int, seed: int) -> dict:
    g = np.random.default_rng(seed)
    boundary = (g.random((b, c, c)) < 0.1).astype(np.uint8)
    direction = np.where(boundary == 1, g.integers(0, 8, (b, c, c)), 255).astype(np.uint8)
    return {"image": torch.from_numpy(g.integers(0, 256, (b, c, c, 3), dtype=np.uint8)),
            "brightness": torch.from_numpy(g.integers(-10, 11, b).astype(np.int16)),
            "flip": torch.from_numpy(g.random(b) < 0.5),
            "boundary": torch.from_numpy(boundary), "direction": torch.from_numpy(direction)}


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def bench_model(name: str, args, dev: torch.device) -> dict:
    cuda = dev.type == "cuda"
    use_cl = cuda
    precision = resolve_amp("bf16" if cuda else "off", dev)  # the same for ours and bare
    batches = [fake_batch(args.batch, args.crop, s) for s in range(2)]
    if cuda:
        batches = [{k: v.pin_memory() for k, v in b.items()} for b in batches]

    def setup():
        torch.manual_seed(0)
        model = create_model(name).to(dev)
        if use_cl:
            model.to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        return model, opt

    # ours
    model, opt = setup()
    sched = torch.optim.lr_scheduler.LambdaLR(opt, poly_lambda(10**6, 0.9))
    step = TrainStep(TrainForward(model, precision), opt, sched, device=dev, channels_last=use_cl)
    window = torch.zeros(4, dtype=torch.float64, device=dev)

    def ours(n):
        for i in range(n):
            window[:3] += step([batches[i % 2]])
            window[3] += 1
            if (i + 1) % 20 == 0:
                window.cpu()  # the loop's one host sync per log line
                window.zero_()

    # bare
    bare_model, bare_opt = setup()
    xs = [to_model_input(b["image"].to(dev)).contiguous(
        memory_format=torch.channels_last if use_cl else torch.contiguous_format) for b in batches]
    bts = [b["boundary"].to(dev).float() for b in batches]
    dts = [b["direction"].to(dev).long() for b in batches]

    def bare(n):
        for i in range(n):
            with precision.autocast():
                bl, dl = bare_model(xs[i % 2])
            loss = F.binary_cross_entropy_with_logits(bl[:, 0].float(), bts[i % 2]) + \
                F.cross_entropy(dl.float(), dts[i % 2], ignore_index=255)
            loss.backward()
            bare_opt.step()
            bare_opt.zero_grad(set_to_none=True)

    for f in (ours, bare):
        f(args.warmup)
    steps = interleaved_median_times({"ours": lambda: ours(args.steps), "bare": lambda: bare(args.steps)},
                                     args.repeats, warmup=0, sync=lambda: sync(dev))
    # the parts that differ, timed alone (steadier than the whole-step ratio on a busy machine)
    m = model.num_directions
    bl = torch.randn(args.batch, 1, args.crop, args.crop, device=dev, requires_grad=True)
    dl = torch.randn(args.batch, m, args.crop, args.crop, device=dev, requires_grad=True)
    b0 = {k: v.to(dev) for k, v in batches[0].items()}

    def loss_ours():
        device_batch(b0, dev, m, use_cl)
        segfix_loss(bl, dl, b0["boundary"], b0["direction"])["loss"].backward()

    def loss_bare():
        (F.binary_cross_entropy_with_logits(bl[:, 0], bts[0]) +
         F.cross_entropy(dl, dts[0], ignore_index=255)).backward()

    part = interleaved_median_times({"loss_ours": loss_ours, "loss_bare": loss_bare}, 5,
                                    sync=lambda: sync(dev))
    ips_ours = args.batch * args.steps / steps["ours"]
    ips_bare = args.batch * args.steps / steps["bare"]
    model = bare_model = opt = bare_opt = None  # free the weights before the next model
    if cuda:
        torch.cuda.empty_cache()
    return {"model": name, "ours_images_per_s": ips_ours, "bare_images_per_s": ips_bare,
            "overhead_pct": 100.0 * (ips_bare / ips_ours - 1.0),
            "loss_and_input_ms_ours": 1e3 * part["loss_ours"], "loss_ms_bare": 1e3 * part["loss_bare"],
            "parts_overhead_pct": 100.0 * (part["loss_ours"] - part["loss_bare"]) * ips_bare / args.batch}



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--models", default=None, help="comma-separated [hrnet_w18,hrnet_w32,hrnet_w48,hrnet2x20]")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--crop", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.set_num_threads(args.threads)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    quick = dict(models="hrnet_w18", batch=2, crop=128, steps=3, warmup=1, repeats=3)
    full = dict(models="hrnet_w18,hrnet_w32,hrnet_w48,hrnet2x20", batch=8 if dev.type == "cuda" else 2,
                crop=512, steps=20 if dev.type == "cuda" else 2, warmup=5 if dev.type == "cuda" else 1,
                repeats=5 if dev.type == "cuda" else 3)
    for k, v in (quick if args.quick else full).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    rows = [bench_model(m, args, dev) for m in args.models.split(",")]
    meta = machine_metadata()
    meta.update(torch_threads=args.threads,
                cuda=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
    print_metadata(meta)
    print(f"device {dev}, torch threads {args.threads}, crop {args.crop}, batch {args.batch}, "
          f"{args.steps} steps x median of {args.repeats}; "
          f"AMP bf16 + channels-last: {dev.type == 'cuda'}")
    print(f"{'model':<12}{'ours img/s':>12}{'bare img/s':>12}{'ours ms/img':>13}{'overhead':>10}"
          f"{'loss+input ms ours/bare':>26}{'parts overhead':>16}")
    for r in rows:
        print(f"{r['model']:<12}{r['ours_images_per_s']:>12.2f}{r['bare_images_per_s']:>12.2f}"
              f"{1e3 / r['ours_images_per_s']:>13.1f}{r['overhead_pct']:>9.1f}%"
              f"{r['loss_and_input_ms_ours']:>15.1f} / {r['loss_ms_bare']:<8.1f}{r['parts_overhead_pct']:>14.2f}%")
    print("overhead = bare/ours - 1 over whole steps; parts overhead = (our loss + device input prep - bare "
          "loss) / bare step time")
    out = args.json or os.path.join(HERE, "results", "bench_train_quick.json" if args.quick else
                                    f"bench_train_{dev.type}.json")
    write_json("bench_train", path=out, payload={"benchmark": "bench_train", "quick": args.quick, "device": str(dev), "machine": meta,
                     "settings": {k: getattr(args, k) for k in ("batch", "crop", "steps", "warmup", "repeats")},
                     "results": rows})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
