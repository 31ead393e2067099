"""``segfix refine``: refine a directory of predictions with SegFix offsets (thin CLI)."""
from __future__ import annotations

from pathlib import Path

import click

from cli._text import plural

from cli._options import max_image_pixels_option
from cli._progress import progressbar

from segfix_data.refine.directory import ID_SPACES, OffsetsSource, plan_directory, refine_directory
from segfix_data.shards import ShardOffsets, is_shard_dir


@click.command("refine")
@click.argument("pred_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--offsets", "source", required=True, type=click.Path(exists=True, file_okay=False),
              help="A `segfix predict` directory, a directory of the authors' offset .mat files, "
                   "or a `segfix-gt build` shard directory (ground-truth oracle).")
@click.option("--scale", type=click.IntRange(min=0), default=None,
              help="Offset factor s (default: 2 for label maps, 1 for instance masks).")
@click.option("--iterations", type=click.IntRange(min=1), default=1, show_default=True,
              help="1 = one shift (scheme i); >1 = repeat while the target is a boundary pixel (scheme ii).")
@click.option("--id-space", type=click.Choice(ID_SPACES), default=None,
              help="Cityscapes label maps only: check that every value is a labelId (0..33) or trainId "
                   "(0..18), or 255. Ids are copied, never mixed, so any ids refine correctly without it.")
@click.option("--skip-missing", is_flag=True,
              help="Copy predictions without offsets unchanged instead of failing.")
@click.option("--img-suffix", default=None,
              help="The dataset's image file name ending (as segfix-gt build / segfix predict): cut off "
                   "prediction and offsets names, so s0_rgb.png meets the offsets of frame s0.")
@click.option("--seg-suffix", default=None, help="The dataset's label file name ending, cut off the same way.")
@click.option("--overwrite", is_flag=True,
              help="Replace a non-empty OUT_DIR as a whole (without it, a non-empty OUT_DIR is refused).")
@max_image_pixels_option
def refine(pred_dir, out_dir, source, scale, iterations, id_space, skip_missing, max_image_pixels, img_suffix,
           seg_suffix, overwrite):
    """Refine every label map / instance result in PRED_DIR into OUT_DIR (same names and formats).

    Each boundary pixel takes the label its offset points to: L'(p) = L(clamp(p + s * o(p))).
    OUT_DIR is published whole, with its refine_log.json, once every file is refined: it must lie
    outside PRED_DIR and be new or empty (or pass --overwrite).
    """
    suffixes = tuple(s for s in (img_suffix, seg_suffix) if s)
    src = ShardOffsets(source, suffixes) if is_shard_dir(source) else OffsetsSource(source, suffixes)
    maps, lists = plan_directory(Path(pred_dir))
    log = {"pred_dir": str(pred_dir), "offsets": str(source), "source_kind": src.kind,
           # the factors actually applied (the defaults resolved)
           "scale": 2 if scale is None else scale, "scale_instance_masks": 1 if scale is None else scale,
           "iterations": iterations, "id_space": id_space}
    with progressbar(length=len(maps) + len(lists), label="refining") as bar:
        report = refine_directory(pred_dir, out_dir, src, scale=scale, iterations=iterations,
                                  id_space=id_space, strict=not skip_missing, progress=bar.update,
                                  suffixes=suffixes, overwrite=overwrite, log=log)
    click.echo(f"refined {plural(report.label_maps, 'label map')} and {plural(report.masks, 'instance mask')} "
               f"({plural(report.instance_lists, 'instance list')}) with {src.kind} offsets -> {out_dir}")
    if report.missing:
        click.echo(f"{plural(len(report.missing), 'prediction')} had no offsets and were copied unchanged",
                   err=True)
