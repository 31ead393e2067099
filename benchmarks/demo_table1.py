"""The paper's Table 1 on generated data: coarse predictions refined with ground-truth offsets.

For each synthetic Cityscapes-like frame (``segfix_data.synthetic``) the ground truth is turned
into "model-like" predictions: per-class scores at 1/``stride`` resolution (the area average of
the one-hot ground truth plus Gaussian noise, as a network with output stride 8 or 4 sees it),
upsampled bilinearly (half-pixel centres, ``align_corners=False``) and argmax-ed. Boundaries come
out blurred and small objects lost, as in real models. The predictions are then refined with the
ground-truth offsets (``semantic_targets`` of the ground truth, m = 4 and m = 8, scale 2) and
scored with ``segfix_data.metrics`` (mIoU, boundary F at 1/2/3 px of 2048x1024).

Usage::

    python3 benchmarks/demo_table1.py                 # 6 frames at 1024x2048 (a few minutes)
    python3 benchmarks/demo_table1.py --quick         # 2 frames at 256x512
    python3 benchmarks/demo_table1.py --json out.json

Writes ``benchmarks/results/demo_table1.json`` unless ``--json`` says otherwise.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_metadata, write_json  # noqa: E402
from segfix_data import semantic_targets  # noqa: E402
from segfix_data.datasets.labels import CITYSCAPES_CLASS_NAMES, cityscapes_label_ids_to_train_ids  # noqa: E402
from segfix_data.metrics import SegmentationScore  # noqa: E402
from segfix_data.refine import refine_labels  # noqa: E402
from segfix_data.synthetic import synthetic_cityscapes_frame  # noqa: E402

K = len(CITYSCAPES_CLASS_NAMES)


def _bilinear_weights(n_out: int, n_in: int):
    """Source indices and weights of a 1-D bilinear resize with half-pixel centres."""
    x = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    x = np.clip(x, 0, n_in - 1)
    i0 = np.floor(x).astype(np.int64)
    i1 = np.minimum(i0 + 1, n_in - 1)
    w1 = x - i0
    return i0, i1, (1 - w1)[:, None], w1[:, None]


def coarse_prediction(label: np.ndarray, stride: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Model-like prediction of a train-id map: scores at 1/stride, bilinear upsampling, argmax.

    Args:
        label: (H, W) uint8 train ids (255 ignore), H and W multiples of ``stride``.
        stride: output stride of the pretend network (8 for DeepLabv3-like, 4 for HRNet-like).
        noise: standard deviation of Gaussian noise added to the coarse scores.

    Returns:
        (H, W) uint8 train ids 0..K-1.
    """
    h, w = label.shape
    hs, ws = h // stride, w // stride
    onehot = np.zeros((K, h, w), np.float32)
    valid = label < K
    onehot[(label[valid], *np.nonzero(valid))] = 1.0
    scores = onehot.reshape(K, hs, stride, ws, stride).mean(axis=(2, 4))
    scores += rng.normal(0.0, noise, scores.shape).astype(np.float32)
    y0, y1, wy0, wy1 = _bilinear_weights(h, hs)
    x0, x1, wx0, wx1 = _bilinear_weights(w, ws)
    rows = scores[:, y0, :] * wy0[None] + scores[:, y1, :] * wy1[None]          # (K, h, ws)
    full = rows[:, :, x0] * wx0[None, None, :, 0] + rows[:, :, x1] * wx1[None, None, :, 0]
    return full.argmax(axis=0).astype(np.uint8)


def run(frames: int, height: int, width: int, seed: int) -> dict:
    models = {"stride-8 model": (8, 0.15), "stride-4 model": (4, 0.15)}
    methods = ["w/o SegFix", "GT offsets m=4", "GT offsets m=8"]
    scores = {(m, k): SegmentationScore(K) for m in models for k in methods}
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for i in range(frames):
        gt = cityscapes_label_ids_to_train_ids(synthetic_cityscapes_frame(seed + i, height, width).label_ids)
        targets = {m: semantic_targets(gt, num_directions=m) for m in (4, 8)}
        for name, (stride, noise) in models.items():
            pred = coarse_prediction(gt, stride, noise, rng)
            scores[(name, "w/o SegFix")].update(pred, gt)
            for m in (4, 8):
                t = targets[m]
                refined = refine_labels(pred, t.boundary, t.direction, m, scale=2)
                scores[(name, f"GT offsets m={m}")].update(refined, gt)
        print(f"frame {i + 1}/{frames} done ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    results = {f"{m} | {k}": s.result(CITYSCAPES_CLASS_NAMES) for (m, k), s in scores.items()}
    return {"models": list(models), "methods": methods, "results": results}


def table(out: dict) -> str:
    lines = [f"{'model':<16} {'method':<16} {'mIoU':>12} {'F@1px':>14} {'F@2px':>14} {'F@3px':>14}",
             "-" * 92]
    for model in out["models"]:
        base = out["results"][f"{model} | w/o SegFix"]
        for method in out["methods"]:
            r = out["results"][f"{model} | {method}"]
            cells = []
            for a, b in [(r["miou"], base["miou"])] + [(r["boundary_f"][t], base["boundary_f"][t])
                                                       for t in ("0.0003", "0.0006", "0.0009")]:
                d = "" if method == "w/o SegFix" else f" ({100 * (a - b):+.1f})"
                cells.append(f"{100 * a:.1f}{d}")
            lines.append(f"{model:<16} {method:<16} {cells[0]:>12} {cells[1]:>14} {cells[2]:>14} {cells[3]:>14}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 frames at 256x512")
    ap.add_argument("--frames", type=int, default=None)
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--json", default=None, help="output JSON (default benchmarks/results/demo_table1.json)")
    args = ap.parse_args(argv)
    frames = args.frames or (2 if args.quick else 6)
    h, w = (256, 512) if args.quick else (1024, 2048)
    out = run(frames, h, w, args.seed)
    out.update(frames=frames, height=h, width=w, seed=args.seed, meta=machine_metadata())
    print(f"Table 1 on {frames} synthetic frames of {h}x{w} (scores in %, deltas against w/o SegFix)")
    print(table(out))
    path = write_json("demo_table1", out, path=args.json)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
