"""Ablation of the direction supervision (docs/training.md, "Direction supervision"): one small SegFix per ``--direction-pixels``
mode, the same data and seeds, and the refinement gain of each on held-out frames.

Generates a Cityscapes-layout dataset (`segfix_data.synthetic`), builds its shards once (format 3:
direction targets on the 3 x gamma band), trains the narrow HRNet-W18 of `demo_trained.py` once
per mode (`predicted`: the pixels predicted as boundary, the paper's Sec. 3.2; `gt`: the
ground-truth boundary band; `both`: their union) with identical seeds and crops, then refines two
kinds of coarse label maps of the held-out frames with each model's own offsets (from the images
alone): model-like predictions (`demo_table1.coarse_prediction`: 1/8-resolution scores, bilinear
upsampling) and the Table 1 oracle (nearest down- and up-sampling by 8, `segfix_train.validate`).
Reported per mode: delta mIoU and delta boundary F at 1 and 3 true pixels (refined minus coarse,
offset scale 2 as the paper and 1), and where the predicted boundary pixels fall: inside the GT
band (distance <= gamma) and inside the direction band (distance <= 3 gamma).

    nice python3 benchmarks/ablation_direction.py [--iters 400] [--quick]

Sized to run in about 6 minutes on one busy core: 400 iterations of 4 crops of 64 px per mode. Such
small models learn little; the figures compare the modes under equal conditions, not the method.
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

from _common import generated_train_shards, machine_metadata, print_metadata, run_in_workdir, write_json  # noqa: E402
from demo_table1 import coarse_prediction  # noqa: E402
from demo_trained import K, TINY  # noqa: E402
from segfix_data import semantic_targets  # noqa: E402
from segfix_data.datasets.labels import cityscapes_label_ids_to_train_ids  # noqa: E402
from segfix_data.metrics import SegmentationScore  # noqa: E402
from segfix_data.refine import refine_labels  # noqa: E402

MODES = ("predicted", "gt", "both")
F_PIXELS = (1, 3)
COARSE = ("model-like", "oracle x8")


def _frames(data: Path):
    """(image uint8 (H, W, 3), train ids uint8 (H, W)) of the held-out frames."""
    for label_png in sorted((data / "gtFine" / "val").rglob("*_gtFine_labelIds.png")):
        city = label_png.parent.name
        stem = label_png.name.replace("_gtFine_labelIds.png", "")
        image = np.array(Image.open(data / "leftImg8bit" / "val" / city / f"{stem}_leftImg8bit.png").convert("RGB"))
        yield image, cityscapes_label_ids_to_train_ids(np.array(Image.open(label_png)))


def evaluate(checkpoint: str, frames: list, seed: int) -> dict:
    """Refinement gains of one trained model on ``frames`` (module docstring)."""
    from segfix_train.api import SegFix
    from segfix_train.validate import coarse_labels

    net = SegFix.from_checkpoint(checkpoint, device="cpu")
    scores = {(c, s): [SegmentationScore(K, thresholds=F_PIXELS) for _ in range(2)]
              for c in COARSE for s in (2, 1)}
    rng = np.random.default_rng(seed)  # the same coarse predictions for every mode
    where = np.zeros(3)  # predicted boundary pixels: all, in the GT band, in the direction band
    for image, gt in frames:
        boundary, direction = net.predict(image)
        coarse = {"model-like": coarse_prediction(gt, 8, 0.15, rng), "oracle x8": coarse_labels(gt)}
        for (c, s), (before, after) in scores.items():
            before.update(coarse[c], gt)
            after.update(refine_labels(coarse[c], boundary, direction, net.num_directions, scale=s), gt)
        t = semantic_targets(gt, gamma=15)
        pb = boundary == 1
        where += [pb.sum(), (pb & (t.distance <= 5) & (t.boundary == 1)).sum(), (pb & (t.boundary == 1)).sum()]
    out = {"predicted_boundary_in_gt_band": float(where[1] / max(where[0], 1)),
           "predicted_boundary_in_direction_band": float(where[2] / max(where[0], 1))}
    for (c, s), (before, after) in scores.items():
        b, a = before.result(), after.result()
        key = f"{c}, scale {s}"
        out[key] = {"coarse_miou": b["miou"], "delta_miou": a["miou"] - b["miou"],
                    **{f"delta_f_{px}px": a["boundary_f"][str(px)] - b["boundary_f"][str(px)] for px in F_PIXELS}}
    return out


def run(args, work: Path) -> dict:
    from segfix_train.config import TrainConfig
    from segfix_train.loop import train

    t0 = time.perf_counter()
    data, shards = generated_train_shards(args, work)
    frames = list(_frames(data))
    print(f"data and shards ready ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    results = {}
    for mode in args.modes:
        run_dir = work / f"run-{mode}"
        cfg = TrainConfig(shards=[str(shards)], split="train", val_split=None, out=str(run_dir),
                          model="hrnet_w18", model_args=TINY, iters=args.iters, batch=args.batch,
                          crop=args.crop, seed=args.seed, lr=args.lr, num_workers=0, log_every=max(1, args.iters // 4),
                          ckpt_every=args.iters, device="cpu", direction_pixels=mode)
        train(cfg, echo=lambda line: print(f"[{mode}] {line}", file=sys.stderr))
        results[mode] = evaluate(str(run_dir), frames, args.seed)
        print(f"{mode} trained and scored ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return results


def table(results: dict) -> str:
    lines = []
    for c in COARSE:
        for s in (2, 1):
            key = f"{c}, scale {s}"
            lines.append(f"\n{key} (coarse mIoU {100 * next(iter(results.values()))[key]['coarse_miou']:.1f}); "
                         "gain of the refined labels, points:")
            lines.append(f"{'mode':<10} {'d mIoU':>8} {'d F@1px':>8} {'d F@3px':>8}")
            for mode, r in results.items():
                v = r[key]
                lines.append(f"{mode:<10} {100 * v['delta_miou']:+8.2f} {100 * v['delta_f_1px']:+8.2f} "
                             f"{100 * v['delta_f_3px']:+8.2f}")
    lines.append("\npredicted boundary pixels inside the GT band (d <= 5) / the direction band (d <= 15):")
    for mode, r in results.items():
        lines.append(f"{mode:<10} {100 * r['predicted_boundary_in_gt_band']:6.1f}% / "
                     f"{100 * r['predicted_boundary_in_direction_band']:6.1f}%")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-frames", type=int, default=6)
    ap.add_argument("--val-frames", type=int, default=3)
    ap.add_argument("--height", type=int, default=256)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--iters", type=int, default=400)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--crop", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: on a shared machine more threads are ~20x slower, not faster)")
    ap.add_argument("--quick", action="store_true", help="a smoke run (tests): 2 iterations, tiny frames")
    ap.add_argument("--workdir", default=None, help="keep data, shards and runs here")
    ap.add_argument("--json", default=None, help="output JSON [benchmarks/results/ablation_direction.json]")
    args = ap.parse_args(argv)
    if args.quick:
        args.train_frames, args.val_frames, args.height, args.width = 2, 1, 64, 128
        args.iters, args.batch, args.crop = 2, 2, 32
    import torch

    torch.set_num_threads(args.threads)
    meta = machine_metadata()
    print_metadata(meta)
    results = run_in_workdir(run, args)
    print(table(results))
    best = max(results, key=lambda m: results[m]["model-like, scale 2"]["delta_miou"])
    print(f"\nlargest delta mIoU (model-like coarse, scale 2): {best}")
    path = write_json("ablation_direction", {"meta": meta, "args": vars(args), "results": results,
                                             "best_mode": best}, path=args.json)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
