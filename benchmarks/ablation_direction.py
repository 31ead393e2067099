"""Ablation of the direction supervision: one small SegFix per ``--direction-pixels`` mode and
seed, the same data, and the refinement gain of each on held-out frames, as mean and spread over
seeds.

Generates a Cityscapes-layout dataset (`segfix_data.synthetic`, fixed by ``--data-seed``), builds
its shards once (format 3: direction targets on the 3 x gamma band), then for every seed of
``--seeds`` trains the narrow HRNet-W18 of `demo_trained.py` once per mode (`predicted`: the pixels
predicted as boundary, the paper's Sec. 3.2 and the authors' loss; `gt`: the ground-truth boundary
band; `both`: their union); within a seed every mode starts from the same weights and sees the same
crops, so modes are compared pairwise per seed. Each model refines two kinds of coarse label maps
of the held-out frames with its own offsets (from the images alone): model-like predictions
(`demo_table1.coarse_prediction`: 1/8-resolution scores, bilinear upsampling) and block-majority
maps (`segfix_train.coarse.block_majority`: each 8x8 tile's most frequent label, the maps
validation refines; not shifted). Reported per mode and cell (coarse kind, offset scale 2 as the
paper and 1): delta mIoU and delta boundary F at 1 and 3 true pixels (refined minus coarse), mean,
sample standard deviation and range over seeds, and the paired difference to `predicted`. Also per
model, on the held-out frames: the boundary head's precision, recall and F against the
ground-truth boundary (gamma 5, ``sigmoid > 0.5``), its direction accuracy on the ground-truth
boundary and on the predicted boundary pixels that have a target (within the direction band), and
where the predicted boundary pixels fall. References (no model): the gain of the ground-truth
offsets, and of the ground-truth boundary with one constant direction (down-right): a measure of
any bias of the coarse maps.

    python3 benchmarks/ablation_direction.py [--iters 1000] [--seeds 0 1 2] [--quick]
    python3 benchmarks/ablation_direction.py --markdown-from benchmarks/results/ablation_direction.json

The JSON (default ``benchmarks/results/ablation_direction.json``) is rewritten after every trained
model, so a cut run keeps the seeds it finished. Small models on generated data: the figures
compare the modes under equal conditions, not the method.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace

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
from segfix_train.coarse import block_majority  # noqa: E402
from segfix_train.config import DIRECTION_PIXELS as MODES  # noqa: E402

F_PIXELS = (1, 3)
COARSE = ("model-like", "block majority x8")
SCALES = (2, 1)
CELLS = [f"{c}, scale {s}" for c in COARSE for s in SCALES]
GAINS = ("delta_miou", "delta_f_1px", "delta_f_3px")
HEAD = ("boundary_precision", "boundary_recall", "boundary_f", "dir_acc_gt", "dir_acc_pred",
        "predicted_boundary_in_gt_band", "predicted_boundary_in_direction_band")
#: The constant direction of the bias reference: bin 5 of 8, (dy, dx) = (1, 1), down-right.
CONSTANT_BIN = 5
GAMMA, BAND = 5, 15  # the boundary's width and the direction band of the shards (format 3)


def _frames(data: Path):
    """(image uint8 (H, W, 3), train ids uint8 (H, W)) of the held-out frames."""
    for label_png in sorted((data / "gtFine" / "val").rglob("*_gtFine_labelIds.png")):
        city = label_png.parent.name
        stem = label_png.name.replace("_gtFine_labelIds.png", "")
        image = np.array(Image.open(data / "leftImg8bit" / "val" / city / f"{stem}_leftImg8bit.png").convert("RGB"))
        yield image, cityscapes_label_ids_to_train_ids(np.array(Image.open(label_png)))


def coarse_maps(frames: list, data_seed: int) -> list[dict]:
    """The coarse maps of every frame, the same for every model: ``{kind: (H, W) uint8}``."""
    rng = np.random.default_rng(data_seed)
    return [{"model-like": coarse_prediction(gt, 8, 0.15, rng), "block majority x8": block_majority(gt)}
            for _, gt in frames]


def _gains(pairs: dict) -> dict:
    out = {}
    for key, (before, after) in pairs.items():
        b, a = before.result(), after.result()
        out[key] = {"coarse_miou": b["miou"], "delta_miou": a["miou"] - b["miou"],
                    **{f"delta_f_{px}px": a["boundary_f"][str(px)] - b["boundary_f"][str(px)] for px in F_PIXELS}}
    return out


def _scorers() -> dict:
    return {key: [SegmentationScore(K, thresholds=F_PIXELS) for _ in range(2)] for key in CELLS}


def references(frames: list, coarse: list[dict]) -> dict:
    """Gains of offsets made from the ground truth: its boundary with its directions, and with
    :data:`CONSTANT_BIN` everywhere (a coarse map that is not shifted gains little from that)."""
    out = {}
    for name in ("gt offsets", "gt boundary, constant down-right"):
        scores = _scorers()
        for (_, gt), cm in zip(frames, coarse):
            t = semantic_targets(gt)
            direction = t.direction if name == "gt offsets" else np.where(t.boundary == 1, CONSTANT_BIN, 255)
            for c in COARSE:
                for s in SCALES:
                    before, after = scores[f"{c}, scale {s}"]
                    before.update(cm[c], gt)
                    after.update(refine_labels(cm[c], t.boundary, direction.astype(np.uint8), 8, scale=s), gt)
        out[name] = _gains(scores)
    return out


def evaluate(checkpoint: str, frames: list, coarse: list[dict]) -> dict:
    """Refinement gains and boundary-head quality of one trained model (module docstring)."""
    from segfix_train.api import SegFix

    net = SegFix.from_checkpoint(checkpoint, device="cpu")
    scores = _scorers()
    n = np.zeros(8)  # tp, fp, fn, dir ok on gt, gt with dir, dir ok on pred, pred with dir, pred in gt band
    for (image, gt), cm in zip(frames, coarse):
        boundary, direction = net.predict(image)
        for c in COARSE:
            for s in SCALES:
                before, after = scores[f"{c}, scale {s}"]
                before.update(cm[c], gt)
                after.update(refine_labels(cm[c], boundary, direction, net.num_directions, scale=s), gt)
        t = semantic_targets(gt, gamma=GAMMA)
        band = semantic_targets(gt, gamma=BAND)  # the direction band's targets
        valid = t.boundary != 255
        pb, gb = (boundary == 1) & valid, (t.boundary == 1) & valid
        hit = direction == band.direction
        pd = pb & (band.direction != 255)
        n += [(pb & gb).sum(), (pb & ~gb).sum(), (~pb & gb).sum(), (hit & gb & (t.direction != 255)).sum(),
              (gb & (t.direction != 255)).sum(), (hit & pd).sum(), pd.sum(), (pb & gb).sum()]
    tp, fp, fn, okg, ng, okp, np_, in_gt = n
    p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    out = {"boundary_precision": p, "boundary_recall": r, "boundary_f": 2 * p * r / (p + r) if p + r else 0.0,
           "dir_acc_gt": okg / max(ng, 1), "dir_acc_pred": okp / max(np_, 1),
           "predicted_boundary_in_gt_band": in_gt / max(tp + fp, 1),
           "predicted_boundary_in_direction_band": np_ / max(tp + fp, 1)}
    return {**{k: float(v) for k, v in out.items()}, **_gains(scores)}


def summarise(results: dict) -> dict:
    """Per mode and cell: mean, sample sd, min and max over seeds of each gain, and the paired
    difference (mode minus ``predicted``, seed by seed); per mode the same for the head's figures."""
    out = {}
    for mode, by_seed in results.items():
        seeds = sorted(by_seed)
        m = {}
        for cell in CELLS:
            for g in GAINS:
                v = np.array([by_seed[s][cell][g] for s in seeds])
                m[f"{cell}: {g}"] = _stats(v)
                if mode != "predicted" and "predicted" in results:
                    common = [s for s in seeds if s in results["predicted"]]
                    d = np.array([by_seed[s][cell][g] - results["predicted"][s][cell][g] for s in common])
                    m[f"{cell}: {g} minus predicted"] = _stats(d, interval=True)
        for h in HEAD:
            m[h] = _stats(np.array([by_seed[s][h] for s in seeds]))
        out[mode] = m
    return out


def _stats(v: np.ndarray, interval: bool = False) -> dict:
    """n, mean, sample sd, min, max; ``interval``: also the two-sided 95% t interval of the mean
    (``ci95``, None below 2 values)."""
    out = {"n": int(v.size), "mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else None,
           "min": float(v.min()), "max": float(v.max())}
    if interval:
        from scipy.stats import t

        half = float(t.ppf(0.975, v.size - 1) * out["sd"] / np.sqrt(v.size)) if v.size > 1 else None
        out["ci95"] = None if half is None else [out["mean"] - half, out["mean"] + half]
    return out


def run(args, work: Path, save) -> dict:
    import torch

    from segfix_train.config import TrainConfig
    from segfix_train.loop import train

    t0 = time.perf_counter()
    data, shards = generated_train_shards(SimpleNamespace(**{**vars(args), "seed": args.data_seed}), work)
    frames = list(_frames(data))
    coarse = coarse_maps(frames, args.data_seed)
    out = {"references": references(frames, coarse), "results": {m: {} for m in args.modes}, "seconds": {}}
    print(f"data, shards and references ready ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    for seed in args.seeds:
        for mode in args.modes:
            t1 = time.perf_counter()
            run_dir = work / f"run-{mode}-s{seed}"
            torch.manual_seed(seed)
            cfg = TrainConfig(shards=[str(shards)], split="train", val_split=None, out=str(run_dir), overwrite=True,
                              model="hrnet_w18", model_args=TINY, iters=args.iters, batch=args.batch,
                              crop=args.crop, seed=seed, lr=args.lr, num_workers=0,
                              log_every=max(1, args.iters // 4), ckpt_every=args.iters, device="cpu",
                              direction_pixels=mode)
            train(cfg, echo=lambda line: print(f"[{mode} s{seed}] {line}", file=sys.stderr))
            out["results"][mode][str(seed)] = evaluate(str(run_dir), frames, coarse)
            out["seconds"][f"{mode} s{seed}"] = time.perf_counter() - t1
            out["summary"] = summarise({m: r for m, r in out["results"].items() if r})
            save(out)
            r = out["results"][mode][str(seed)]
            print(f"{mode} seed {seed}: boundary F {r['boundary_f']:.3f}, d mIoU (model-like, scale 2) "
                  f"{100 * r[CELLS[0]]['delta_miou']:+.2f} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return out


def _cell(s: dict, pct: bool = True) -> str:
    k = 100 if pct else 1
    sd = "" if s["sd"] is None else f" ± {k * s['sd']:.2f}"
    return f"{k * s['mean']:+.2f}{sd}"


def _ordered(out: dict) -> tuple[dict, dict]:
    """Summary (recomputed from the per-seed results) and references in a fixed order (the JSON
    stores its keys sorted)."""
    summ, ref = summarise({m: r for m, r in out["results"].items() if r}), out["references"]
    return ({m: summ[m] for m in MODES if m in summ},
            {k: ref[k] for k in ("gt offsets", "gt boundary, constant down-right")})


def table(out: dict) -> str:
    """Plain-text tables of the summary: mean ± sd over seeds (points)."""
    summ, ref = _ordered(out)
    lines = ["boundary head on the held-out frames (mean ± sd over seeds):",
             f"{'mode':<10} {'P':>12} {'R':>12} {'F':>12} {'dir acc GT':>12} {'dir acc pred':>12} "
             f"{'pred in band':>16}"]
    for mode, m in summ.items():
        cells = [f"{m[h]['mean']:.3f}" + ("" if m[h]["sd"] is None else f"±{m[h]['sd']:.3f}")
                 for h in HEAD[:5] + ("predicted_boundary_in_direction_band",)]
        lines.append(f"{mode:<10} " + " ".join(f"{c:>12}" for c in cells[:5]) + f" {cells[5]:>16}")
    for cell in CELLS:
        lines.append(f"\n{cell} (coarse mIoU {100 * ref['gt offsets'][cell]['coarse_miou']:.1f}); gain of the "
                     "refined labels, points, mean ± sd over seeds [paired difference to predicted]:")
        lines.append(f"{'mode':<34} {'d mIoU':>22} {'d F@1px':>22} {'d F@3px':>22}")
        for name, r in ref.items():
            lines.append(f"{name:<34} " + " ".join(f"{100 * r[cell][g]:+22.2f}" for g in GAINS))
        for mode, m in summ.items():
            row = []
            for g in GAINS:
                text = _cell(m[f"{cell}: {g}"])
                if f"{cell}: {g} minus predicted" in m:
                    text += f" [{_cell(m[f'{cell}: {g} minus predicted'])}]"
                row.append(f"{text:>22}")
            n = m[f"{cell}: delta_miou"]["n"]
            lines.append(f"{mode + f' (n={n})':<34} " + " ".join(row))
    return "\n".join(lines)


def markdown(out: dict) -> str:
    """The summary as Markdown tables (points; mean ± sample sd over seeds, [min, max])."""
    summ, ref = _ordered(out)
    pm = "\u00b1"
    shown = [h for h in HEAD if h != "predicted_boundary_in_gt_band"]  # that one equals P
    lines = ["| mode | boundary P (= predicted boundary in the GT band, d <= 5) | R | F | dir acc, GT boundary | "
             "dir acc, predicted | predicted boundary in the direction band (d <= 15) |", "|---|---|---|---|---|---|---|"]
    for mode, m in summ.items():
        cells = [f"{m[h]['mean']:.3f}" + ("" if m[h]["sd"] is None else f" {pm} {m[h]['sd']:.3f}") for h in shown]
        lines.append(f"| {mode} (n={m[HEAD[0]]['n']}) | " + " | ".join(cells) + " |")
    lines += ["", "| coarse maps, scale | offsets | d mIoU | d F@1px | d F@3px | d mIoU minus predicted, "
              "paired (95% t interval) |", "|---|---|---|---|---|---|"]
    for cell in CELLS:
        first = True
        for name, r in ref.items():
            label = f"{cell} (coarse mIoU {100 * r[cell]['coarse_miou']:.1f})" if first else ""
            first = False
            lines.append(f"| {label} | {name} | " + " | ".join(f"{100 * r[cell][g]:+.2f}" for g in GAINS) + " | |")
        for mode, m in summ.items():
            row = []
            for g in GAINS:
                s = m[f"{cell}: {g}"]
                row.append(f"{_cell(s)} [{100 * s['min']:+.2f}, {100 * s['max']:+.2f}]")
            d = m.get(f"{cell}: delta_miou minus predicted")
            paired = "" if not d else _cell(d) + ("" if d["ci95"] is None else
                                                  f" ({100 * d['ci95'][0]:+.2f}, {100 * d['ci95'][1]:+.2f})")
            lines.append(f"| | {mode} | " + " | ".join(row) + f" | {paired} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-frames", type=int, default=6)
    ap.add_argument("--val-frames", type=int, default=3)
    ap.add_argument("--height", type=int, default=256)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--iters", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--crop", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                    help="training seeds (weights and crops); every mode runs each")
    ap.add_argument("--data-seed", type=int, default=0, help="seed of the generated frames and coarse maps")
    ap.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: on a shared machine more threads are ~20x slower, not faster)")
    ap.add_argument("--quick", action="store_true", help="a smoke run (tests): 2 iterations, 2 seeds, tiny frames")
    ap.add_argument("--workdir", default=None, help="keep data, shards and runs here")
    ap.add_argument("--json", default=None, help="output JSON [benchmarks/results/ablation_direction.json]")
    ap.add_argument("--markdown-from", default=None, metavar="JSON",
                    help="print the Markdown tables of a finished run's JSON and exit (nothing is trained)")
    args = ap.parse_args(argv)
    if args.markdown_from:
        import json

        print(markdown(json.loads(Path(args.markdown_from).read_text())))
        return 0
    if args.quick:
        args.train_frames, args.val_frames, args.height, args.width = 2, 1, 64, 128
        args.iters, args.batch, args.crop, args.seeds = 2, 2, 32, [0, 1]
    import torch

    torch.set_num_threads(args.threads)
    meta = machine_metadata()
    print_metadata(meta)

    def save(out: dict) -> None:
        write_json("ablation_direction", {"meta": meta, "args": vars(args), **out}, path=args.json)

    out = run_in_workdir(lambda a, work: run(a, work, save), args)
    print(table(out))
    print(f"\nwrote {write_json('ablation_direction', {'meta': meta, 'args': vars(args), **out}, path=args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
