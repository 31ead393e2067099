"""``segfix-gt example``: write a small synthetic Cityscapes-layout dataset."""
from __future__ import annotations

import os
import time

import click

from cli._errors import UserError
from cli._progress import progressbar
from cli._text import plural


def _refuse_non_empty(out_dir: str) -> None:
    """The example writes real Cityscapes names (``leftImg8bit/``, ``gtFine/``): a non-empty
    OUT_DIR may be a real dataset whose files it would replace."""
    if not os.path.isdir(out_dir):
        return
    entries = sorted(os.listdir(out_dir))
    if entries:
        raise UserError(f"{out_dir} is not empty ({len(entries)} entries, e.g. {entries[0]!r}); the "
                        f"example writes Cityscapes file names there and would replace existing files: "
                        f"name a new or empty directory, or pass --overwrite")


def _parse_size(ctx, param, value: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"expected WIDTHxHEIGHT such as 512x256, got {value!r}") from None
    if w < 16 or h < 16:
        raise click.BadParameter(f"width and height must be >= 16 pixels, got {value!r}")
    return w, h


@click.command("example")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--train", "n_train", type=click.IntRange(min=0), default=4, show_default=True,
              help="Number of frames in the train split.")
@click.option("--val", "n_val", type=click.IntRange(min=0), default=2, show_default=True,
              help="Number of frames in the val split.")
@click.option("--size", default="512x256", show_default=True, callback=_parse_size,
              help="Frame size WIDTHxHEIGHT in pixels (Cityscapes itself is 2048x1024).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Dataset seed: the same seed writes the same bytes.")
@click.option("--overwrite", is_flag=True,
              help="Write into OUT_DIR even if it is not empty (files of the same names are replaced).")
def example_cmd(out_dir: str, n_train: int, n_val: int, size: tuple[int, int], seed: int,
                overwrite: bool) -> None:
    """Write synthetic street scenes in the Cityscapes layout under OUT_DIR.

    Each frame has an RGB image (leftImg8bit/<split>/<city>/*_leftImg8bit.png), Cityscapes
    labelIds (gtFine/.../*_gtFine_labelIds.png, 8-bit) and instanceIds
    (gtFine/.../*_gtFine_instanceIds.png, 16-bit: class*1000+k for cars, people, bicycles...).
    The result can be fed straight to `segfix-gt build OUT_DIR SHARDS --layout cityscapes`.

    OUT_DIR must be new or empty unless --overwrite is given.

    Example: segfix-gt example data/example --train 8 --val 2 --size 1024x512
    """
    from segfix_data.synthetic import write_example_dataset

    if not overwrite:
        _refuse_non_empty(out_dir)

    width, height = size
    splits = {"train": n_train, "val": n_val}
    total = n_train + n_val
    start = time.perf_counter()
    with progressbar(length=total, label="frames", show_pos=True, file=None) as bar:
        write_example_dataset(out_dir, splits=splits, height=height, width=width, seed=seed,
                              progress=lambda done, _total: bar.update(1))
    click.echo(f"wrote {plural(total, 'frame')} ({width}x{height}; train {n_train}, val {n_val}) to {out_dir} "
               f"in {time.perf_counter() - start:.1f} s")
