"""``segfix-gt export OUT_DIR DEST``: the authors' .mat files from shards (``--format openseg-mat``,
the one format)."""
from __future__ import annotations

import time

import click

from cli._errors import UserError
from cli._progress import progressbar
from cli._text import plural


@click.command("export")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("dest", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["openseg-mat"]), default="openseg-mat", show_default=True,
              help="openseg-mat: the authors' files (keys depth, dir_deg, deg_reduce=2), "
                   "one DEST/<split>/<variant>/<image stem>.mat per sample (the only format).")
@click.option("--split", "splits", multiple=True, help="Split to export (repeatable; default: all built).")
@click.option("--variant", type=click.Choice(["semantic", "instance"]), default="semantic", show_default=True,
              help="Which targets to export.")
def export_cmd(out_dir, dest, fmt, splits, variant):
    """Export shards built with `--preset openseg` to the authors' .mat files.

    Example: segfix-gt export shards/ openseg_gt/ --split val
    writes openseg_gt/val/semantic/frankfurt_000000_000294_leftImg8bit.mat, ...
    Shards built with the default `paper` preset are refused (their targets are not the authors').
    """
    from segfix_data.shards.export import check_openseg_exportable, export_openseg_mat
    from segfix_data.shards import ShardSet, list_splits

    built = list_splits(out_dir, complete=True)
    chosen = list(splits) or built
    missing = [s for s in chosen if s not in built]
    if missing or not chosen:
        raise UserError(f"{out_dir}: split(s) {missing or '(any)'} not built; built: "
                                   f"{', '.join(built) or 'none'} (run `segfix-gt build` first)")
    sets = [ShardSet(out_dir, split) for split in chosen]
    for ds in sets:  # refuse before writing anything (ExportError: one line, exit 2)
        check_openseg_exportable(ds, variant)
    start, total = time.perf_counter(), 0
    for split, ds in zip(chosen, sets):
        with progressbar(length=len(ds), label=f"{split:>10}", file=None) as bar:
            paths = export_openseg_mat(ds, dest, variant, progress=bar.update)
        ds.close()
        total += len(paths)
        where = paths[0].parent if paths else f"{dest}/{split}/{variant}"
        click.echo(f"{split}: {plural(len(paths), 'file')} in {where}")
    click.echo(f"exported {plural(total, f'{fmt} file')} ({variant}) in {time.perf_counter() - start:.1f} s")
