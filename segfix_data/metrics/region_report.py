"""The boundary-region table of ``segfix eval`` (Boundary IoU and trimap IoU per class, percent)
and their deltas against a baseline; :mod:`.report` prints it under the mIoU / boundary F table."""
from __future__ import annotations


def _delta(a, b):
    return None if a is None or b is None else a - b


def compare_regions(result: dict, baseline: dict) -> dict:
    """Deltas ``result - baseline`` of Boundary IoU and trimap IoU (the keys both results hold)."""
    out: dict = {}
    if "boundary_iou" in result and "boundary_iou" in baseline:
        out["boundary_iou"] = _delta(result["boundary_iou"], baseline["boundary_iou"])
        out["class_boundary_iou"] = {n: _delta(v, baseline["class_boundary_iou"].get(n))
                                     for n, v in result["class_boundary_iou"].items()}
    if "trimap_iou" in result and "trimap_iou" in baseline:
        out["trimap_iou"] = {w: _delta(v, baseline["trimap_iou"].get(w)) for w, v in result["trimap_iou"].items()}
        out["class_trimap_iou"] = {
            w: {n: _delta(v, baseline["class_trimap_iou"].get(w, {}).get(n)) for n, v in per.items()}
            for w, per in result["class_trimap_iou"].items()}
    return out


def _pct(v, signed=False):
    if v is None:
        return "-"
    return f"{100 * v:+.2f}" if signed else f"{100 * v:.2f}"


def biou_label(result: dict) -> str:
    """``d = 46 px at 1024x2048`` (the erosion depth of each image size scored)."""
    sizes = result.get("boundary_iou_px") or {}
    ratio = result.get("boundary_iou_ratio")
    how = f" ({ratio} of the image diagonal)" if ratio else ""
    return ("d = " + ", ".join(f"{d} px at {s}" for s, d in sizes.items()) + how) if sizes else "d = -"


def format_region_table(result: dict, baseline: dict | None = None) -> str:
    """Per-class Boundary IoU and trimap IoU in percent, with deltas to ``baseline``; "" when the
    result holds neither. The last row is the mean (over the classes with a non-empty union /
    band), then a line saying what ``d`` and the widths were."""
    cols, per_class, means = [], [], []
    if "boundary_iou" in result:
        cols.append("BIoU")
        per_class.append(result["class_boundary_iou"])
        means.append(result["boundary_iou"])
    for w in result.get("trimap_iou", {}):
        cols.append(f"trimap@{w}px")
        per_class.append(result["class_trimap_iou"][w])
        means.append(result["trimap_iou"][w])
    if not cols:
        return ""
    delta = compare_regions(result, baseline) if baseline is not None else None
    d_class, d_mean = [], []
    if delta is not None:
        if "boundary_iou" in result:
            d_class.append(delta.get("class_boundary_iou", {}))
            d_mean.append(delta.get("boundary_iou"))
        for w in result.get("trimap_iou", {}):
            d_class.append(delta.get("class_trimap_iou", {}).get(w, {}))
            d_mean.append(delta.get("trimap_iou", {}).get(w))
    names = list(result["class_iou"])
    width = max(18, *(len(n) for n in names))
    cw = [max(8, len(c)) for c in cols]
    head = f"{'class':<{width}} " + " ".join(f"{c:>{w}}" for c, w in zip(cols, cw))
    if delta is not None:
        head += "   " + " ".join(f"{'d' + c:>{w + 1}}" for c, w in zip(cols, cw))
    lines = [head, "-" * len(head)]

    def row(name, vals, dvals):
        s = f"{name:<{width}} " + " ".join(f"{_pct(v):>{w}}" for v, w in zip(vals, cw))
        if delta is not None:
            s += "   " + " ".join(f"{_pct(v, True):>{w + 1}}" for v, w in zip(dvals, cw))
        return s

    for n in names:
        lines.append(row(n, [p.get(n) for p in per_class], [p.get(n) for p in d_class]))
    lines.append("-" * len(head))
    lines.append(row("mean", means, d_mean))
    notes = []
    if "boundary_iou" in result:
        notes.append(f"BIoU: Boundary IoU, {biou_label(result)}")
    if "trimap_iou" in result:
        notes.append("trimap@w: IoU of the pixels within w px (chessboard) of a ground-truth label edge")
    lines.append("; ".join(notes))
    return "\n".join(lines)
