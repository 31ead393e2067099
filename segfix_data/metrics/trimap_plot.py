"""``trimap_gain.png`` of ``segfix eval --plots``: the trimap curve before and after refinement.

Left: trimap mIoU (mIoU of the pixels within ``w`` px of a ground-truth label edge, chessboard
distance) against the band width ``w``, for the predictions and, with ``--baseline``, for the
baseline; the whole-image mIoU of each as a dashed line. Right (baseline only): the gain in points
per band width, where refinement helps most (the narrow bands) and how it fades with distance.
The curves are the ``trimap_curve`` of :meth:`~.region_score.RegionScore.result`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .plots import BROKEN_RGB, FIXED_RGB, _save_with_title, require_matplotlib


def _curve(result: dict) -> tuple[np.ndarray, np.ndarray]:
    c = result["trimap_curve"]
    return (np.asarray(c["width_px"], int),
            np.array([np.nan if v is None else 100 * v for v in c["miou"]], float))


def plot_trimap_gain(path, result: dict, baseline: dict | None = None, *,
                     labels=("refined", "baseline"), title: str = "") -> Path:
    """Write the figure of the module doc; ``result`` / ``baseline`` hold ``trimap_curve``."""
    plt = require_matplotlib()
    w, after = _curve(result)
    panels = 2 if baseline is not None and baseline.get("trimap_curve") else 1
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 4.6), squeeze=False)
    a1 = axes[0][0]
    series = [(result, after, labels[0], "#1f77b4")]
    if panels == 2:
        wb, before = _curve(baseline)
        n = min(len(w), len(wb))
        w, after, before = w[:n], after[:n], before[:n]
        series = [(baseline, before, labels[1], "#9a9a9a"), (result, after, labels[0], "#1f77b4")]
    for res, curve, name, colour in series:
        a1.plot(w, curve, "-o", ms=3, color=colour, label=f"{name}: trimap mIoU")
        if res.get("miou") is not None:
            a1.axhline(100 * res["miou"], ls="--", lw=1, color=colour, label=f"{name}: whole-image mIoU "
                       f"{100 * res['miou']:.2f}")
    a1.set_xlabel("band width w: pixels within w px of a ground-truth label edge (chessboard)")
    a1.set_ylabel("mIoU in the band (%)")
    a1.set_title("Trimap mIoU by band width")
    a1.grid(alpha=0.3)
    a1.legend(loc="lower right", fontsize=8)
    if panels == 2:
        a2 = axes[0][1]
        gain = after - before
        shown = np.nan_to_num(gain)
        a2.bar(w, shown, color=[FIXED_RGB if g >= 0 else BROKEN_RGB for g in shown], width=0.8)
        a2.axhline(0, color="black", lw=0.8)
        if result.get("miou") is not None and baseline.get("miou") is not None:
            whole = 100 * (result["miou"] - baseline["miou"])
            a2.axhline(whole, ls="--", lw=1, color="0.3", label=f"whole-image mIoU gain {whole:+.2f}")
            a2.legend(loc="upper right", fontsize=8)
        for x, g in zip(w, gain):
            if np.isfinite(g) and (len(w) <= 12 or x in (1, 3, 5, 10, 20, 30)):
                a2.text(x, g, f"{g:+.1f}", ha="center", va="bottom" if g >= 0 else "top", fontsize=7)
        a2.set_xlabel("band width w (pixels)")
        a2.set_ylabel("gain (points: refined − baseline)")
        a2.set_title("Gain of the refinement by band width")
        a2.grid(axis="y", alpha=0.3)
    return _save_with_title(fig, path, title)
