"""Pictures of what refinement does (``segfix eval --plots DIR``), after the SegFix paper's figures.

* ``errors_vs_distance.png`` (paper Fig. 2): the number of wrong pixels and the error rate against
  the pixel's Euclidean distance to the ground-truth boundary, in 1-pixel bins; before (the
  baseline) and after (the predictions) when a baseline is given.
* ``fixed_broken_<frame>.png`` (paper Figs. 7-8, baseline only): the pixels that the refinement
  fixed (wrong in the baseline, right now; blue) and broke (right before, wrong now; red) over a
  dimmed image, for the frames where most pixels changed.
* ``class_gains.png`` (baseline only): per-class change of IoU and of boundary F, in points.
* ``trimap_gain.png`` (baseline only, when the scores hold the trimap curve): trimap mIoU by band
  width, before and after, and the gain (:mod:`.trimap_plot`).

The counting (:class:`ErrorDistance`, :func:`fixed_broken`) is numpy only; drawing needs
matplotlib (the ``plots`` extra), imported lazily with the Agg backend.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
from scipy import ndimage
from segfix_data.errors import InputError
from segfix_data.ignore import IGNORE_INDEX

FIXED_RGB = (0.12, 0.47, 0.95)    # blue
BROKEN_RGB = (0.92, 0.12, 0.10)   # red


def require_matplotlib():
    """``matplotlib.pyplot`` on the Agg backend; a ValueError with the fix when it is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("--plots needs matplotlib, which is not installed; "
                         "install it with: pip install 'segfix[plots]' (or pip install matplotlib)") from None
    return plt


def gt_boundary(gt: np.ndarray) -> np.ndarray:
    """bool (H, W): pixels with a 4-neighbour of another ground-truth label (ignore counts as a
    label, so objects bordered by VOC's 255 band have their boundary on the band's edge)."""
    gt = np.asarray(gt)
    b = np.zeros(gt.shape, bool)
    dx = gt[:, 1:] != gt[:, :-1]
    dy = gt[1:, :] != gt[:-1, :]
    b[:, 1:] |= dx
    b[:, :-1] |= dx
    b[1:, :] |= dy
    b[:-1, :] |= dy
    return b


def distance_to_boundary(gt: np.ndarray) -> np.ndarray:
    """float64 (H, W): Euclidean distance in pixels to the nearest ground-truth boundary pixel
    (:func:`gt_boundary`; 0 on it), ``inf`` when the frame has a single label."""
    b = gt_boundary(gt)
    if not b.any():
        return np.full(b.shape, np.inf)
    return ndimage.distance_transform_edt(~b)


class ErrorDistance:
    """Error pixels per 1-pixel bin of distance to the ground-truth boundary (paper Fig. 2).

    Bin ``k < max_px`` holds distances in ``[k, k+1)`` px; the last bin everything from
    ``max_px`` on. Ignored ground-truth pixels are left out.
    """

    def __init__(self, max_px: int = 30) -> None:
        self.max_px = int(max_px)
        self.pixels = np.zeros(self.max_px + 1, np.int64)
        self.errors = np.zeros(self.max_px + 1, np.int64)

    def bins(self, distance: np.ndarray) -> np.ndarray:
        return np.minimum(np.floor(np.minimum(distance, self.max_px)), self.max_px).astype(np.int64)

    def update(self, pred: np.ndarray, gt: np.ndarray, distance: np.ndarray | None = None) -> None:
        """Add one frame: (H, W) integer train ids; ``distance`` as :func:`distance_to_boundary`."""
        if pred.shape != gt.shape:
            raise InputError(f"prediction shape {pred.shape} differs from the ground truth {gt.shape}")
        d = distance_to_boundary(gt) if distance is None else distance
        valid = gt != IGNORE_INDEX
        k = self.bins(d[valid])
        wrong = (pred != gt)[valid]
        self.pixels += np.bincount(k, minlength=self.max_px + 1)
        self.errors += np.bincount(k[wrong], minlength=self.max_px + 1)

    def rate(self) -> np.ndarray:
        """Error rate per bin (fraction; NaN where a bin has no pixel)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.pixels > 0, self.errors / np.maximum(self.pixels, 1), np.nan)

    def within(self, px: float) -> float:
        """Share of all error pixels closer than ``px`` to the boundary."""
        total = self.errors.sum()
        return float(self.errors[: int(px)].sum() / total) if total else 0.0


def fixed_broken(pred: np.ndarray, baseline: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """bool (H, W) ``fixed`` (baseline wrong, pred right) and ``broken`` (baseline right, pred
    wrong), both on non-ignored ground truth."""
    valid = gt != IGNORE_INDEX
    ok_now, ok_before = (pred == gt) & valid, (baseline == gt) & valid
    return ok_now & ~ok_before, ok_before & ~ok_now


# ---------------------------------------------------------------------------------------------
# Drawing


def _save(fig, path: Path) -> Path:
    """Write ``fig`` as a PNG (atomically) and close it."""
    import matplotlib.pyplot as plt

    from segfix_data.atomic import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def _save_with_title(fig, path, title: str | None) -> Path:
    """A figure of several axes: its title above them, laid out tight, then :func:`_save`."""
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    return _save(fig, Path(path))


def plot_error_distance(path, after: ErrorDistance, before: ErrorDistance | None = None, *,
                        labels=("refined", "baseline"), title: str = "") -> Path:
    """Write the Fig. 2 picture: error pixels and error rate per distance bin (before and after)."""
    plt = require_matplotlib()
    accs = [a for a in (after, before) if a is not None]
    nz = [int(np.flatnonzero(a.errors).max()) for a in accs if a.errors.any()]
    n = min(after.max_px + 1, max(12, max(nz, default=0) + 3))   # bins shown: up to the last error
    x = np.arange(n)
    ticks = [str(t) for t in x]
    if n == after.max_px + 1:
        ticks[-1] = f"≥{after.max_px}"
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 4.6))
    series = [(before, labels[1], "#9a9a9a"), (after, labels[0], "#1f77b4")] if before is not None \
        else [(after, labels[0], "#1f77b4")]
    w = 0.42 if before is not None else 0.8
    for j, (acc, name, colour) in enumerate(series):
        off = (j - (len(series) - 1) / 2) * w
        a1.bar(x + off, acc.errors[:n], width=w, color=colour,
               label=f"{name}: {int(acc.errors.sum()):,} error px, {100 * acc.within(5):.0f}% within 5 px")
        a2.plot(x, 100 * acc.rate()[:n], "-o", ms=3, color=colour, label=name)
    a1.set_ylabel("error pixels (count)")
    a1.set_title("Wrong pixels by distance to the ground-truth boundary")
    a2.set_ylabel("error rate (% of the pixels at that distance)")
    a2.set_title("Error rate by distance to the ground-truth boundary")
    for a in (a1, a2):
        a.set_xlabel("distance to the nearest ground-truth boundary (pixels, 1-px bins)")
        step = max(1, len(x) // 15)
        a.set_xticks(x[::step])
        a.set_xticklabels(ticks[::step])
        a.grid(axis="y", alpha=0.3)
        a.legend(loc="upper right", fontsize=9)
    a2.set_ylim(bottom=0)
    return _save_with_title(fig, path, title)


def dim(image: np.ndarray, factor: float = 0.35) -> np.ndarray:
    """float (H, W, 3) in [0, 1]: the image in grey, darkened to ``factor`` so colours stand out."""
    grey = np.asarray(image, np.float64).mean(axis=2, keepdims=True) / 255.0
    return np.repeat(grey * factor + 0.05, 3, axis=2)


#: Width in pixels of a whole frame in the fixed/broken PNG (11 inches at the PNG's 110 dpi,
#: less the margins): a wider frame is shown smaller than its pixels.
FRAME_DISPLAY_PX = 940
#: Side in source pixels of the fixed/broken map's zoom on the most changed region (at most).
ZOOM_PX = 384


def mark_radius(width: int, display_px: int = FRAME_DISPLAY_PX) -> int:
    """How many source pixels each fixed/broken mark is widened by (a square of side ``2r + 1``)
    so that a one-pixel mark of a ``width``-pixel frame drawn ``display_px`` wide still covers at
    least about two display pixels: 0 up to ``display_px``, 1 up to twice that, 2 at 2048."""
    return max(0, int(np.ceil(width / display_px)) - 1)


def densest_window(mask: np.ndarray, size: tuple[int, int]) -> tuple[int, int]:
    """``(y0, x0)`` of the ``size`` (h, w) window holding the most ``True`` pixels of ``mask``
    (the first one in row-major order on ties; windows inside the frame)."""
    h, w = mask.shape
    wh, ww = min(size[0], h), min(size[1], w)
    s = np.zeros((h + 1, w + 1), np.int64)
    s[1:, 1:] = np.cumsum(np.cumsum(mask, 0, dtype=np.int64), 1)
    counts = s[wh:, ww:] - s[:-wh, ww:] - s[wh:, :-ww] + s[:-wh, :-ww]
    y0, x0 = np.unravel_index(int(np.argmax(counts)), counts.shape)
    return int(y0), int(x0)


def _marked(rgb: np.ndarray, fixed: np.ndarray, broken: np.ndarray, radius: int) -> np.ndarray:
    """``rgb`` with the fixed pixels blue and the broken ones red (on top), each mark widened by
    ``radius`` pixels."""
    out = rgb.copy()
    for mask, colour in ((fixed, FIXED_RGB), (broken, BROKEN_RGB)):
        if radius:
            mask = ndimage.binary_dilation(mask, structure=np.ones((2 * radius + 1,) * 2, bool))
        out[mask] = colour
    return out


def plot_fixed_broken(path, background: np.ndarray, fixed: np.ndarray, broken: np.ndarray, *,
                      title: str = "", boundary: np.ndarray | None = None) -> Path:
    """Write one frame's map: fixed pixels blue, broken red, over ``background`` (uint8 (H, W, 3)),
    dimmed; ground-truth boundaries grey when given.

    A frame wider than :data:`FRAME_DISPLAY_PX` is shown smaller than its pixels, where one-pixel
    marks would vanish: its marks are widened (:func:`mark_radius`, said in the legend), and a
    second panel shows the :data:`ZOOM_PX` region with the most changed pixels at full resolution,
    one square per pixel (outlined in the whole frame)."""
    plt = require_matplotlib()
    from matplotlib.patches import Patch, Rectangle

    rgb = dim(background)
    if boundary is not None:
        rgb[boundary] = rgb[boundary] * 0.5 + 0.5 * 0.55
    h, w = fixed.shape
    radius = mark_radius(w)
    width = 11.0
    zoom = None
    if radius:  # the zoom: a ZOOM_PX-wide window of the frame's shape where most pixels changed
        zw = min(w, ZOOM_PX)
        zh = min(h, max(1, round(zw * h / w)))
        y0, x0 = densest_window(fixed | broken, (zh, zw))
        zoom = (y0, x0, zh, zw)
    heights = [width * h / w] + ([width * zoom[2] / zoom[3]] if zoom else [])
    fig, axes = plt.subplots(len(heights), 1, figsize=(width, sum(heights) + 0.9 + 0.4 * len(heights)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    ax = axes[0][0]
    ax.imshow(_marked(rgb, fixed, broken, radius), interpolation="nearest")
    ax.set_axis_off()
    wider = f"; marks drawn {2 * radius + 1} px wide" if radius else ""
    handles = [Patch(color=FIXED_RGB, label=f"fixed: {int(fixed.sum()):,} px (wrong before, right after)"),
               Patch(color=BROKEN_RGB, label=f"broken: {int(broken.sum()):,} px (right before, wrong after)")]
    if boundary is not None:
        handles.append(Patch(color=(0.45, 0.45, 0.45), label="ground-truth boundary"))
    if title:
        ax.set_title(title + wider, fontsize=11)
    if zoom is not None:
        y0, x0, zh, zw = zoom
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), zw, zh, fill=False, edgecolor="white", lw=1.2))
        az = axes[1][0]
        az.imshow(_marked(rgb, fixed, broken, 0)[y0: y0 + zh, x0: x0 + zw], interpolation="nearest",
                  extent=(x0 - 0.5, x0 + zw - 0.5, y0 + zh - 0.5, y0 - 0.5))
        az.set_title(f"zoom at full resolution (white box): x {x0}..{x0 + zw - 1}, y {y0}..{y0 + zh - 1}, "
                     "one square per pixel", fontsize=10)
        az.tick_params(labelsize=8)
        ax = az
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.04 if zoom else -0.01),
              ncol=len(handles), fontsize=9, frameon=False)
    fig.tight_layout()
    return _save(fig, Path(path))


def plot_class_gains(path, delta: dict, *, threshold_key: str | None = None, tolerance_px: int | None = None,
                     title: str = "") -> Path:
    """Write the per-class gains bar chart: IoU and boundary F change in points (``delta`` is
    :func:`~segfix_data.metrics.report.compare`'s dict; ``tolerance_px`` names the boundary
    threshold in pixels)."""
    plt = require_matplotlib()
    names = list(delta["class_iou"])
    panels = [("IoU", delta["class_iou"])]
    if delta.get("class_boundary_f"):
        t = threshold_key or next(iter(delta["class_boundary_f"]))
        tol = f"{tolerance_px} px" if tolerance_px else f"{t} of the diagonal"
        panels.append((f"boundary F (tolerance {tol})", delta["class_boundary_f"][t]))
    height = max(3.0, 0.28 * len(names) + 1.4)
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), height), sharey=True, squeeze=False)
    y = np.arange(len(names))
    for ax, (what, per) in zip(axes[0], panels):
        vals = np.array([np.nan if per.get(n) is None else 100 * per[n] for n in names], float)
        shown = np.nan_to_num(vals)
        colours = [FIXED_RGB if v >= 0 else BROKEN_RGB for v in shown]
        ax.barh(y, shown, color=colours)
        ax.axvline(0, color="black", lw=0.8)
        span = max(float(np.nanmax(np.abs(vals))) if np.isfinite(vals).any() else 0.0, 0.05)
        for yi, v in zip(y, vals):
            txt = "n/a" if np.isnan(v) else f"{v:+.2f}"
            right = np.isnan(v) or v >= 0
            ax.text((0 if np.isnan(v) else v) + (span * 0.03 if right else -span * 0.03), yi, txt,
                    va="center", ha="left" if right else "right", fontsize=8,
                    color="0.45" if np.isnan(v) else "black")
        lo = min(0.0, float(np.nanmin(vals)) if np.isfinite(vals).any() else 0.0)
        hi = max(0.0, float(np.nanmax(vals)) if np.isfinite(vals).any() else 0.0)
        ax.set_xlim(lo - span * 0.3 if lo < 0 else -span * 0.08, hi + span * 0.3 if hi > 0 else span * 0.08)
        ax.set_xlabel("points (refined − baseline)")
        ax.set_title(f"Change of {what}" + (" (n/a: class absent)" if np.isnan(vals).any() else ""))
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(y)
    axes[0][0].set_yticklabels(names, fontsize=9)
    axes[0][0].invert_yaxis()
    return _save_with_title(fig, path, title)


# ---------------------------------------------------------------------------------------------
# A directory of predictions (``segfix eval --plots``)


def _images_by_key(gt_dir, opts) -> dict:
    """Frame key -> image path, where the layout knows its images (the folder layout: with the
    build's ``image_glob``), else empty."""
    from segfix_data.datasets import LAYOUTS, find_frames
    from segfix_data.datasets.io import frame_key

    layout, seg_suffix = opts.layout, opts.seg_suffix
    if layout not in LAYOUTS or (layout == "folder" and not opts.image_glob):
        return {}
    try:
        frames, _ = find_frames(layout, gt_dir, opts.split, img_suffix=opts.img_suffix, seg_suffix=seg_suffix,
                                **({"image_glob": opts.image_glob, "label_glob": opts.label_glob}
                                   if layout == "folder" else {}))
    except (ValueError, OSError):
        return {}
    if layout == "folder":  # its frames are named by frame key already
        return {f.stem: f.image for f in frames}
    out = {}
    for f in frames:
        name = Path(f.label).name
        if layout == "mmseg" and seg_suffix and name.endswith(seg_suffix):
            name = name[: -len(seg_suffix)]
        out[frame_key(name)] = f.image
    return out


def _safe(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in key)


def plot_directory(out_dir, gt_dir, pred_dir, baseline_dir=None, options=None, *, result: dict | None = None,
                   baseline_result: dict | None = None, frames: int = 4, max_px: int = 30,
                   progress=None, **fields) -> list[Path]:
    """Write the pictures of the module docstring into ``out_dir``; returns their paths.

    The steps: the frames are found and matched (:class:`_Frames`) and their errors counted by
    distance to the boundary (:func:`_count_errors`); the Fig. 2 picture is drawn; with a
    baseline, the fixed/broken maps of the frames with the most changed pixels
    (:func:`_plot_changed_frames`) and, given both scores, the class gains.

    Args:
        options: how to read the split (:class:`~segfix_data.metrics.directory.EvalOptions`, as
            for ``evaluate_directory``; ``fields`` replace single options); predictions are read
            as its ``id_space`` says, without the scoring's id checks.
        result, baseline_result: the scores of ``evaluate_directory`` (for the class gains).
        frames: how many fixed/broken maps (the frames with the most changed pixels), drawn on
            the frame's image where the layout finds it (folder: with ``image_glob``), else on
            dimmed ground-truth colours.
        max_px: the last 1-pixel distance bin (it holds everything from ``max_px`` on).
        progress: optional callable ``progress(n)`` called after each frame counted.
    """
    from .directory import EvalOptions

    opts = EvalOptions.of(options, **fields)
    if opts.pred_reduce_zero_label:
        raise InputError("the plots do not read pred_reduce_zero_label predictions yet; "
                         "save them as train ids 0..K-1 to draw figures")
    require_matplotlib()  # fail before the long pass when matplotlib is missing
    out_dir = Path(out_dir)
    opts = opts.resolved(gt_dir)  # the frames evaluate_directory scores
    found = _Frames.find(gt_dir, pred_dir, baseline_dir, opts)
    after, before, changed, shape = _count_errors(found, max_px, progress)
    what = f"{opts.layout} {opts.split}, {len(found.gts)} frames"
    written = [plot_error_distance(
        out_dir / "errors_vs_distance.png", after, before,
        labels=(f"refined ({Path(pred_dir).name})", f"baseline ({Path(baseline_dir).name})" if found.bases else ""),
        title=f"Errors against distance to the ground-truth boundary ({what})")]
    if found.bases:
        written += _plot_changed_frames(out_dir, found, changed, frames, gt_dir)
        if result is not None and baseline_result is not None:
            written.append(_plot_gains(out_dir, result, baseline_result, shape, what))
        if result is not None and (baseline_result or {}).get("trimap_curve"):  # trimap, before / after
            from .trimap_plot import plot_trimap_gain

            written.append(plot_trimap_gain(
                out_dir / "trimap_gain.png", result, baseline_result,
                labels=(f"refined ({Path(pred_dir).name})", f"baseline ({Path(baseline_dir).name})"),
                title=f"Trimap mIoU by distance to the ground-truth boundary ({what})"))
    return written


@dataclasses.dataclass(frozen=True)
class _Frames:
    """The frames a plot reads: ground truth, predictions and baseline predictions by frame key
    (``bases`` None without a baseline), read as train ids of ``num_classes`` classes."""

    opts: object
    num_classes: int
    gts: dict
    preds: dict
    bases: dict | None

    @classmethod
    def find(cls, gt_dir, pred_dir, baseline_dir, opts) -> "_Frames":
        """Find the split's frames; every frame needs a prediction (and a baseline one)."""
        k = opts.num_classes_scored()
        gts, preds = opts.ground_truth(gt_dir), opts.predictions(pred_dir)
        bases = opts.predictions(baseline_dir) if baseline_dir else None
        for name, found in (("PRED_DIR", preds), ("baseline", bases)):
            if found is not None and set(gts) - set(found):
                missing = sorted(set(gts) - set(found))
                raise InputError(f"{name}: no prediction for {len(missing)} frames (e.g. {missing[0]})")
        return cls(opts, k, gts, preds, bases)

    def load(self, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(gt, prediction, baseline or None)`` train ids of one frame."""
        from .directory import pred_to_train_ids, read_ids

        o, k = self.opts, self.num_classes
        gt = o.read_gt(self.gts[key], k)
        pr = pred_to_train_ids(read_ids(self.preds[key]), o.layout, o.id_space, k)
        ba = pred_to_train_ids(read_ids(self.bases[key]), o.layout, o.id_space, k) if self.bases else None
        return gt, pr, ba


def _count_errors(found: _Frames, max_px: int, progress):
    """``(after, before, changed, shape)``: the :class:`ErrorDistance` of the predictions and of
    the baseline (None without one), ``{key: (changed, fixed, broken) pixels}`` per frame with a
    baseline, and the last frame's (H, W)."""
    after, before = ErrorDistance(max_px), (ErrorDistance(max_px) if found.bases else None)
    changed = {}
    shape = None
    for key in found.gts:
        gt, pr, ba = found.load(key)
        shape = gt.shape
        d = distance_to_boundary(gt)
        after.update(pr, gt, d)
        if ba is not None:
            before.update(ba, gt, d)
            fx, br = fixed_broken(pr, ba, gt)
            changed[key] = (int(fx.sum()) + int(br.sum()), int(fx.sum()), int(br.sum()))
        if progress:
            progress(1)
    return after, before, changed, shape


def _background(path, gt: np.ndarray, layout: str) -> tuple[np.ndarray, str]:
    """The frame's image (uint8 (H, W, 3)) when ``path`` reads as one of the ground truth's size,
    else the ground truth in its layout's colours; and the words naming which."""
    from segfix_data.datasets.io import read_image
    from segfix_data.inspect.colours import colourise_labels, palette_of_layout

    bg = None
    if path is not None and os.path.isfile(path):
        try:
            bg = read_image(path)
            bg = bg if bg.shape[:2] == gt.shape else None
        except ValueError:
            bg = None
    if bg is None:
        return colourise_labels(gt, palette=palette_of_layout(layout)), "ground-truth colours (no image found)"
    return bg, "image"


def _plot_changed_frames(out_dir: Path, found: _Frames, changed: dict, frames: int, gt_dir) -> list[Path]:
    """The fixed/broken maps of the ``frames`` frames with the most changed pixels (ties by key)."""
    images = _images_by_key(gt_dir, found.opts)
    written = []
    for key in sorted(changed, key=lambda q: (-changed[q][0], q))[:max(0, int(frames))]:
        gt, pr, ba = found.load(key)
        fx, br = fixed_broken(pr, ba, gt)
        bg, src = _background(images.get(key), gt, found.opts.layout)
        n, nf, nb = changed[key]
        written.append(plot_fixed_broken(
            out_dir / f"fixed_broken_{_safe(key)}.png", bg, fx, br, boundary=gt_boundary(gt),
            title=f"{key}: refinement fixed {nf:,} px, broke {nb:,} px (net {nf - nb:+,}); "
                  f"background: dimmed {src}"))
    return written


def class_gains(result: dict, baseline_result: dict) -> dict:
    """The deltas the class gains picture draws: :func:`~segfix_data.metrics.report.compare`'s, with
    the boundary F of a class None (drawn ``n/a``, as its IoU) where the class is absent from every
    frame of either run (``class_boundary_f_present`` None), instead of the authors' convention's
    100 - 100 = 0 there."""
    from .report import compare

    delta = compare(result, baseline_result)
    for t, per in (delta.get("class_boundary_f") or {}).items():
        present = [(r.get("class_boundary_f_present") or {}).get(t) for r in (result, baseline_result)]
        if None in present:
            continue
        for name in per:
            if present[0].get(name) is None or present[1].get(name) is None:
                per[name] = None
    return delta


def _plot_gains(out_dir: Path, result: dict, baseline_result: dict, shape, what: str) -> Path:
    """The per-class gains of ``result`` over ``baseline_result`` (:func:`class_gains`; boundary F at
    the first threshold, its radius in pixels at the frames' size ``shape``)."""
    from .boundary import boundary_radius

    delta = class_gains(result, baseline_result)
    t = next(iter(delta.get("class_boundary_f") or {}), None)
    return plot_class_gains(out_dir / "class_gains.png", delta, threshold_key=t,
                            tolerance_px=boundary_radius(float(t), shape) if t else None,
                            title=f"Per-class gains of the refinement ({what})")
