"""Targets core benchmark: one-pass targets against two per-class baselines.

Frames are deterministic synthetic Cityscapes-like 1024x2048 maps (many regions, 3-8 px poles,
small blobs, ~5-8% ignore, 20+ thing instances, ~8% boundary pixels) and a dense variant of each
(the frame subsampled by 3 and tiled 3x3: the same kinds of shapes, ~20% boundary pixels).
Everything runs single-threaded, in one process, on the same maps:

* **authors' way**: per class (or segment) one scipy EDT of the class mask and one 9x9 filter of
  that class's distance map with torch ``conv2d`` in float32 (what their generator does), masked
  to the class;
* **stronger baseline**: the same with OpenCV ``filter2D`` (float32, zero border) instead of
  torch (skipped if OpenCV is missing: ``pip install segfix[bench]``);
* **ours**: :func:`segfix_data.semantic_targets` (full distance, the public default) and with
  ``distance_bound=min_distance_bound(gamma, ksize)`` (what the shard build computes: boundary,
  direction and gradient the same, the distance exact up to 10.66 px), and with the direction band
  of 15 px in the same pass (``direction_band=15``, bound 20.66 px: what the shard build computes).

The script checks that the baselines agree with ours (distance and boundary equal, directions on
>= 99.99% of boundary pixels: the rest sit within float32 rounding of a bin edge) before it
prints ratios. A second table compares exact EDTs alone: ours (full and capped), seung-lab's
``edt`` (multi-label, C++; ``pip install segfix[bench]``), OpenCV and scipy per label.

    python benchmarks/bench_targets.py            # full size, writes results/bench_targets.json
    python benchmarks/bench_targets.py --quick    # small maps, a smoke run
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import (  # noqa: E402
    CLOCK, machine_metadata, median_time, pin_single_thread, print_metadata, use_cpu_time, write_json,
)

pin_single_thread()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.ndimage import distance_transform_edt  # noqa: E402

torch.set_num_threads(1)
try:
    import cv2  # noqa: E402

    cv2.setNumThreads(1)
except ImportError:  # the stronger baseline needs the bench extra
    cv2 = None
try:
    import edt as seunglab_edt  # noqa: E402
except ImportError:
    seunglab_edt = None

from segfix_data import instance_targets, semantic_targets  # noqa: E402
from segfix_data.datasets.labels import (  # noqa: E402
    cityscapes_instance_ids_to_segments, cityscapes_label_ids_to_train_ids,
)
from segfix_data.synthetic import synthetic_cityscapes_frame  # noqa: E402
from segfix_data.targets import min_distance_bound, multilabel_distance  # noqa: E402
from segfix_data.targets.direction import DIRECTION_IGNORE, angle_to_bin, direction_kernels  # noqa: E402


def _filter_torch(d32, ky, kx):
    kernel = torch.from_numpy(np.stack([ky, kx])[:, None]).float()
    g = torch.nn.functional.conv2d(torch.from_numpy(d32)[None, None], kernel,
                                   padding=ky.shape[0] // 2)[0].numpy()
    return g[0], g[1]


def _filter_cv2(d32, ky, kx):
    # filter2D computes a correlation (as torch conv2d and targets.md); zero border
    return (cv2.filter2D(d32, -1, ky, borderType=cv2.BORDER_CONSTANT),
            cv2.filter2D(d32, -1, kx, borderType=cv2.BORDER_CONSTANT))


FILTERS = {"torch": _filter_torch, "cv2": _filter_cv2}


def baseline_targets(label, ignore, filt="torch", ksize=9, gamma=5.0, m=8):
    """Per-class loop: scipy EDT of each class mask, each class's distance filtered on its own
    (float32, zero padding) with torch conv2d (the authors' generator) or OpenCV filter2D."""
    ky, kx = (k.astype(np.float32) for k in direction_kernels(ksize))
    fn = FILTERS[filt]
    dist = np.zeros(label.shape)
    gy = np.zeros(label.shape, np.float32)
    gx = np.zeros(label.shape, np.float32)
    for k in np.unique(label):
        if k == ignore:
            continue
        mask = label == k
        d_k = distance_transform_edt(mask)
        dist[mask] = d_k[mask]
        fy, fx = fn(d_k.astype(np.float32), ky, kx)
        gy[mask] = fy[mask]
        gx[mask] = fx[mask]
    valid = label != ignore
    boundary = valid & (dist <= gamma)
    theta = np.degrees(np.arctan2(gy.astype(np.float64) + 0.0, gx))
    defined = np.hypot(gy, gx) > 1e-6
    direction = np.where(boundary & defined, angle_to_bin(theta, m), DIRECTION_IGNORE)
    return dist, boundary, direction.astype(np.uint8)


def agreement(ours, base_dist, base_boundary, base_direction, valid):
    capped = np.minimum(base_dist, ours.params["distance_cap"]).astype(np.float32)
    same_dist = bool(np.array_equal(ours.distance[valid], capped[valid]))
    same_boundary = bool(np.array_equal(ours.boundary == 1, base_boundary))
    on = base_boundary
    dir_agree = float(np.mean(ours.direction[on] == base_direction[on])) if on.any() else 1.0
    return same_dist, same_boundary, dir_agree


def strips(segments, width):
    """Split every segment into vertical strips: more segments, the same kind of geometry."""
    cols = np.arange(segments.shape[1])[None, :] // width
    _, inverse = np.unique(segments.astype(np.int64) * 64 + cols, return_inverse=True)
    return inverse.reshape(segments.shape).astype(np.int32)


def dense(label, k=3):
    """The map subsampled by ``k`` and tiled k x k: ~2.5x the boundary pixels of a street scene."""
    h, w = label.shape
    return np.ascontiguousarray(np.tile(label[::k, ::k], (k, k))[:h, :w])


def edt_rows(label, ignore, repeats):
    """Exact EDT of every label (distance to the nearest pixel of another label), per method."""
    ours = multilabel_distance(label)
    bound = min_distance_bound(5.0, 9)
    methods = {
        "ours, multi-label (full)": lambda: multilabel_distance(label),
        f"ours, multi-label capped at {bound:.2f}": lambda: multilabel_distance(label, cap=bound),
    }
    if seunglab_edt is not None:  # labels + 1: its label 0 is background
        lab1 = label.astype(np.uint32) + 1
        methods["seung-lab edt, multi-label (C++)"] = lambda: seunglab_edt.edt(
            lab1, black_border=False, parallel=1)
    if cv2 is not None:
        def per_label_cv2():
            out = np.zeros(label.shape, np.float32)
            for k in np.unique(label):
                mask = label == k
                out[mask] = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2,
                                                  cv2.DIST_MASK_PRECISE)[mask]
            return out
        methods["OpenCV distanceTransform per label"] = per_label_cv2

    def per_label_scipy():
        out = np.zeros(label.shape)
        for k in np.unique(label):
            mask = label == k
            out[mask] = distance_transform_edt(mask)[mask]
        return out
    methods["scipy distance_transform_edt per label"] = per_label_scipy
    finite = np.isfinite(ours)
    rows = []
    for name, fn in methods.items():
        res = np.asarray(fn(), np.float64)
        capped = "capped" in name
        ref = np.minimum(ours, bound) if capped else ours
        err = float(np.max(np.abs(res[finite] - ref[finite])))
        t = median_time(fn, 1 if "per label" in name else repeats, warmup=0 if "per label" in name else 1)
        rows.append(dict(method=name, ms=t * 1e3, max_abs_diff=err))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small maps, one repeat")
    parser.add_argument("--frames", type=int, default=2, help="synthetic frames to average over")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats of our code")
    parser.add_argument("--json", default=None, help="JSON path (default results/bench_targets.json)")
    parser.add_argument("--cases", default=None,
                        help="';'-separated cases to run (default all): 'semantic;semantic, dense;"
                             "semantic, 5 classes;instance;instance, 60+ segments'")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with this process's CPU time instead of wall time (shared machines)")
    args = parser.parse_args(argv)
    if args.cpu_time:
        use_cpu_time()
    h, w = (256, 512) if args.quick else (1024, 2048)
    repeats = 1 if args.quick else args.repeats
    bound = min_distance_bound(5.0, 9)
    band, band_bound = 15.0, min_distance_bound(15.0, 9)

    meta = machine_metadata()
    print_metadata(meta)
    print(f"frames: {args.frames} synthetic {h}x{w} and their dense variants; single thread\n"
          f"baselines: per-class scipy EDT + per-class 9x9 filter (float32), torch conv2d "
          f"(authors) {'and OpenCV filter2D (stronger)' if cv2 else '(OpenCV missing: no stronger baseline)'}\n"
          f"ours: semantic_targets (full distance), with distance_bound={bound:.2f}, and with "
          f"direction_band={band:g}, distance_bound={band_bound:.2f} (the build)\n"
          f"clock: {CLOCK['name']} time\n")
    filters = ["torch"] + (["cv2"] if cv2 is not None else [])
    rows, edt_table = [], []
    for seed in range(args.frames):
        frame = synthetic_cityscapes_frame(seed, height=h, width=w)
        train = cityscapes_label_ids_to_train_ids(frame.label_ids)
        segments, seg_ignore = cityscapes_instance_ids_to_segments(frame.instance_ids)
        valid_sem = train != 255
        folded = np.where(valid_sem, train % 5, 255).astype(np.uint8)
        many = np.where(segments == seg_ignore, -1, strips(np.where(segments == seg_ignore, 0, segments), w // 8))
        cases = [
            ("semantic", train, 255, semantic_targets),
            ("semantic, dense", dense(train), 255, semantic_targets),
            ("semantic, 5 classes", folded, 255, semantic_targets),
            ("instance", segments, seg_ignore, instance_targets),
            ("instance, 60+ segments", many, -1, instance_targets),
        ]
        if args.cases:
            wanted = {c.strip() for c in args.cases.split(";")}
            cases = [c for c in cases if c[0] in wanted]
        for name, label, ignore, fn in cases:
            n_labels = int(np.unique(label[label != ignore]).size)
            ours_s = median_time(lambda: fn(label, ignore_index=ignore), repeats)
            ours_b = median_time(lambda: fn(label, ignore_index=ignore, distance_bound=bound), repeats)
            ours_w = median_time(lambda: fn(label, ignore_index=ignore, direction_band=band,
                                            distance_bound=band_bound), repeats)
            ours = fn(label, ignore_index=ignore)
            row = dict(frame=seed, case=name, labels=n_labels, ours_ms=ours_s * 1e3,
                       ours_bounded_ms=ours_b * 1e3, ours_band_ms=ours_w * 1e3,
                       boundary_fraction=float(np.mean(ours.boundary == 1)))
            for filt in filters:
                base_s = median_time(lambda: baseline_targets(label, ignore, filt), 1, warmup=0)
                row[f"{filt}_ms"] = base_s * 1e3
                row[f"{filt}_ratio"] = base_s / ours_s
                row[f"{filt}_ratio_bounded"] = base_s / ours_b
                if seed == 0:
                    same_d, same_b, dir_agree = agreement(ours, *baseline_targets(label, ignore, filt),
                                                          label != ignore)
                    row[f"{filt}_check"] = dict(same_distance=same_d, same_boundary=same_b,
                                                direction_agreement=dir_agree)
            rows.append(row)
            base_txt = "  ".join(f"{f} {row[f + '_ms']:7.0f} ms ({row[f + '_ratio']:5.1f}x / "
                                 f"{row[f + '_ratio_bounded']:5.1f}x)" for f in filters)
            print(f"frame {seed} {name:24s} labels {n_labels:3d} bnd {100 * row['boundary_fraction']:4.1f}%  "
                  f"ours {row['ours_ms']:6.1f} / bounded {row['ours_bounded_ms']:6.1f} / band "
                  f"{row['ours_band_ms']:6.1f} ms  {base_txt}")
            if seed == 0:
                for filt in filters:
                    c = row[f"{filt}_check"]
                    print(f"{'':33s}check vs {filt}: distance equal {c['same_distance']}, boundary equal "
                          f"{c['same_boundary']}, direction agreement {100 * c['direction_agreement']:.4f}%")
        for name, label, ignore in (("semantic", train, 255), ("semantic, dense", dense(train), 255)):
            for r in edt_rows(label, ignore, repeats):
                edt_table.append(dict(r, frame=seed, case=name))

    print("\nsummary (median over frames; ratio = baseline ms / ours ms; 'bounded' = the capped EDT "
          "without a band; 'band' = the build's targets, direction band 15 in the same pass):")
    summary = {}
    for name in dict.fromkeys(r["case"] for r in rows):
        sel = [r for r in rows if r["case"] == name]
        keys = ["ours_ms", "ours_bounded_ms", "ours_band_ms", "labels", "boundary_fraction"]
        for f in filters:
            keys += [f"{f}_ms", f"{f}_ratio", f"{f}_ratio_bounded"]
        s = {k: float(np.median([r[k] for r in sel])) for k in keys}
        summary[name] = s
        txt = "  ".join(f"{f} {s[f + '_ms']:7.0f} ms: {s[f + '_ratio']:5.1f}x (bounded {s[f + '_ratio_bounded']:5.1f}x)"
                        for f in filters)
        print(f"  {name:24s} bnd {100 * s['boundary_fraction']:4.1f}%  ours {s['ours_ms']:6.1f} ms "
              f"(bounded {s['ours_bounded_ms']:6.1f}, band {s['ours_band_ms']:6.1f})  {txt}")
    print("\nexact EDT alone (median over frames; max |diff| vs ours, capped rows vs ours capped):")
    edt_summary = {}
    for case in ("semantic", "semantic, dense"):
        for method in dict.fromkeys(r["method"] for r in edt_table):
            sel = [r for r in edt_table if r["case"] == case and r["method"] == method]
            ms = float(np.median([r["ms"] for r in sel]))
            err = max(r["max_abs_diff"] for r in sel)
            edt_summary[f"{case} | {method}"] = dict(ms=ms, max_abs_diff=err)
            print(f"  {case:16s} {method:40s} {ms:9.1f} ms   max |diff| {err:.2g}")
    path = write_json("bench_targets" + ("_quick" if args.quick else ""),
                      dict(meta=meta, clock=CLOCK["name"], size=[h, w], rows=rows, summary=summary, edt=edt_table,
                           edt_summary=edt_summary, distance_bound=bound,
                           direction_band=band, band_distance_bound=band_bound), args.json)
    print(f"\nwrote {path}")
    return summary


if __name__ == "__main__":
    main()
