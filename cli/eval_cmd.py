"""``segfix eval``: mIoU and boundary F-score of a prediction directory (thin CLI)."""
from __future__ import annotations

import json
import os
import tempfile

import click

from cli._progress import progressbar

from segfix_data.metrics.directory import (ID_SPACES, LAYOUTS, compare, evaluate_directory, find_ground_truth,
                                               format_table, resolve_eval_split)
from segfix_data.metrics import BOUNDARY_THRESHOLDS


def _parse_px(ctx, param, value):
    if value is None:
        return None
    try:
        px = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected pixel radii such as 1,2,3, got {value!r}") from None
    if not px or min(px) < 1:
        raise click.BadParameter(f"pixel radii must be integers >= 1, got {value!r}")
    return px


def _run(gt_dir, pred_dir, label, **kw):
    n = len(find_ground_truth(gt_dir, kw["layout"], kw["split"]))
    with progressbar(length=n, label=label, file=click.get_text_stream("stderr")) as bar:
        return evaluate_directory(gt_dir, pred_dir, progress=bar.update, **kw)


@click.command("eval")
@click.argument("gt_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("pred_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--layout", type=click.Choice(LAYOUTS), default="cityscapes", show_default=True)
@click.option("--split", default=None,
              help="Split to score (default: val for cityscapes, validation for ade20k, every file for "
                   "gta5 and folder); train/val and training/validation are aliases.")
@click.option("--id-space", type=click.Choice(ID_SPACES), default="labelIds", show_default=True,
              help="Ids of the predictions (Cityscapes evaluator: labelIds).")
@click.option("--num-classes", type=click.IntRange(min=1), default=None,
              help="Number of classes (folder layout only; default 19).")
@click.option("--allow-ignored-ids", is_flag=True,
              help="Score a prediction even when most of its pixels carry ids that no evaluated class has "
                   "(by default such a file stops the run: its --id-space is probably wrong).")
@click.option("--px", "px", callback=_parse_px, metavar="R1,R2,..",
              help="Boundary F tolerances in pixels (e.g. 1,2,3) instead of the paper's fractions of "
                   "the image diagonal (0.0003,0.0006,0.0009: 1/2/3 px at 2048x1024 only).")
@click.option("--no-boundary", is_flag=True, help="Skip the boundary F-score (mIoU only).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Write the scores (fractions in [0, 1]) to this JSON file.")
@click.option("--baseline", type=click.Path(exists=True, file_okay=False), default=None,
              help="A second prediction directory: print the deltas PRED_DIR - baseline.")
def eval_(gt_dir, pred_dir, layout, split, id_space, num_classes, allow_ignored_ids, px, no_boundary,
          json_path, baseline):
    """Score PRED_DIR against GT_DIR: mIoU (Cityscapes convention) and boundary F.

    Boundary F columns name their radius in pixels for the image sizes scored; the means are
    given as the authors define them (an absent class counts 100) and over the classes present.
    """
    kw = dict(layout=layout, split=resolve_eval_split(gt_dir, layout, split), id_space=id_space,
              num_classes=num_classes, thresholds=tuple(float(p) for p in px) if px else BOUNDARY_THRESHOLDS,
              boundary=not no_boundary, allow_ignored_ids=allow_ignored_ids)
    result = _run(gt_dir, pred_dir, "scoring", **kw)
    base = _run(gt_dir, baseline, "scoring baseline", **kw) if baseline else None
    click.echo(format_table(result, base))
    if json_path:
        out = dict(result)
        if base is not None:
            out["baseline"] = base
            out["delta"] = compare(result, base)
        d = os.path.dirname(os.path.abspath(json_path))
        fd, tmp = tempfile.mkstemp(prefix=".eval.", suffix=".json", dir=d)
        with os.fdopen(fd, "w") as f:
            json.dump(out, f, indent=2)
        os.replace(tmp, json_path)
        click.echo(f"wrote {json_path}")
