"""Refinement and boundary F-score evaluation of one 2048x1024 frame, against the usual ways.

1. Refine: our exact index shift (``segfix_data.refine``, numba, one thread) against the authors'
   two bilinear ``torch.nn.functional.grid_sample(padding_mode="border")`` shifts, same frame, same
   offsets (ground-truth offsets of a synthetic frame, m = 8, scale 2): their Cityscapes
   ``scripts/cityscapes/segfix.py`` shifts the 19-channel one-hot map and takes the argmax; their
   ``segfix_ade20k.py`` shifts the id map itself cast to float and rounds (which blends ids).
   Also counts the pixels where each disagrees with the exact shift, and the blended ids.
2. Boundary F-score of one frame, 19 classes, thresholds 0.0003/0.0006/0.0009: ours
   (``boundary_f_image``) against the per-class dilation implementation of the same definition
   (``boundary_f_image_reference``), same run; the numbers must be identical.
3. Boundary IoU (d = round(0.02 x diagonal), 46 px) and trimap IoU (bands 1/3/5/10 px) of the same
   frame: ours (one chessboard distance map per label map) against the per-class erosion and the
   band-by-shifting references of ``tests/support/region_oracles.py``; counts must be identical.
   Also their time against the boundary F's, and both scores before / after the refinement.

Threads are pinned to 1 (NUMBA/OMP/MKL and ``torch.set_num_threads(1)``): the figures are per core.
Medians over repeats. ``--quick`` uses a 256x512 frame and fewer repeats.

Writes ``benchmarks/results/bench_refine.json``.
"""
from __future__ import annotations

import os

for _v in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_metadata, median_time_and_result, print_metadata, write_json  # noqa: E402
from demo_table1 import coarse_prediction  # noqa: E402
from segfix_data import semantic_targets  # noqa: E402
from segfix_data.datasets.labels import cityscapes_label_ids_to_train_ids  # noqa: E402
from segfix_data.metrics.boundary import BOUNDARY_THRESHOLDS, boundary_f_image  # noqa: E402
from segfix_data.refine import offsets_from_direction, refine_labels, refine_labels_with_offsets  # noqa: E402
from segfix_data.synthetic import synthetic_cityscapes_frame  # noqa: E402
from tests.support.oracles import boundary_f_image_reference  # noqa: E402  (the one slow reference)
from segfix_data.metrics import RegionMetrics, RegionScore, TRIMAP_WIDTHS, biou_dilation, boundary_iou_counts  # noqa: E402
from segfix_data.metrics.trimap import band_confusion, ring_confusion  # noqa: E402
from tests.support.region_oracles import boundary_iou_reference, trimap_reference  # noqa: E402


def median_ms(fn, repeats: int, warmup: int = 1) -> tuple[float, object]:
    """:func:`_common.median_time_and_result` in milliseconds, and the result."""
    seconds, out = median_time_and_result(fn, repeats, warmup)
    return 1e3 * seconds, out


def _grid(h: int, w: int, offsets: np.ndarray):
    """Their sampling grid: pixel coordinates + offsets, normalised with ``(size - 1) / 2``; used
    with PyTorch's current default ``align_corners=False`` (hence the half-pixel misalignment)."""
    import torch

    off = torch.from_numpy(offsets.astype(np.float32))
    gy, gx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    grid_y = (gy + off[..., 0]) / ((h - 1) / 2) - 1
    grid_x = (gx + off[..., 1]) / ((w - 1) / 2) - 1
    return torch.stack([grid_x, grid_y], dim=-1)[None]


def grid_sample_onehot_shift(label: np.ndarray, offsets: np.ndarray, num_classes: int = 19) -> np.ndarray:
    """The authors' Cityscapes shift: bilinear grid_sample of the one-hot map, argmax (uint8)."""
    import torch
    import torch.nn.functional as F

    h, w = label.shape
    onehot = torch.eye(num_classes)[torch.from_numpy(label.astype(np.int64))].permute(2, 0, 1)[None]
    y = F.grid_sample(onehot, _grid(h, w, offsets), mode="bilinear", padding_mode="border", align_corners=False)
    return y.argmax(dim=1)[0].numpy().astype(np.uint8)


def grid_sample_shift(label: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The authors' ADE20K shift: bilinear grid_sample of the id map as float, rounded (uint8)."""
    import torch
    import torch.nn.functional as F

    h, w = label.shape
    x = torch.from_numpy(label.astype(np.float32))[None, None]
    y = F.grid_sample(x, _grid(h, w, offsets), mode="bilinear", padding_mode="border", align_corners=False)
    return np.round(y[0, 0].numpy()).astype(np.uint8)


def mixed_id_pixels(label: np.ndarray, offsets: np.ndarray, shifted: np.ndarray) -> int:
    """Pixels of a bilinear shift whose value is none of its 2x2 source pixels' labels (mixed ids)."""
    h, w = label.shape
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float64)
    # grid_sample's unnormalisation with align_corners=False, border padding
    ys = np.clip((gy + offsets[..., 0]) * h / (h - 1) - 0.5, 0, h - 1)
    xs = np.clip((gx + offsets[..., 1]) * w / (w - 1) - 0.5, 0, w - 1)
    y0, x0 = np.floor(ys).astype(np.int64), np.floor(xs).astype(np.int64)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    ok = np.zeros(label.shape, bool)
    for yy in (y0, y1):
        for xx in (x0, x1):
            ok |= label[yy, xx] == shifted
    return int((~ok).sum())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="256x512 frame, few repeats (smoke run)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    h, w = (256, 512) if args.quick else (1024, 2048)
    rep_fast, rep_slow = (5, 1) if args.quick else (50, 3)

    gt = cityscapes_label_ids_to_train_ids(synthetic_cityscapes_frame(args.seed, h, w).label_ids)
    pred = coarse_prediction(gt, 8, 0.15, np.random.default_rng(args.seed))
    t = semantic_targets(gt)
    offsets = offsets_from_direction(t.boundary, t.direction, 8, scale=2)
    rows = []

    ms_dir, ours = median_ms(lambda: refine_labels(pred, t.boundary, t.direction, 8, scale=2), rep_fast)
    ms_off, ours2 = median_ms(lambda: refine_labels_with_offsets(pred, offsets), rep_fast)
    ms_oh, theirs_oh = median_ms(lambda: grid_sample_onehot_shift(pred, offsets), max(rep_fast // 5, 1))
    ms_gs, theirs = median_ms(lambda: grid_sample_shift(pred, offsets), rep_fast)
    assert np.array_equal(ours, ours2)
    differ_oh = int((theirs_oh != ours).sum())
    differ = int((theirs != ours).sum())
    new_ids = mixed_id_pixels(pred, offsets, theirs)
    rows.append(("refine vs one-hot grid_sample (Cityscapes)", ms_dir, ms_oh))
    rows.append(("refine vs id grid_sample (ADE20K)", ms_dir, ms_gs))
    rows.append(("refine, offset field (.mat) vs id grid_sample", ms_off, ms_gs))

    ts = BOUNDARY_THRESHOLDS
    ms_f, f_ours = median_ms(lambda: boundary_f_image(pred, gt, 19, ts), rep_fast)
    ms_ref, f_ref = median_ms(lambda: boundary_f_image_reference(pred, gt, 19, ts), rep_slow, warmup=0)
    identical = bool(np.array_equal(f_ours, f_ref))
    rows.append(("boundary F: 19 classes x 3 thresholds", ms_f, ms_ref))

    d = biou_dilation(gt.shape)
    ms_b, b_ours = median_ms(lambda: boundary_iou_counts(pred, gt, 19, d), rep_fast)
    ms_bref, b_ref = median_ms(lambda: boundary_iou_reference(pred, gt, 19, d), rep_slow, warmup=0)
    biou_identical = all(np.array_equal(a, b) for a, b in zip(b_ours, b_ref))
    rows.append((f"Boundary IoU: 19 classes, d = {d} px", ms_b, ms_bref))
    widths = TRIMAP_WIDTHS
    ms_t, t_ours = median_ms(lambda: ring_confusion(pred, gt, 19, max(widths)), rep_fast)
    ms_tref, t_ref = median_ms(lambda: trimap_reference(pred, gt, 19, widths), rep_slow, warmup=0)
    trimap_identical = all(np.array_equal(band_confusion(t_ours, w), t_ref[w]) for w in widths)
    rows.append(("trimap IoU: 19 classes, bands 1/3/5/10 px", ms_t, ms_tref))
    regions = RegionMetrics(biou=True, trimap_px=widths)
    ms_both, _ = median_ms(lambda: RegionScore(19, regions).update(pred, gt), rep_fast)
    region_scores = {}
    for name, labels in (("coarse", pred), ("refined", ours)):
        acc = RegionScore(19, regions)
        acc.update(labels, gt)
        r = acc.result([str(c) for c in range(19)])
        region_scores[name] = {"boundary_iou": r["boundary_iou"], "trimap_iou": r["trimap_iou"]}

    meta = machine_metadata()
    print(f"frame {h}x{w}, boundary pixels {int((t.boundary == 1).sum())} "
          f"({100 * float((t.boundary == 1).mean()):.1f}%), 1 thread")
    print(f"{'task':<46} {'ours ms':>9} {'baseline ms':>12} {'ratio':>8}")
    for name, a, b in rows:
        print(f"{name:<46} {a:9.2f} {b:12.2f} {b / a:7.1f}x")
    print("baselines: refine = the authors' torch grid_sample shifts (segfix.py: one-hot + argmax; "
          "segfix_ade20k.py: ids + round); boundary F = per-class seg2bmap + disk dilation")
    print(f"pixels differing from the exact shift: one-hot grid_sample {differ_oh}, id grid_sample {differ} "
          f"(of which {new_ids} hold a blended id, none of their 2x2 source labels); the exact shift blends none")
    print(f"boundary F identical to the per-class dilation: {identical}; "
          f"mean F per threshold {np.round(f_ours.mean(0), 4).tolist()}")
    print(f"Boundary IoU counts identical to the per-class erosion: {biou_identical}; trimap band confusions "
          f"identical to the shifted-map bands: {trimap_identical}")
    print(f"time against the boundary F ({ms_f:.2f} ms): Boundary IoU {ms_b / ms_f:.2f}x, trimap {ms_t / ms_f:.2f}x, "
          f"both in one RegionScore.update {ms_both:.2f} ms = {ms_both / ms_f:.2f}x")
    for name, r in region_scores.items():
        print(f"{name:>8}: BIoU {100 * r['boundary_iou']:.2f}, trimap IoU "
              + ", ".join(f"{w} px {100 * v:.2f}" for w, v in r["trimap_iou"].items()))
    print_metadata(meta)
    out = {
        "frame": [h, w], "repeats": {"fast": rep_fast, "slow": rep_slow},
        "rows": [{"task": n, "ours_ms": a, "baseline_ms": b, "ratio": b / a} for n, a, b in rows],
        "onehot_grid_sample_pixels_differing": differ_oh,
        "id_grid_sample_pixels_differing": differ, "id_grid_sample_blended_id_pixels": new_ids,
        "boundary_f_identical": identical, "meta": meta,
        "boundary_iou_identical": biou_identical, "trimap_identical": trimap_identical, "biou_d_px": d,
        "region_ms": {"boundary_iou": ms_b, "trimap": ms_t, "both": ms_both, "boundary_f": ms_f},
        "region_vs_boundary_f": {"boundary_iou": ms_b / ms_f, "trimap": ms_t / ms_f, "both": ms_both / ms_f},
        "region_scores": region_scores,
    }
    path = write_json("bench_refine", out, path=args.json)
    print(f"wrote {path}")
    return 0 if identical and biou_identical and trimap_identical else 1


if __name__ == "__main__":
    sys.exit(main())
