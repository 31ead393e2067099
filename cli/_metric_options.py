"""``segfix eval``'s choice of scores: ``--metrics``, ``--biou-px``, ``--trimap-px``, and what they
become (the boundary F switch and a :class:`~segfix_data.metrics.RegionMetrics`)."""
from __future__ import annotations

import click

from segfix_data.metrics import TRIMAP_WIDTHS, RegionMetrics

METRICS = ("miou", "fscore", "biou", "trimap")
DEFAULT_METRICS = ("miou", "fscore")
#: Widest band of the trimap curve that ``--plots`` draws (pixels).
PLOT_CURVE_PX = 30


def _parse_metrics(ctx, param, value):
    if value is None:
        return None
    names = tuple(dict.fromkeys(v.strip().lower() for v in value.split(",") if v.strip()))
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise click.BadParameter(f"unknown metric {', '.join(unknown) or repr(value)}; "
                                 f"choose from {','.join(METRICS)} (e.g. --metrics {','.join(METRICS)})")
    return names


def _parse_widths(ctx, param, value):
    if value is None:
        return None
    try:
        px = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected band widths in pixels such as 1,3,5,10, got {value!r}") from None
    if not px or min(px) < 1:
        raise click.BadParameter(f"band widths must be integers >= 1, got {value!r}")
    return tuple(sorted(set(px)))


def metric_options(f):
    """The three options, in help order."""
    f = click.option("--trimap-px", callback=_parse_widths, metavar="W1,W2,..",
                     help="Trimap band widths in pixels (chessboard distance to a ground-truth label "
                          f"edge) [{','.join(map(str, TRIMAP_WIDTHS))}].")(f)
    f = click.option("--biou-px", type=click.IntRange(min=1), default=None, metavar="D",
                     help="Boundary IoU's erosion depth d in pixels [the authors' round(0.02 x image "
                          "diagonal): 46 px at 2048x1024].")(f)
    return click.option("--metrics", callback=_parse_metrics, metavar="M1,M2,..",
                        help=f"Scores to compute, of {','.join(METRICS)}: mIoU (always), boundary F, "
                             "Boundary IoU (Cheng et al. 2021, per class), trimap IoU "
                             f"[{','.join(DEFAULT_METRICS)}].")(f)


def resolve_metrics(metrics, no_boundary: bool, biou_px, trimap_px, plots: bool):
    """``(boundary F on?, RegionMetrics or None)`` from the options; contradictions are a
    ``click.UsageError`` (one line, exit 2). ``plots`` (``--plots`` with ``--baseline``) keeps the
    trimap curve for its figure."""
    if metrics is None:
        metrics = ("miou",) if no_boundary else DEFAULT_METRICS
    elif no_boundary and "fscore" in metrics:
        raise click.UsageError("--no-boundary and fscore in --metrics contradict each other; drop one")
    if biou_px is not None and "biou" not in metrics:
        raise click.UsageError("--biou-px sets the Boundary IoU's d: add biou to --metrics (e.g. --metrics "
                               "miou,fscore,biou)")
    if trimap_px is not None and "trimap" not in metrics:
        raise click.UsageError("--trimap-px sets the trimap bands: add trimap to --metrics (e.g. --metrics "
                               "miou,fscore,trimap)")
    regions = RegionMetrics(biou="biou" in metrics, biou_px=biou_px,
                            trimap_px=(trimap_px or TRIMAP_WIDTHS) if "trimap" in metrics else (),
                            curve_px=PLOT_CURVE_PX if plots else 0)
    wanted = regions.biou or regions.trimap_px or regions.curve_px
    return "fscore" in metrics, (regions if wanted else None)
