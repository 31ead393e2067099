"""Tables of ``segfix eval`` results: :func:`compare` (deltas against a baseline) and
:func:`format_table` (per-class IoU and boundary F, with the pixel radius of each threshold)."""
from __future__ import annotations

from .region_report import compare_regions, format_region_table


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
    if "boundary_f_present" in result and "boundary_f_present" in baseline:
        out["boundary_f_present"] = {t: _delta(v, baseline["boundary_f_present"].get(t))
                                     for t, v in result["boundary_f_present"].items()}
    out.update(compare_regions(result, baseline))  # Boundary IoU, trimap IoU
    return out


def _pct(v, signed=False):
    if v is None:
        return "   -  "
    return f"{100 * v:+6.2f}" if signed else f"{100 * v:6.2f}"


def _column_name(t: str, result: dict) -> str:
    """``F@0.0003 (1px)`` / ``F@2px``: the threshold and the radius it meant for these images;
    ``F@0.0006 (1-2px)`` when the radius differs between image sizes (listed under the table)."""
    if result.get("threshold_unit") == "px":
        return f"F@{t}px"
    radii = sorted(set((result.get("boundary_radius_px") or {}).get(t, {}).values()))
    if not radii:
        return f"F@{t}"
    return f"F@{t} ({radii[0]}px)" if len(radii) == 1 else f"F@{t} ({radii[0]}-{radii[-1]}px)"


def format_table(result: dict, baseline: dict | None = None) -> str:
    """A per-class table in percent: IoU and boundary F per threshold (and deltas to a baseline).

    The header names each boundary column's radius in pixels (one value per image size, listed
    below the table); the last rows give the means: the authors' (a class absent from an image
    scores 100 there) and over the classes present in each image.
    """
    ts = list(result.get("boundary_f", {}))
    names = list(result["class_iou"])
    width = max(18, *(len(n) for n in names))
    cols = ["IoU"] + [_column_name(t, result) for t in ts]
    cw = [max(8, len(c)) for c in cols]
    head = f"{'class':<{width}} " + " ".join(f"{c:>{w}}" for c, w in zip(cols, cw))
    if baseline is not None:
        head += "   " + " ".join(f"{'d' + c.split(' ')[0]:>{w}}" for c, w in zip(cols, cw))
    delta = compare(result, baseline) if baseline is not None else None
    lines = [head, "-" * len(head)]

    def row(name, vals, dvals):
        s = f"{name:<{width}} " + " ".join(f"{_pct(v):>{w}}" for v, w in zip(vals, cw))
        if dvals is not None:
            s += "   " + " ".join(f"{_pct(v, True):>{w}}" for v, w in zip(dvals, cw))
        return s

    for n in names:
        vals = [result["class_iou"][n]] + [result["class_boundary_f"][t][n] for t in ts]
        dvals = ([delta["class_iou"][n]] + [delta["class_boundary_f"][t][n] for t in ts]) if delta else None
        lines.append(row(n, vals, dvals))
    lines.append("-" * len(head))
    vals = [result["miou"]] + [result["boundary_f"][t] for t in ts]
    dvals = ([delta["miou"]] + [delta["boundary_f"][t] for t in ts]) if delta else None
    lines.append(row("mean" if not ts else "mean (authors)", vals, dvals))
    if ts and "boundary_f_present" in result:
        vals = [None] + [result["boundary_f_present"][t] for t in ts]
        dvals = None
        if delta is not None and "boundary_f_present" in delta:
            dvals = [None] + [delta["boundary_f_present"][t] for t in ts]
        lines.append(row("mean (present)", vals, dvals))
        lines.append("mean (authors): every class in every image, an absent class counting 100; "
                     "mean (present): each class over the images where it appears.")
    radii = result.get("boundary_radius_px")
    if ts and radii and result.get("threshold_unit") != "px":
        per = "; ".join(f"{t}: " + ", ".join(f"{r} px at {size}" for size, r in radii[t].items()) for t in ts)
        by_size = any(len(set(radii[t].values())) > 1 for t in ts)
        lines.append(f"boundary radius{' by image size' if by_size else ''} (F@t: t of the image diagonal): {per}")
    regions = format_region_table(result, baseline)  # Boundary IoU, trimap IoU: a table below
    if regions:
        lines += ["", regions]
    return "\n".join(lines)
