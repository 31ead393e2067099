"""Table 1 with a trained model: SegFix learned from generated data refines coarse predictions.

Generates a Cityscapes-layout dataset (`segfix_data.synthetic`), builds its shards, trains a small
SegFix model (a narrow HRNet-W18) on the CPU, predicts offsets on held-out frames from their images
alone, then refines model-like coarse predictions (class scores at 1/8 resolution, upsampled
bilinearly) with (a) the predicted offsets and (b) ground-truth offsets, and scores them with
mIoU and boundary F-score. The predicted offsets are used at the default boundary threshold (0.5)
and at shift scale 1 and 2 (the paper's 2 assumes accurate directions; a small CPU-trained model
errs more, and a wrong direction costs twice as much at scale 2). Nothing is tuned on the frames
that are scored.

Deterministic for a seed: one thread everywhere (numba, BLAS, torch), ``torch.manual_seed``,
``torch.use_deterministic_algorithms(True)`` and generated data fixed by the seed, so two runs on
the same machine and library versions print the same table and write the same ``results`` JSON.
Boundary F columns are at pixel radii 1, 2 and 3 (``SegmentationScore(thresholds=PIXEL_RADII)``,
as ``segfix eval --px``), not diagonal fractions, which at 1024x512 would round 1 and 2 px alike.

    python benchmarks/demo_trained.py [--iters N] [--train-frames N] [--quick]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from _common import (generated_train_shards, machine_metadata, pin_single_thread, print_metadata,  # noqa: E402
                     run_in_workdir, write_json)  # noqa: E402

pin_single_thread()  # before numba / torch read their thread settings
from demo_table1 import coarse_prediction  # noqa: E402
from segfix_data import semantic_targets  # noqa: E402
from segfix_data.datasets.labels import CITYSCAPES_CLASS_NAMES, cityscapes_label_ids_to_train_ids  # noqa: E402
from segfix_data.metrics import SegmentationScore  # noqa: E402
from segfix_data.refine.offsets import read_offsets  # noqa: E402
from segfix_data.refine import refine_labels  # noqa: E402

K = len(CITYSCAPES_CLASS_NAMES)
TINY = {"blocks": 1, "modules": [1, 1, 1], "channels": [16, 32, 64, 128]}
#: Boundary F tolerances in pixels (values >= 1 are radii in pixels for the metrics).
PIXEL_RADII = (1, 2, 3)
#: ``--quick``: a smoke run of the whole pipeline in seconds (the numbers mean nothing).
QUICK = {"iters": 3, "train_frames": 2, "val_frames": 1, "height": 256, "width": 512, "crop": 64,
         "batch": 2}


def make_deterministic(seed: int) -> None:
    """One torch thread, deterministic kernels and a seeded torch generator (call before training)."""
    import torch

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)


def run(args, work: Path) -> dict:
    from segfix_train.config import TrainConfig
    from segfix_train.loop import train
    from segfix_train.predict import list_frames, load_model, predict_images

    make_deterministic(args.seed)
    t0 = time.perf_counter()
    data, shards = generated_train_shards(args, work)
    run_dir, offsets = work / "run", work / "offsets"
    print(f"data and shards ready ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    cfg = TrainConfig(shards=[str(shards)], split="train", val_split=None, out=str(run_dir),
                      model="hrnet_w18", model_args=TINY, iters=args.iters, batch=args.batch,
                      crop=args.crop, seed=args.seed, num_workers=0, log_every=50,
                      ckpt_every=args.iters, device="cpu")
    train(cfg, echo=lambda line: print(line, file=sys.stderr))
    ckpt = run_dir / "checkpoints" / f"ckpt_{args.iters:08d}.pt"
    print(f"trained ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    predict_images(load_model(str(ckpt), "cpu"), list_frames(str(data / "leftImg8bit" / "val")), str(offsets))

    methods = ["w/o SegFix", "trained model, scale 1", "trained model, scale 2",
               "GT offsets, scale 2"]
    scores = {m: SegmentationScore(K, thresholds=PIXEL_RADII) for m in methods}
    diag = {"boundary_precision": [], "boundary_recall": [], "direction_accuracy": []}
    rng = np.random.default_rng(args.seed)
    for label_png in sorted((data / "gtFine" / "val").rglob("*_gtFine_labelIds.png")):
        gt = cityscapes_label_ids_to_train_ids(np.array(Image.open(label_png)))
        stem = label_png.name.replace("_gtFine_labelIds.png", "_leftImg8bit")
        pred = coarse_prediction(gt, 8, 0.15, rng)
        predicted = read_offsets(offsets / f"{stem}.npz")
        truth = semantic_targets(gt)
        scores["w/o SegFix"].update(pred, gt)
        for scale in (1, 2):
            scores[f"trained model, scale {scale}"].update(
                refine_labels(pred, predicted["boundary"], predicted["direction"],
                              predicted["num_directions"], scale=scale), gt)
        scores["GT offsets, scale 2"].update(
            refine_labels(pred, truth.boundary, truth.direction, 8, scale=2), gt)
        pb, gb = predicted["boundary"] == 1, truth.boundary == 1
        diag["boundary_precision"].append(float((pb & gb).sum() / max(pb.sum(), 1)))
        diag["boundary_recall"].append(float((pb & gb).sum() / max(gb.sum(), 1)))
        both = gb & (predicted["direction"] < 8) & (truth.direction < 8)
        diag["direction_accuracy"].append(float(np.mean(predicted["direction"][both] == truth.direction[both])))
    print("trained model on held-out frames: " + ", ".join(
        f"{k.replace('_', ' ')} {np.mean(v):.2f}" for k, v in diag.items()), file=sys.stderr)
    return {m: scores[m].result(CITYSCAPES_CLASS_NAMES) for m in methods}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: " + ", ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in QUICK.items()))
    ap.add_argument("--train-frames", type=int, default=16)
    ap.add_argument("--val-frames", type=int, default=4)
    ap.add_argument("--height", type=int, default=512)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--iters", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default=None, help="keep data, shards, run and offsets here")
    ap.add_argument("--json", default=None, help="output JSON [benchmarks/results/demo_trained.json]")
    args = ap.parse_args(argv)
    if args.quick:
        for k, v in QUICK.items():
            setattr(args, k, v)
    meta = machine_metadata()
    print_metadata(meta)
    t0 = time.perf_counter()
    results = run_in_workdir(run, args)
    seconds = time.perf_counter() - t0
    load = meta.get("load_average_1m")
    print(f"total {seconds / 60:.1f} min" + (f" (load average at the start: {load:.2f})" if load is not None else ""),
          file=sys.stderr)
    base = results["w/o SegFix"]
    print(f"\n{'method':<24} {'mIoU':>14}" + "".join(f"{f'F@{r}px':>14}" for r in PIXEL_RADII))
    for name, r in results.items():
        cells = [(r["miou"], base["miou"])] + [(r["boundary_f"][str(t)], base["boundary_f"][str(t)])
                                               for t in PIXEL_RADII]
        text = "".join(f"{100 * v:8.1f}" + (f" ({100 * (v - b):+.1f})" if name != "w/o SegFix" else " " * 8)
                       for v, b in cells)
        print(f"{name:<24} {text}")
    path = write_json("demo_trained", {"meta": meta, "args": vars(args), "results": results, "seconds": seconds},
                      path=args.json)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
