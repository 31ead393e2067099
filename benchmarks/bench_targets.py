"""Targets core benchmark (issue 2): one-pass targets against the per-class baseline.

Frames are deterministic synthetic Cityscapes-like 1024x2048 maps (many regions, 3-8 px poles,
small blobs, ~5-8% ignore, 20+ thing instances). Everything runs single-threaded. The baseline is
the authors' method with the paper's parameters: per class (or segment) one scipy EDT of the
class mask and one 9x9 filter of that class's distance map with torch ``conv2d`` in float32 (what
their generator does; one thread), masked to the class. Both sides run in the same process on the same maps; the script checks that
they agree before it prints the ratio.

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
    machine_metadata, median_time, pin_single_thread, print_metadata, write_json,
)

pin_single_thread()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.ndimage import distance_transform_edt  # noqa: E402

torch.set_num_threads(1)

from segfix_data import instance_targets, semantic_targets  # noqa: E402
from segfix_data.targets.direction import DIRECTION_IGNORE, angle_to_bin, direction_kernels  # noqa: E402
from segfix_data.datasets.labels import (  # noqa: E402
    cityscapes_instance_ids_to_segments, cityscapes_label_ids_to_train_ids,
)
from segfix_data.synthetic import synthetic_cityscapes_frame  # noqa: E402


def baseline_targets(label, ignore, ksize=9, gamma=5.0, m=8):
    """Per-class loop: scipy EDT of each class mask, each class's distance filtered on its own
    (torch conv2d, float32, zero padding, as the authors' generator)."""
    kernel = torch.from_numpy(np.stack(direction_kernels(ksize))[:, None]).float()
    dist = np.zeros(label.shape)
    gy = np.zeros(label.shape, np.float32)
    gx = np.zeros(label.shape, np.float32)
    for k in np.unique(label):
        if k == ignore:
            continue
        mask = label == k
        d_k = distance_transform_edt(mask)
        dist[mask] = d_k[mask]
        g = torch.nn.functional.conv2d(torch.from_numpy(d_k).float()[None, None], kernel,
                                       padding=ksize // 2)[0].numpy()
        gy[mask] = g[0][mask]
        gx[mask] = g[1][mask]
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small maps, one repeat")
    parser.add_argument("--frames", type=int, default=2, help="synthetic frames to average over")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats of our code")
    args = parser.parse_args(argv)
    h, w = (256, 512) if args.quick else (1024, 2048)
    repeats = 1 if args.quick else args.repeats
    base_repeats = 1

    meta = machine_metadata()
    print_metadata(meta)
    print(f"frames: {args.frames} synthetic {h}x{w}; single thread; baseline = per-class scipy EDT "
          "+ per-class 9x9 torch conv2d (float32)\n")
    rows = []
    for seed in range(args.frames):
        frame = synthetic_cityscapes_frame(seed, height=h, width=w)
        train = cityscapes_label_ids_to_train_ids(frame.label_ids)
        segments, seg_ignore = cityscapes_instance_ids_to_segments(frame.instance_ids)
        valid_sem = train != 255
        folded = np.where(valid_sem, train % 5, 255).astype(np.uint8)
        many = np.where(segments == seg_ignore, -1, strips(np.where(segments == seg_ignore, 0, segments), w // 8))
        cases = [
            ("semantic", train, 255, semantic_targets),
            ("semantic, 5 classes", folded, 255, semantic_targets),
            ("instance", segments, seg_ignore, instance_targets),
            ("instance, 60+ segments", many, -1, instance_targets),
        ]
        for name, label, ignore, fn in cases:
            n_labels = int(np.unique(label[label != ignore]).size)
            ours_s = median_time(lambda: fn(label, ignore_index=ignore), repeats)
            base_s = median_time(lambda: baseline_targets(label, ignore), base_repeats, warmup=0)
            ours = fn(label, ignore_index=ignore)
            same_d, same_b, dir_agree = agreement(ours, *baseline_targets(label, ignore),
                                                  label != ignore) if seed == 0 else (None,) * 3
            rows.append(dict(frame=seed, case=name, labels=n_labels, ours_ms=ours_s * 1e3,
                             baseline_ms=base_s * 1e3, ratio=base_s / ours_s,
                             boundary_fraction=float(np.mean(ours.boundary == 1)),
                             same_distance=same_d, same_boundary=same_b,
                             direction_agreement=dir_agree))
            r = rows[-1]
            print(f"frame {seed} {name:24s} labels {n_labels:4d}  ours {r['ours_ms']:8.1f} ms  "
                  f"baseline {r['baseline_ms']:9.1f} ms  ratio {r['ratio']:7.1f}x")
            if seed == 0:
                print(f"{'':33s}check: distance equal {same_d}, boundary equal {same_b}, "
                      f"direction agreement {100 * dir_agree:.4f}%")

    print("\nsummary (median over frames):")
    summary = {}
    for name in dict.fromkeys(r["case"] for r in rows):
        sel = [r for r in rows if r["case"] == name]
        s = {k: float(np.median([r[k] for r in sel])) for k in ("ours_ms", "baseline_ms", "ratio",
                                                                 "labels")}
        summary[name] = s
        print(f"  {name:24s} labels {s['labels']:5.0f}  ours {s['ours_ms']:8.1f} ms/frame  "
              f"baseline {s['baseline_ms']:9.1f} ms/frame  ratio {s['ratio']:7.1f}x")
    path = write_json("bench_targets" + ("_quick" if args.quick else ""),
                      dict(meta=meta, size=[h, w], rows=rows, summary=summary))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
