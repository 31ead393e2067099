"""``segfix eval``: mIoU and boundary F-score of a prediction directory (thin CLI)."""
from __future__ import annotations

import json
import os
import tempfile

import click

from cli._progress import progressbar

from segfix_data.metrics.directory import ID_SPACES, LAYOUTS, compare, evaluate_directory, find_ground_truth, format_table
from segfix_data.metrics import BOUNDARY_THRESHOLDS


def _run(gt_dir, pred_dir, label, **kw):
    n = len(find_ground_truth(gt_dir, kw["layout"], kw["split"]))
    with progressbar(length=n, label=label, file=click.get_text_stream("stderr")) as bar:
        return evaluate_directory(gt_dir, pred_dir, progress=bar.update, **kw)


@click.command("eval")
@click.argument("gt_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("pred_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--layout", type=click.Choice(LAYOUTS), default="cityscapes", show_default=True)
@click.option("--split", default="val", show_default=True)
@click.option("--id-space", type=click.Choice(ID_SPACES), default="labelIds", show_default=True,
              help="Ids of the predictions (Cityscapes evaluator: labelIds).")
@click.option("--num-classes", type=click.IntRange(min=1), default=None,
              help="Number of classes (folder layout only; default 19).")
@click.option("--no-boundary", is_flag=True, help="Skip the boundary F-score (mIoU only).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Write the scores (fractions in [0, 1]) to this JSON file.")
@click.option("--baseline", type=click.Path(exists=True, file_okay=False), default=None,
              help="A second prediction directory: print the deltas PRED_DIR - baseline.")
def eval_(gt_dir, pred_dir, layout, split, id_space, num_classes, no_boundary, json_path, baseline):
    """Score PRED_DIR against GT_DIR: mIoU (Cityscapes convention) and boundary F at 1/2/3 px."""
    kw = dict(layout=layout, split=split, id_space=id_space, num_classes=num_classes,
              thresholds=BOUNDARY_THRESHOLDS, boundary=not no_boundary)
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
