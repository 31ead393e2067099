"""``segfix-gt inspect OUT_DIR``: a PNG panel of one sample's targets and boundary statistics."""
from __future__ import annotations

from pathlib import Path

import click

from cli._errors import UserError
from cli._progress import progressbar
from cli._text import plural


@click.command("inspect")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--split", help="Split to look at (default: val/validation if built, else the first).")
@click.option("--sample", "stem", help="Sample by frame key (frankfurt_000000_000294) or stem "
                                        "(frankfurt_000000_000294_leftImg8bit); default: the split's first.")
@click.option("--variant", type=click.Choice(["semantic", "instance"]),
              help="Targets to show (default: the first variant built).")
@click.option("--out", "out_png", type=click.Path(dir_okay=False),
              help="Panel PNG to write (default: ./<stem>_targets.png).")
@click.option("--stats", type=click.Choice(["sample", "split"]), default="sample", show_default=True,
              help="Count boundary statistics over the sample or over the whole split.")
@click.option("--tile-width", type=click.IntRange(64, 4096), default=640, show_default=True,
              help="Width in pixels of each of the panel's six tiles.")
def inspect_cmd(out_dir, split, stem, variant, out_png, stats, tile_width):
    """Draw one sample's targets and print per-class boundary statistics.

    The panel shows the image, the label colours (Cityscapes palette, ignore black), the distance
    heatmap, the boundary band over the image, the direction bins coloured by angle, and a zoomed
    crop of a busy boundary region with one arrow per boundary pixel (pointing into its object).

    The table gives, per class, the share of its pixels within 1..5 pixels of another label (as
    in the SegFix paper's Table 12).
    """
    from segfix_data.inspect import format_boundary_width_table, save_panel
    from segfix_data.inspect.shards import choose_split, class_names_of, sample_panel, split_boundary_stats
    from segfix_data.shards import ShardSet, list_splits, output_path

    split = choose_split(list_splits(out_dir, complete=True), split)
    ds = ShardSet(out_dir, split)
    if len(ds) == 0:
        raise UserError(f"{Path(out_dir) / split}: the split has no samples")
    try:
        i = 0 if stem is None else ds.index_of(stem)
    except KeyError as exc:  # ShardSet.index_of names the stem and the split: a bad --sample
        raise UserError(f"{exc.args[0]}; pass --sample with a frame key or stem of its manifest.json") from None
    panel, shown = sample_panel(ds, i, variant, tile_width=tile_width)
    name = ds.samples[i]["stem"]
    path = save_panel(out_png or output_path(".", f"{name}_targets.png"), panel)
    click.echo(f"panel of {split}/{name} ({shown} targets) written to {path}")
    if stats == "split":
        with progressbar(length=len(ds), label="counting", file=None) as bar:
            table = split_boundary_stats(ds, range(len(ds)), progress=bar.update)
        click.echo(f"\nshare of each class's pixels within w px of another label, split {split} "
                   f"({plural(len(ds), 'sample')}):")
    else:
        table = split_boundary_stats(ds, [i])
        click.echo(f"\nshare of each class's pixels within w px of another label, sample {name}:")
    click.echo(format_boundary_width_table(table, class_names_of(ds)))
    ds.close()
