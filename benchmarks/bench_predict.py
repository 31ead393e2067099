"""Offsets per frame (image in, int16 ``(H, W, 2)`` offsets out) for HRNet-W18/W32/W48 and the
authors' HRNet2x-W20, against the bare network forward pass on the same frame in the same run.

Pipeline timed ("ours"): uint8 RGB frame -> normalised tensor on the device -> ``SegFixModel``
(our head, whole frame in one pass, outputs upsampled to the frame) -> sigmoid / softmax ->
boundary and direction maps on the host -> offsets array (``segfix_train.predict``). Baseline
("bare"): ``model(x)`` on a ready input tensor (the floor of any pipeline). ``--tester openseg``
times the authors' tester instead (their 512 windows every 170 px: 5 x 11 = 55 windows on a
2048x1024 frame, about 7 times the pixels of one pass).

Settings: CPU with one torch thread and with all threads (``--threads 1,all``); on CUDA fp32
(``amp`` ``off``) and bf16 autocast with channels-last, synchronised, beside the paper's Table 2 (V100 with TensorRT:
HRNet-W18 16 ms, W32 20 ms, HRNet-2x 69 ms; fp16 engines, so not the same measurement). Medians
over ``--repeats`` after one warm-up. Weights are random (timing does not depend on them).

Usage: ``python benchmarks/bench_predict.py [--quick] [--size 2048x1024] [--models hrnet_w18,...]
[--threads 1,all] [--repeats 3] [--device cpu|cuda] [--tester segfix|openseg]``. ``--quick``:
a 512x256 frame, W18 and HRNet2x-W20, one thread, 3 repeats (a CPU smoke run).
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks._common import machine_metadata, median_time, print_metadata, write_json  # noqa: E402
from segfix_train.data import normalise  # noqa: E402
from segfix_train.config import TESTERS  # noqa: E402
from segfix_train.models import create_model  # noqa: E402
from segfix_train.precision import resolve_amp  # noqa: E402
from segfix_train.predict import offsets_array, predict_probs, probs_to_maps  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
#: The paper's Table 2: ms per 2048x1024 frame on a V100 with TensorRT.
PAPER_V100_MS = {"hrnet_w18": 16.0, "hrnet_w32": 20.0, "hrnet2x20": 69.0}
ALL_MODELS = "hrnet_w18,hrnet_w32,hrnet_w48,hrnet2x20"


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, dev, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs after one warm-up (device work included)."""
    return median_time(fn, repeats, warmup=1, sync=lambda: sync(dev))


def bench(name: str, frame: np.ndarray, dev: torch.device, amp: str, tester: str, repeats: int,
          model_args: dict | None = None) -> dict:
    """ms per frame of ``tester`` (``segfix`` or ``openseg``) and of the bare forward pass, both under
    the AMP setting ``amp`` (``segfix_train.precision``; the openseg tester is fp32 whatever it is)."""
    torch.manual_seed(0)
    model = create_model(name, **(model_args or {})).to(dev).eval()
    cuda = dev.type == "cuda"
    if cuda:
        model.to(memory_format=torch.channels_last)
    precision = resolve_amp(amp, dev)
    m = model.num_directions

    @torch.no_grad()
    def ours():
        if tester == "openseg":
            from segfix_train.predict_openseg import openseg_maps, openseg_normalise, openseg_predict

            b, d = openseg_maps(*openseg_predict(model, openseg_normalise(frame).to(dev)))
        else:
            x = torch.from_numpy(normalise(frame)).to(dev)
            b, d = probs_to_maps(*predict_probs(model, x, precision=precision, channels_last=cuda))
        return offsets_array(b, d, m)

    x0 = torch.from_numpy(normalise(frame)).to(dev)[None]
    if cuda:
        x0 = x0.contiguous(memory_format=torch.channels_last)

    @torch.no_grad()
    def bare():
        with precision.autocast():
            return model(x0)

    t_bare = timed(bare, dev, repeats)
    t_ours = timed(ours, dev, repeats)
    row = {"model": name, "amp": precision.name, "threads": torch.get_num_threads() if not cuda else None,
           "ours_ms": 1e3 * t_ours, "bare_ms": 1e3 * t_bare, "overhead_pct": 100.0 * (t_ours / t_bare - 1.0),
           "paper_v100_tensorrt_ms": PAPER_V100_MS.get(name)}
    model = None  # free the weights before the next model (the closures above are done with it)
    if cuda:
        torch.cuda.empty_cache()
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--size", default=None, help="WxH frame size [2048x1024; quick 512x256]")
    ap.add_argument("--models", default=None, help=f"comma-separated [{ALL_MODELS}]")
    ap.add_argument("--threads", default=None, help="CPU torch thread counts, comma-separated, 'all' = all "
                                                   "cores [1,all; quick 1]")
    ap.add_argument("--repeats", type=int, default=None, help="[3]")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--tester", choices=TESTERS, default="segfix")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    dev = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
                       else "cpu")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: CUDA is not available")
    quick = dict(size="512x256", models="hrnet_w18,hrnet2x20", threads="1", repeats=3)
    full = dict(size="2048x1024", models=ALL_MODELS, threads="1,all", repeats=3)
    for k, v in (quick if args.quick else full).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    w, h = (int(v) for v in args.size.lower().split("x"))
    frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    models = args.models.split(",")
    rows = []
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        for amp in ("off", "bf16"):
            if args.tester == "openseg" and amp != "off":
                continue  # their tester is fp32
            rows += [bench(n, frame, dev, amp, args.tester, args.repeats) for n in models]
    else:
        for t in args.threads.split(","):
            torch.set_num_threads(os.cpu_count() if t == "all" else int(t))
            rows += [bench(n, frame, dev, "off", args.tester, args.repeats) for n in models]
    meta = machine_metadata()
    meta.update(cuda=torch.cuda.get_device_name(0) if dev.type == "cuda" else None)
    print_metadata(meta)
    print(f"device {dev}, frame {w}x{h}, tester {args.tester}, median of {args.repeats} after 1 warm-up")
    print(f"{'model':<11}{'amp':>10}{'threads':>8}{'ours ms':>10}{'bare ms':>10}{'overhead':>10}"
          f"{'paper V100 TRT ms':>19}")
    for r in rows:
        paper = f"{r['paper_v100_tensorrt_ms']:.0f}" if r["paper_v100_tensorrt_ms"] else "-"
        print(f"{r['model']:<11}{r['amp']:>10}{str(r['threads'] or '-'):>8}{r['ours_ms']:>10.1f}"
              f"{r['bare_ms']:>10.1f}{r['overhead_pct']:>9.1f}%{paper:>19}")
    print("ours: frame -> offsets; bare: model(x) alone; the paper's figures are for a 2048x1024 frame")
    out = args.json or os.path.join(HERE, "results", "bench_predict_quick.json" if args.quick else
                                    f"bench_predict_{dev.type}.json")
    write_json("bench_predict", path=out, payload={
        "benchmark": "bench_predict", "quick": args.quick, "device": str(dev), "machine": meta,
        "settings": {"size": [w, h], "tester": args.tester, "repeats": args.repeats, "threads": args.threads},
        "results": rows})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
