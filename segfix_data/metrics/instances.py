"""Cityscapes instance-segmentation AP (``segfix eval --instances``), the paper's Table 10 metric.

Scores instance results in the Cityscapes benchmark format (what ``segfix refine`` reads and
writes): per frame one ``<city>_<seq>_<frame>*.txt`` listing ``relative/mask.png classId score``
lines, each mask a PNG whose non-zero pixels are the instance. The numbers come from the official
evaluator, ``cityscapesscripts.evaluation.evalInstanceLevelSemanticLabeling`` (the optional
``instances`` extra, ``cityscapesscripts==2.3.0``), used as a library: its matching and AP code
unchanged, with our file discovery and checks in front (one-line errors naming the file instead of
its ``sys.exit``), no cache file, nothing written to the working directory.

AP is the mean over the 8 instance classes of the precision-recall area averaged over overlaps
0.50:0.95 (step 0.05); AP50 is the same at overlap 0.5 (the evaluator's ``allAp`` and ``allAp50%``).
"""
from __future__ import annotations

import contextlib
import copy
import math
import os
from pathlib import Path

import numpy as np

from segfix_data.datasets.instance_list import read_instance_list
from segfix_data.datasets.io import frame_key
from segfix_data.errors import InputError

GT_SUFFIX = "_gtFine_instanceIds.png"


def _evaluator():
    try:
        from cityscapesscripts.evaluation import evalInstanceLevelSemanticLabeling as ev
    except ImportError:
        raise InputError("--instances needs the official Cityscapes evaluator, which is not installed; "
                         "install it with: pip install 'segfix[instances]' (cityscapesscripts==2.3.0)") from None
    return ev


class _NumpyCompat:
    """numpy for the evaluator: ``np.in1d`` (removed in numpy 2.4) as ``np.isin`` of the flattened
    array, everything else forwarded unchanged."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def in1d(a, b):
        return np.isin(np.ravel(a), b)


@contextlib.contextmanager
def _compatible(ev):
    old = ev.np
    ev.np = _NumpyCompat()
    try:
        yield
    finally:
        ev.np = old


def find_instance_ground_truth(gt_dir: str | os.PathLike, split: str = "val") -> dict[str, Path]:
    """Frame key -> ``*_gtFine_instanceIds.png`` under ``gtFine/<split>/`` (or anywhere below
    GT_DIR when there is no such folder)."""
    root = Path(gt_dir)
    base = root / "gtFine" / split
    files = sorted((base if base.is_dir() else root).rglob(f"*{GT_SUFFIX}"))
    if not files:
        raise InputError(f"{root}: no *{GT_SUFFIX} found (gtFine/{split}/<city>/); --instances needs "
                         "the Cityscapes instance ground truth")
    return {frame_key(f): f for f in files}


def find_instance_results(pred_dir: str | os.PathLike) -> dict[str, Path]:
    """Frame key -> the frame's ``*.txt`` instance list (searched recursively)."""
    root = Path(pred_dir)
    out: dict[str, Path] = {}
    for f in sorted(root.rglob("*.txt")):
        key = frame_key(f)
        if key in out:
            raise InputError(f"{root}: two instance lists for frame {key!r}: {out[key]} and {f}; keep one")
        out[key] = f
    return out


def _check_list(path: Path, class_ids: set) -> None:
    """The checks the official evaluator would ``sys.exit`` on, as ValueErrors naming the file."""
    for n, (rel, cls, score, _) in enumerate(read_instance_list(path), 1):
        if os.path.isabs(rel):
            raise InputError(f"{path}:{n}: mask path {rel!r} must be relative to the list's folder")
        mask = (path.parent / rel).resolve()
        if not mask.is_file():
            raise InputError(f"{path}:{n}: mask {rel!r} not found ({mask})")
        if cls not in class_ids:
            raise InputError(f"{path}:{n}: class id {cls} is not a Cityscapes labelId")
        if not math.isfinite(score):
            raise InputError(f"{path}:{n}: score {score} is not a finite number")


def evaluate_instances(gt_dir: str | os.PathLike, pred_dir: str | os.PathLike, *, split: str = "val",
                       progress=None) -> dict:
    """Instance AP of PRED_DIR's instance lists against GT_DIR's ``instanceIds``.

    Returns:
        ``{"ap": float, "ap50": float, "class_ap": {name: float or None},
        "class_ap50": {name: float or None}, "num_images": int}`` (fractions in [0, 1]; a class
        with no ground truth and no prediction is None).
    """
    ev = _evaluator()
    gts = find_instance_ground_truth(gt_dir, split)
    preds = find_instance_results(pred_dir)
    missing = sorted(set(gts) - set(preds))
    if missing:
        raise InputError(f"{pred_dir}: no instance list (*.txt) for {len(missing)} of {len(gts)} frames "
                         f"(e.g. {', '.join(missing[:3])}); lists are matched by frame key city_seq_frame")
    class_ids = {label.id for label in ev.labels}
    keys = sorted(gts)
    for k in keys:
        _check_list(preds[k], class_ids)
    args = copy.copy(ev.args)
    args.predictionPath = str(Path(pred_dir).resolve())
    args.predictionWalk = None
    args.quiet, args.JSONOutput, args.colorized, args.distanceAvailable = True, False, False, False
    ev.setInstanceLabels(args)
    gt_list = [str(gts[k].resolve()) for k in keys]
    pred_list = [str(preds[k].resolve()) for k in keys]
    with _compatible(ev):
        try:
            gt_instances = ev.instances2dict(gt_list, False)
            matches = {}
            for n, (p, g) in enumerate(zip(pred_list, gt_list)):
                matches.update(ev.matchGtWithPreds([p], [g], gt_instances, args))
                if progress:
                    progress(1)
            aps = ev.evaluateMatches(matches, args)
            avg = ev.computeAverages(aps, args)
        except SystemExit:  # the evaluator's printError: its message is already on stdout
            raise InputError(f"{pred_dir}: the Cityscapes instance evaluator refused the results "
                             "(see its message above)") from None

    def num(v):
        v = float(v)
        return None if math.isnan(v) else v

    return {"ap": num(avg["allAp"]), "ap50": num(avg["allAp50%"]),
            "class_ap": {n: num(c["ap"]) for n, c in avg["classes"].items()},
            "class_ap50": {n: num(c["ap50%"]) for n, c in avg["classes"].items()},
            "num_images": len(keys)}


def compare_instances(result: dict, baseline: dict) -> dict:
    """``result - baseline`` of AP, AP50 and the per-class values (None where either is None)."""
    d = lambda a, b: None if a is None or b is None else a - b  # noqa: E731
    return {"ap": d(result["ap"], baseline["ap"]), "ap50": d(result["ap50"], baseline["ap50"]),
            "class_ap": {n: d(v, baseline["class_ap"].get(n)) for n, v in result["class_ap"].items()},
            "class_ap50": {n: d(v, baseline["class_ap50"].get(n)) for n, v in result["class_ap50"].items()}}


def format_instance_table(result: dict, baseline: dict | None = None) -> str:
    """Per-class AP and AP50 in percent (and deltas to a baseline)."""
    def pct(v, signed=False):
        return "     -" if v is None else (f"{100 * v:+6.2f}" if signed else f"{100 * v:6.2f}")

    delta = compare_instances(result, baseline) if baseline is not None else None
    head = f"{'class':<12} {'AP':>8} {'AP50':>8}" + (f"   {'dAP':>8} {'dAP50':>8}" if delta else "")
    lines = [head, "-" * len(head)]

    def row(name, a, a50, da=None, da50=None):
        s = f"{name:<12} {pct(a):>8} {pct(a50):>8}"
        return s + (f"   {pct(da, True):>8} {pct(da50, True):>8}" if delta else "")

    for n in result["class_ap"]:
        lines.append(row(n, result["class_ap"][n], result["class_ap50"][n],
                         *((delta["class_ap"][n], delta["class_ap50"][n]) if delta else ())))
    lines.append("-" * len(head))
    lines.append(row("mean", result["ap"], result["ap50"], *((delta["ap"], delta["ap50"]) if delta else ())))
    return "\n".join(lines)
