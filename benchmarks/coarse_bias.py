"""Are the coarse maps that validation refines shifted? Three ways of making them, side by side.

The validation (``segfix_train.validate.RefinementScore``) and the direction ablation refine a
coarse copy of each label map with a model's offsets and score the gain. A coarse copy that sits
off the label map rewards offsets that move it back, whatever the true directions. Compared:

* ``top-left pixel``: each 8x8 tile keeps its top-left pixel (``lab[::8, ::8]``, nearest
  down-sampling as ``F.interpolate(mode="nearest")``), repeated over the tile;
* ``middle pixel``: the pixel at (4, 4) of each tile (``mode="nearest-exact"``);
* ``block majority``: the tile's most frequent label (``segfix_train.coarse.block_majority``, what
  validation uses now).

For each: the mean displacement (dy, dx) of a rectangle's coarse copy over all 64 placements
against the tiles and three sizes; and, on generated Cityscapes-like frames, the gain (refined minus
coarse; mIoU, boundary F at 1 and 3 px; offset scale 2, as validation) of refining with the
ground-truth boundary (gamma 5) and (a) its true directions, (b) one constant direction,
down-right (bin 5), (c) random directions. An unshifted map: (a) gains, (b) loses.

    python3 benchmarks/coarse_bias.py [--frames 2] [--height 1024 --width 2048] [--quick]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from _common import machine_metadata, print_metadata, write_json  # noqa: E402
from segfix_data import semantic_targets  # noqa: E402
from segfix_data.datasets.labels import CITYSCAPES_CLASS_NAMES, cityscapes_label_ids_to_train_ids  # noqa: E402
from segfix_data.metrics import SegmentationScore  # noqa: E402
from segfix_data.refine import refine_labels  # noqa: E402
from segfix_data.synthetic import synthetic_cityscapes_frame  # noqa: E402
from segfix_train.coarse import block_majority  # noqa: E402
from segfix_train.validate import F_PIXELS, REFINE_SCALE  # noqa: E402
from tests.support.rectangles import rectangle_shifts  # noqa: E402

K = len(CITYSCAPES_CLASS_NAMES)
CONSTANT_BIN = 5  # (dy, dx) = (1, 1) of 8 bins


def _picked(label: np.ndarray, at: int, block: int = 8) -> np.ndarray:
    h, w = label.shape
    small = label[at::block, at::block]
    return np.repeat(np.repeat(small, block, 0), block, 1)[:h, :w]


METHODS = {"top-left pixel": lambda lab: _picked(lab, 0), "middle pixel": lambda lab: _picked(lab, 4),
           "block majority": block_majority}
DIRECTIONS = ("true", "constant down-right", "random")


def rectangle_shift(coarse) -> list[float]:
    """Mean (dy, dx) of the centroid of a rectangle's coarse copy, over 64 placements x 3 sizes."""
    return [float(v) for v in rectangle_shifts(coarse).mean(axis=0)]


def gains(frames: int, height: int, width: int, seed: int) -> dict:
    scores = {(m, d): [SegmentationScore(K, thresholds=F_PIXELS) for _ in range(2)] for m in METHODS for d in DIRECTIONS}
    rng = np.random.default_rng(seed)
    for i in range(frames):
        gt = cityscapes_label_ids_to_train_ids(synthetic_cityscapes_frame(seed + i, height, width).label_ids)
        t = semantic_targets(gt)
        directions = {"true": t.direction, "constant down-right": np.full(gt.shape, CONSTANT_BIN, np.uint8),
                      "random": rng.integers(0, 8, gt.shape).astype(np.uint8)}
        for m, coarse in METHODS.items():
            c = coarse(gt)
            for d in DIRECTIONS:
                before, after = scores[m, d]
                before.update(c, gt)
                after.update(refine_labels(c, t.boundary, np.where(t.boundary == 1, directions[d], 255), 8,
                                           scale=REFINE_SCALE), gt)
    out = {m: {} for m in METHODS}
    for (m, d), (before, after) in scores.items():
        b, a = before.result(), after.result()
        out[m][d] = {"coarse_miou": b["miou"], "delta_miou": a["miou"] - b["miou"],
                     **{f"delta_f_{px}px": a["boundary_f"][str(px)] - b["boundary_f"][str(px)] for px in F_PIXELS}}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=2)
    ap.add_argument("--height", type=int, default=1024)
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="one 256x512 frame (tests)")
    ap.add_argument("--json", default=None, help="output JSON [benchmarks/results/coarse_bias.json]")
    args = ap.parse_args(argv)
    if args.quick:
        args.frames, args.height, args.width = 1, 256, 512
    meta = machine_metadata()
    print_metadata(meta)
    t0 = time.perf_counter()
    shift = {m: rectangle_shift(f) for m, f in METHODS.items()}
    result = gains(args.frames, args.height, args.width, args.seed)
    print(f"\n{args.frames} generated {args.height}x{args.width} frames, ground-truth boundary, offset scale "
          f"{REFINE_SCALE}; gain of the refined over the coarse map, points ({time.perf_counter() - t0:.0f} s)")
    print(f"{'coarse map':<16} {'rect. shift dy, dx':>19} {'coarse mIoU':>12} {'directions':<20} "
          f"{'d mIoU':>7} {'d F@1px':>8} {'d F@3px':>8}")
    for m in METHODS:
        for j, d in enumerate(DIRECTIONS):
            r = result[m][d]
            head = (f"{m:<16} {shift[m][0]:+9.2f}, {shift[m][1]:+6.2f}    {100 * r['coarse_miou']:12.1f}" if j == 0
                    else " " * 49)
            print(f"{head} {d:<20} {100 * r['delta_miou']:+7.2f} {100 * r['delta_f_1px']:+8.2f} "
                  f"{100 * r['delta_f_3px']:+8.2f}")
    base, new = result["top-left pixel"], result["block majority"]
    for name, r in (("top-left pixel", base), ("block majority", new)):
        print(f"{name}: true minus constant direction, d mIoU {100 * (r['true']['delta_miou'] - r['constant down-right']['delta_miou']):+.2f} points")
    path = write_json("coarse_bias", {"meta": meta, "args": vars(args), "rectangle_shift_px": shift,
                                      "gains": result}, path=args.json)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
