"""Score a directory of predictions against a dataset's ground truth (``segfix eval``).

Ground truth per layout (``--layout``), converted to train ids (255 = ignore):

==============  ===========================================================  =================
layout          ground-truth files under GT_DIR                              classes
==============  ===========================================================  =================
``cityscapes``  ``gtFine/<split>/<city>/*_gtFine_labelIds.png`` (or, when      19 (labelIds
                there is no ``gtFine/<split>``, every ``*_gtFine_labelIds.png``   table)
                below GT_DIR)
``gta5``        ``labels/*.png`` (Cityscapes labelIds)                         19
``ade20k``      ``[ADEChallengeData2016/]annotations/<split>/*.png`` (0 =       150
                ignore, 1..150)
``folder``      every ``*.png`` below ``GT_DIR/<split>`` (or GT_DIR), train    ``num_classes``
                ids with 255 = ignore
==============  ===========================================================  =================

Predictions are found recursively under PRED_DIR (PNG or ``.npy``) and matched to ground-truth
frames by Cityscapes frame key (``city_seq_frame``) or by file stem; every ground-truth frame
needs a prediction (as the official evaluator demands). Prediction ids are read in ``id_space``:
``labelIds`` (default: raw dataset ids, as the Cityscapes evaluator expects; ADE20K 1..150) or
``trainIds`` (0..K-1). Ids of no evaluated class count as wrong.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from segfix_data.datasets import labels as _labels
from .boundary import BOUNDARY_THRESHOLDS
from .score import SegmentationScore
from segfix_data.datasets.io import frame_key

LAYOUTS = ("cityscapes", "ade20k", "gta5", "folder")
ID_SPACES = ("labelIds", "trainIds")
_PRED_SUFFIXES = (".png", ".npy")


def read_ids(path: str | os.PathLike) -> np.ndarray:
    """A map of integer ids from a PNG (grey / palette / 16-bit) or ``.npy`` file."""
    path = Path(path)
    if path.suffix == ".npy":
        arr = np.load(path, allow_pickle=False)
    else:
        try:
            with Image.open(path) as im:
                if im.mode not in ("L", "P", "I;16", "I;16B", "I;16L", "I"):
                    raise ValueError(f"{path}: PNG mode {im.mode} is not a map of ids; save ids, not colours")
                arr = np.array(im)
        except ValueError:
            raise
        except Exception as exc:
            raise ValueError(f"{path}: cannot read the PNG ({exc})") from exc
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{path}: expected a 2-D integer id map, got shape {arr.shape} dtype {arr.dtype}")
    return arr


def num_classes_of(layout: str, num_classes: int | None = None) -> int:
    if layout in ("cityscapes", "gta5"):
        return len(_labels.CITYSCAPES_EVAL_IDS)
    if layout == "ade20k":
        return _labels.ADE20K_NUM_CLASSES
    if layout == "folder":
        return int(num_classes or 19)
    raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")


def class_names_of(layout: str, num_classes: int) -> list[str]:
    if layout in ("cityscapes", "gta5") or (layout == "folder" and num_classes == 19):
        return list(_labels.CITYSCAPES_CLASS_NAMES)
    return [str(c) for c in range(num_classes)]


def find_ground_truth(gt_dir: str | os.PathLike, layout: str, split: str) -> dict[str, Path]:
    """Frame key -> ground-truth file of one split (see the module table)."""
    root = Path(gt_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: ground-truth directory not found")
    if layout == "cityscapes":
        base = root / "gtFine" / split
        files = sorted((base if base.is_dir() else root).rglob("*_gtFine_labelIds.png"))
        where = "gtFine/<split>/<city>/*_gtFine_labelIds.png"
    elif layout == "gta5":
        files = sorted((root / "labels").glob("*.png"))
        where = "labels/*.png"
    elif layout == "ade20k":
        base = root / "ADEChallengeData2016" if (root / "ADEChallengeData2016").is_dir() else root
        files = sorted((base / "annotations" / split).glob("*.png"))
        where = f"annotations/{split}/*.png"
    elif layout == "folder":
        base = root / split if (root / split).is_dir() else root
        files = sorted(base.rglob("*.png"))
        where = "*.png"
    else:
        raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    if not files:
        raise ValueError(f"{root}: no ground truth found ({where}) for layout {layout!r}, split {split!r}")
    out: dict[str, Path] = {}
    for f in files:
        key = frame_key(f)
        if key in out:
            raise ValueError(f"{root}: two ground-truth files for frame {key!r}: {out[key]} and {f}")
        out[key] = f
    return out


def find_predictions(pred_dir: str | os.PathLike) -> dict[str, Path]:
    """Frame key -> prediction file (PNG or ``.npy``, searched recursively)."""
    root = Path(pred_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: prediction directory not found")
    out: dict[str, Path] = {}
    for f in sorted(root.rglob("*")):
        if f.suffix not in _PRED_SUFFIXES or not f.is_file():
            continue
        key = frame_key(f)
        if key in out:
            raise ValueError(f"{root}: two predictions for frame {key!r}: {out[key]} and {f}; keep one")
        out[key] = f
    return out


def gt_to_train_ids(ids: np.ndarray, layout: str, num_classes: int) -> np.ndarray:
    """Ground-truth raw ids -> train ids (uint8, 255 = ignore)."""
    if layout in ("cityscapes", "gta5"):
        return _labels.cityscapes_label_ids_to_train_ids(ids)
    if layout == "ade20k":
        return _labels.ade20k_to_train_ids(ids)
    return np.where((ids >= 0) & (ids < num_classes), ids, 255).astype(np.int64)


def pred_to_train_ids(ids: np.ndarray, layout: str, id_space: str, num_classes: int) -> np.ndarray:
    """Prediction ids in ``id_space`` -> train ids (values outside ``0..K-1`` = no class)."""
    if id_space not in ID_SPACES:
        raise ValueError(f"id_space must be one of {ID_SPACES}, got {id_space!r}")
    if id_space == "trainIds" or layout == "folder":
        return ids
    if layout in ("cityscapes", "gta5"):
        return _labels.cityscapes_label_ids_to_train_ids(ids)
    return _labels.ade20k_to_train_ids(ids)


def evaluate_directory(
    gt_dir: str | os.PathLike,
    pred_dir: str | os.PathLike,
    *,
    layout: str = "cityscapes",
    split: str = "val",
    id_space: str = "labelIds",
    num_classes: int | None = None,
    thresholds=BOUNDARY_THRESHOLDS,
    boundary: bool = True,
    progress=None,
) -> dict:
    """mIoU and boundary F of every ground-truth frame's prediction.

    Args:
        gt_dir, pred_dir: directories (see the module doc).
        layout, split, id_space, num_classes: how to find and read them.
        thresholds: boundary tolerances as fractions of the image diagonal.
        boundary: also compute the boundary F-score.
        progress: optional callable ``progress(n)`` called after each frame.

    Returns:
        :meth:`SegmentationScore.result`'s dict plus ``layout``, ``split``, ``id_space``,
        ``thresholds``.
    """
    k = num_classes_of(layout, num_classes)
    gts = find_ground_truth(gt_dir, layout, split)
    preds = find_predictions(pred_dir)
    missing = sorted(set(gts) - set(preds))
    if missing:
        raise ValueError(f"{pred_dir}: no prediction for {len(missing)} of {len(gts)} frames "
                         f"(e.g. {', '.join(missing[:3])}); predictions are matched by Cityscapes frame "
                         "key (city_seq_frame) or file stem")
    score = SegmentationScore(k, thresholds, boundary=boundary)
    for key, gpath in gts.items():
        gt = gt_to_train_ids(read_ids(gpath), layout, k)
        pred = pred_to_train_ids(read_ids(preds[key]), layout, id_space, k)
        if pred.shape != gt.shape:
            raise ValueError(f"{preds[key]}: prediction size {pred.shape} differs from the ground truth "
                             f"{gt.shape} ({gpath}); predict at full resolution")
        score.update(pred, gt)
        if progress:
            progress(1)
    res = score.result(class_names_of(layout, k))
    res.update(layout=layout, split=split, id_space=id_space, thresholds=[float(t) for t in thresholds])
    return res


def _delta(a, b):
    return None if a is None or b is None else a - b


def compare(result: dict, baseline: dict) -> dict:
    """Deltas ``result - baseline`` of mIoU, class IoU and boundary F (same keys as the results)."""
    out = {"miou": _delta(result["miou"], baseline["miou"]),
           "class_iou": {n: _delta(v, baseline["class_iou"].get(n)) for n, v in result["class_iou"].items()}}
    if "boundary_f" in result and "boundary_f" in baseline:
        out["boundary_f"] = {t: _delta(v, baseline["boundary_f"].get(t)) for t, v in result["boundary_f"].items()}
        out["class_boundary_f"] = {
            t: {n: _delta(v, baseline["class_boundary_f"][t].get(n)) for n, v in per.items()}
            for t, per in result["class_boundary_f"].items()}
    return out


def _pct(v, signed=False):
    if v is None:
        return "   -  "
    return f"{100 * v:+6.2f}" if signed else f"{100 * v:6.2f}"


def format_table(result: dict, baseline: dict | None = None) -> str:
    """A per-class table in percent: IoU and boundary F per threshold (and deltas to a baseline)."""
    ts = list(result.get("boundary_f", {}))
    names = list(result["class_iou"])
    width = max(8, *(len(n) for n in names))
    cols = ["IoU"] + [f"F@{t}" for t in ts]
    head = f"{'class':<{width}} " + " ".join(f"{c:>8}" for c in cols)
    if baseline is not None:
        head += "   " + " ".join(f"{'d' + c:>8}" for c in cols)
    delta = compare(result, baseline) if baseline is not None else None
    lines = [head, "-" * len(head)]

    def row(name, vals, dvals):
        s = f"{name:<{width}} " + " ".join(f"{_pct(v):>8}" for v in vals)
        if dvals is not None:
            s += "   " + " ".join(f"{_pct(v, True):>8}" for v in dvals)
        return s

    for n in names:
        vals = [result["class_iou"][n]] + [result["class_boundary_f"][t][n] for t in ts]
        dvals = ([delta["class_iou"][n]] + [delta["class_boundary_f"][t][n] for t in ts]) if delta else None
        lines.append(row(n, vals, dvals))
    lines.append("-" * len(head))
    vals = [result["miou"]] + [result["boundary_f"][t] for t in ts]
    dvals = ([delta["miou"]] + [delta["boundary_f"][t] for t in ts]) if delta else None
    lines.append(row("mean", vals, dvals))
    return "\n".join(lines)
