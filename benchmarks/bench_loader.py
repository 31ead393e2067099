"""Training crops per second per worker: our shard stream against the authors' way, same run.

Ours: ``segfix_train.data.random_crop`` on a ``ShardSet`` (reads only the HDF5 tiles under the
crop window and draws flip and brightness; in training ``device_batch`` then flips (mirrored bins),
shifts and normalises the batch on the device). A second row adds that ``device_batch`` work on
the CPU, for a like-for-like count of every per-pixel operation.
Authors' way (openseg.pytorch's SegFix loader): decode the full image PNG and label PNG, load the
per-frame ``.mat`` (depth, dir_deg), encode the label with a loop over the class ids, derive the
boundary mask (depth <= 5) and the 8 direction bins from ``2 * dir_deg - 180`` on the full frame,
then the same crop, flip, brightness and normalisation.

Both run in this one process (one worker each), one thread, over the same frames and crop
windows; medians over repeats. Usage: ``python benchmarks/bench_loader.py [--quick]``.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks._common import interleaved_median_times, machine_metadata, print_metadata, write_json  # noqa: E402
from segfix_data.targets.direction import angle_to_bin, flip_direction_map  # noqa: E402
from segfix_train.data import AugmentConfig, device_batch, normalise, random_crop  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def make_data(root: str, n: int, h: int, w: int, image_level: int, codec: str = "lz4") -> tuple[str, list[dict]]:
    """Example Cityscapes frames, their shards (target tiles in ``codec``) and the authors' .mat targets."""
    from segfix_data.shards import BuildConfig, build
    from segfix_data.interop import save_openseg_targets_mat
    from segfix_data.datasets.labels import cityscapes_label_ids_to_train_ids
    from segfix_data.synthetic import write_example_dataset
    from segfix_data.targets import semantic_targets
    from PIL import Image

    frames = write_example_dataset(os.path.join(root, "cs"), splits={"train": n}, height=h, width=w)
    build(os.path.join(root, "cs"), os.path.join(root, "shards"), ["train"], BuildConfig(image_level=image_level, codec=codec))
    for fr in frames:
        lab = cityscapes_label_ids_to_train_ids(np.asarray(Image.open(fr["label_ids"])))
        o = semantic_targets(lab, preset="openseg").to_openseg()
        fr["mat"] = str(fr["label_ids"]).replace(".png", ".mat")
        save_openseg_targets_mat(fr["mat"], o["depth"], o["dir_deg"])
    return os.path.join(root, "shards"), frames


def authors_crop(frame: dict, window, flip: bool, delta: int, crop: int):
    """The authors' per-sample work, then the same augmentation as ours."""
    from PIL import Image
    from scipy.io import loadmat

    from segfix_data.datasets.labels import CITYSCAPES_EVAL_IDS

    img = np.asarray(Image.open(frame["image"]).convert("RGB"))
    raw = np.asarray(Image.open(frame["label_ids"]))
    label = np.full(raw.shape, 255, np.uint8)
    for i, lid in enumerate(CITYSCAPES_EVAL_IDS):  # their per-class encoding loop
        label[raw == lid] = i
    mat = loadmat(frame["mat"])
    depth, dir_deg = mat["depth"], mat["dir_deg"]
    angle = 2.0 * dir_deg.astype(np.float64) - 180.0
    boundary = ((depth <= 5) & (label != 255)).astype(np.uint8)
    boundary[label == 255] = 255
    direction = np.where(boundary == 1, angle_to_bin(angle, 8), 255).astype(np.uint8)
    y0, x0, h, w = window
    img, boundary, direction = img[y0:y0 + h, x0:x0 + w], boundary[y0:y0 + h, x0:x0 + w], direction[y0:y0 + h, x0:x0 + w]
    if flip:
        img, boundary, direction = img[:, ::-1], boundary[:, ::-1], flip_direction_map(direction, 8)
    img = np.clip(img.astype(np.float32) + delta, 0, 255)
    return normalise(img), np.ascontiguousarray(boundary), np.ascontiguousarray(direction)


def run(args) -> dict:
    from segfix_data.shards import ShardSet

    torch.set_num_threads(1)
    image_level = args.image_level
    h, w, crop, n_frames, n_crops = (256, 512, 128, 2, 8) if args.quick else (1024, 2048, 512, 4, 24)
    with tempfile.TemporaryDirectory() as root:
        t = time.perf_counter()
        shards, frames = make_data(root, n_frames, h, w, image_level)
        setup_s = time.perf_counter() - t
        ds = ShardSet(shards, "train")
        order = {s["stem"]: i for i, s in enumerate(ds.samples)}
        idx = [order[os.path.splitext(os.path.basename(str(f["image"])))[0]] for f in frames]
        aug = AugmentConfig(crop=crop)
        calls = iter(range(10**6))  # every pass draws fresh windows (no chunk-cache reuse between passes)

        def draws():
            base = next(calls) * n_crops
            for k in range(base, base + n_crops):
                g = np.random.default_rng(k)
                yield (k, k % n_frames, int(g.integers(0, h - crop + 1)), int(g.integers(0, w - crop + 1)),
                       bool(g.random() < 0.5), int(g.integers(-10, 11)))

        def ours():
            for k, f, *_ in draws():
                random_crop(ds, idx[f], np.random.default_rng(k), aug, 8)

        def ours_cpu_norm():  # plus flip, shift and normalisation on the CPU (on the device in training)
            for k, f, *_ in draws():
                img, b, d, delta, flip = random_crop(ds, idx[f], np.random.default_rng(k), aug, 8)
                device_batch({"image": torch.from_numpy(img)[None], "boundary": torch.from_numpy(b)[None],
                              "direction": torch.from_numpy(d)[None], "brightness": torch.tensor([delta]),
                              "flip": torch.tensor([flip])}, torch.device("cpu"), 8)

        def theirs():  # same kind of windows, flips and shifts
            for k, f, y0, x0, flip, delta in draws():
                authors_crop(frames[f], (y0, x0, crop, crop), flip, delta, crop)

        # one warm-up round (caches, imports), then interleaved rounds
        t = interleaved_median_times({"ours": ours, "norm": ours_cpu_norm, "theirs": theirs}, args.repeats)
        ds.close()
    ms_ours = 1e3 * t["ours"] / n_crops
    ms_theirs = 1e3 * t["theirs"] / n_crops
    ms_norm = 1e3 * t["norm"] / n_crops
    return {"frame": [h, w], "crop": crop, "frames": n_frames, "crops_per_repeat": n_crops,
            "repeats": args.repeats, "setup_s": setup_s,
            "ours_ms_per_crop": ms_ours, "authors_ms_per_crop": ms_theirs,
            "ours_crops_per_s": 1e3 / ms_ours, "authors_crops_per_s": 1e3 / ms_theirs,
            "ours_with_cpu_normalisation_ms_per_crop": ms_norm,
            "image_level": image_level, "speedup": ms_theirs / ms_ours, "speedup_with_cpu_normalisation": ms_theirs / ms_norm}



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small frames and crops (smoke run)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--image-level", type=int, default=0,
                    help="zlib level of the shards' image tiles (segfix-gt build --image-level; 0 = raw tiles)")
    ap.add_argument("--json", default=None, help="output JSON [benchmarks/results/bench_loader[_quick].json]")
    args = ap.parse_args()
    res = run(args)
    meta = machine_metadata()
    meta.update(torch_threads=torch.get_num_threads(), cuda=None)
    print_metadata(meta)
    print(f"frames {res['frame'][0]}x{res['frame'][1]}, crop {res['crop']}, median of {res['repeats']} repeats, "
          f"one worker, 1 thread (torch, OMP, numba)")
    print(f"{'loader':<28}{'ms/crop':>10}{'crops/s':>10}")
    print(f"{'ours (shard tiles)':<28}{res['ours_ms_per_crop']:>10.2f}{res['ours_crops_per_s']:>10.1f}")
    print(f"{'ours + flip/norm on CPU':<28}{res['ours_with_cpu_normalisation_ms_per_crop']:>10.2f}"
          f"{1e3 / res['ours_with_cpu_normalisation_ms_per_crop']:>10.1f}")
    print(f"{'authors (png+mat+encode)':<28}{res['authors_ms_per_crop']:>10.2f}{res['authors_crops_per_s']:>10.1f}")
    print(f"speedup {res['speedup']:.1f}x ({res['speedup_with_cpu_normalisation']:.1f}x with flip/normalisation on the CPU); "
          f"shard image tiles zlib level {res['image_level']}")
    out = args.json or os.path.join(HERE, "results", "bench_loader_quick.json" if args.quick else "bench_loader.json")
    write_json("bench_loader", path=out, payload={"benchmark": "bench_loader", "quick": args.quick, "machine": meta, "results": res})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
