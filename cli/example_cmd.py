"""``segfix-gt example``: write a small synthetic Cityscapes-layout dataset."""
from __future__ import annotations

import time

import click

from cli._progress import progressbar


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
def example_cmd(out_dir: str, n_train: int, n_val: int, size: tuple[int, int], seed: int) -> None:
    """Write synthetic street scenes in the Cityscapes layout under OUT_DIR.

    Each frame has an RGB image (leftImg8bit/<split>/<city>/*_leftImg8bit.png), Cityscapes
    labelIds (gtFine/.../*_gtFine_labelIds.png, 8-bit) and instanceIds
    (gtFine/.../*_gtFine_instanceIds.png, 16-bit: class*1000+k for cars, people, bicycles...).
    The result can be fed straight to `segfix-gt build OUT_DIR SHARDS --layout cityscapes`.

    Example: segfix-gt example data/example --train 8 --val 2 --size 1024x512
    """
    from segfix_data.synthetic import write_example_dataset

    width, height = size
    splits = {"train": n_train, "val": n_val}
    total = n_train + n_val
    start = time.perf_counter()
    with progressbar(length=total, label="frames", show_pos=True, file=None) as bar:
        write_example_dataset(out_dir, splits=splits, height=height, width=width, seed=seed,
                              progress=lambda done, _total: bar.update(1))
    click.echo(f"wrote {total} frames ({width}x{height}; train {n_train}, val {n_val}) to {out_dir} "
               f"in {time.perf_counter() - start:.1f} s")
