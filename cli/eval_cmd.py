"""``segfix eval``: mIoU and boundary F-score of a prediction directory (thin CLI)."""
from __future__ import annotations


import click

from cli._errors import UserError
from cli._metric_options import metric_options, resolve_metrics
from cli._options import (class_map_option, class_names_option, image_glob_option, img_suffix_option,
                          label_glob_option, max_image_pixels_option, reduce_zero_label_option,
                          seg_suffix_option)
from cli._progress import progressbar
from cli._text import plural
from segfix_data.atomic import atomic_write_json
from segfix_data.metrics import BOUNDARY_THRESHOLDS
from segfix_data.metrics.directory import ID_SPACES, LAYOUTS, EvalOptions, evaluate_directory, resolve_eval_split
from segfix_data.metrics.report import compare, format_table


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


def _run(gt_dir, pred_dir, label, opts: EvalOptions):
    with progressbar(length=len(opts.ground_truth(gt_dir)), label=label) as bar:
        return evaluate_directory(gt_dir, pred_dir, opts, progress=bar.update)


def _write_json(json_path, out):
    atomic_write_json(json_path, out, indent=2, sort_keys=False)
    click.echo(f"wrote {json_path}")


def _instances(gt_dir, pred_dir, split, baseline, json_path):
    from segfix_data.metrics.instances import (compare_instances, evaluate_instances,
                                               find_instance_ground_truth, format_instance_table)

    def run(d, label):  # a SegfixUserError is a user error: cli/_errors.py prints one line, exit 2
        n = len(find_instance_ground_truth(gt_dir, split))
        with progressbar(length=n, label=label) as bar:
            return evaluate_instances(gt_dir, d, split=split, progress=bar.update)

    result = run(pred_dir, "instances")
    base = run(baseline, "instances baseline") if baseline else None
    click.echo(format_instance_table(result, base))
    if json_path:
        out = dict(result)
        if base is not None:
            out.update(baseline=base, delta=compare_instances(result, base))
        _write_json(json_path, out)


@click.command("eval")
@click.argument("gt_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("pred_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--layout", type=click.Choice(LAYOUTS), default="cityscapes", show_default=True)
@click.option("--split", default=None,
              help="Split to score (default: val for cityscapes, voc, mmseg; validation for ade20k; every "
                   "file for gta5 and folder); train/val and training/validation are aliases. voc, "
                   "mmseg: or the path of a split list .txt.")
@click.option("--id-space", type=click.Choice(ID_SPACES), default="labelIds", show_default=True,
              help="Ids of the predictions (Cityscapes evaluator: labelIds).")
@click.option("--num-classes", type=click.IntRange(min=1), default=None,
              help="Number of classes (folder, mmseg layouts; folder default 19).")
@click.option("--allow-ignored-ids", is_flag=True,
              help="Score a prediction even when most of its pixels carry ids that no evaluated class has "
                   "(by default such a file stops the run: its --id-space is probably wrong).")
@click.option("--px", "px", callback=_parse_px, metavar="R1,R2,..",
              help="Boundary F tolerances in pixels (e.g. 1,2,3) instead of the paper's fractions of "
                   "the image diagonal (0.0003,0.0006,0.0009: 1/2/3 px at 2048x1024 only).")
@img_suffix_option
@seg_suffix_option
@label_glob_option
@image_glob_option
@class_map_option
@reduce_zero_label_option
@click.option("--pred-reduce-zero-label", is_flag=True,
              help="The predictions are raw ids too (0 = ignore, k is class k-1), e.g. ADE20K 1..150.")
@class_names_option
@click.option("--no-boundary", is_flag=True, help="Skip the boundary F-score (mIoU only).")
@metric_options
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Write the scores (fractions in [0, 1]) to this JSON file.")
@click.option("--baseline", type=click.Path(exists=True, file_okay=False), default=None,
              help="A second prediction directory: print the deltas PRED_DIR - baseline.")
@click.option("--plots", "plots_dir", type=click.Path(file_okay=False), default=None,
              help="Write PNG figures here: errors against distance to the boundary (paper Fig. 2); "
                   "with --baseline also maps of fixed/broken pixels and per-class gains (needs matplotlib).")
@click.option("--plot-frames", type=click.IntRange(min=0), default=4, show_default=True,
              help="Fixed/broken maps to draw (the frames with the most changed pixels).")
@click.option("--instances", is_flag=True,
              help="Score Cityscapes instance results (*_pred.txt + masks) with the official evaluator: "
                   "AP and AP50 (needs cityscapesscripts: pip install 'segfix[instances]').")
@max_image_pixels_option
def eval_(gt_dir, pred_dir, layout, split, id_space, num_classes, allow_ignored_ids, px, img_suffix,
          seg_suffix, label_glob, image_glob, class_map, reduce_zero_label, pred_reduce_zero_label,
          class_names_file, no_boundary, json_path, baseline, plots_dir, plot_frames, instances,
          max_image_pixels, metrics=None, biou_px=None, trimap_px=None):
    """Score PRED_DIR against GT_DIR (the dataset root): mIoU (Cityscapes convention) and
    boundary F.

    Boundary F columns name their radius in pixels for the image sizes scored; the means are
    given as the authors define them (an absent class counts 100) and over the classes present.
    --metrics adds Boundary IoU (biou) and trimap IoU (trimap), in a second table.
    """
    from segfix_data.datasets.labels import read_class_names

    if instances:
        if layout != "cityscapes" or plots_dir:
            raise UserError("--instances scores Cityscapes instance results: use it with "
                            "--layout cityscapes and without --plots")
        return _instances(gt_dir, pred_dir, split or "val", baseline, json_path)
    class_names = read_class_names(class_names_file) if class_names_file else None
    folder_only = [o for o, v in (("--label-glob", label_glob), ("--image-glob", image_glob),
                                  ("--class-map", class_map)) if v]
    if folder_only and layout != "folder":
        raise UserError(f"{', '.join(folder_only)}: folder layout only (--layout folder)")
    if class_map:
        from segfix_data.datasets.io import load_class_map

        class_map = load_class_map(class_map)
    split = resolve_eval_split(gt_dir, layout, split, label_glob)
    opts = EvalOptions(label_glob=label_glob, image_glob=image_glob, class_map=class_map, layout=layout, split=split,
                       id_space=id_space, num_classes=num_classes,
                       thresholds=tuple(float(p) for p in px) if px else BOUNDARY_THRESHOLDS,
                       boundary=not no_boundary, allow_ignored_ids=allow_ignored_ids, img_suffix=img_suffix,
                       seg_suffix=seg_suffix, reduce_zero_label=reduce_zero_label, class_names=class_names,
                       pred_reduce_zero_label=pred_reduce_zero_label)
    boundary, regions = resolve_metrics(metrics, no_boundary, biou_px, trimap_px, bool(plots_dir and baseline))
    opts = EvalOptions.of(opts, boundary=boundary, regions=regions)
    if plots_dir and pred_reduce_zero_label:
        raise UserError("--plots does not read --pred-reduce-zero-label predictions yet; "
                        "save them as train ids 0..K-1 to draw figures")
    if plots_dir:
        from segfix_data.metrics.plots import require_matplotlib

        require_matplotlib()
    result = _run(gt_dir, pred_dir, "scoring", opts)
    base = _run(gt_dir, baseline, "scoring baseline", opts) if baseline else None
    click.echo(format_table(result, base))
    if json_path:
        out = dict(result)
        if base is not None:
            out["baseline"] = base
            out["delta"] = compare(result, base)
        _write_json(json_path, out)
    if plots_dir:
        from segfix_data.metrics.plots import plot_directory

        with progressbar(length=len(opts.ground_truth(gt_dir)), label="plots") as bar:
            paths = plot_directory(plots_dir, gt_dir, pred_dir, baseline, opts, result=result,
                                   baseline_result=base, frames=plot_frames, progress=bar.update)
        click.echo(f"wrote {plural(len(paths), 'figure')} to {plots_dir}: " + ", ".join(p.name for p in paths[:6])
                   + (" ..." if len(paths) > 6 else ""))
