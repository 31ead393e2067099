"""``segfix predict``: offsets files from images with a trained checkpoint (thin wrapper over
``segfix_train.predict.predict_images``)."""
from __future__ import annotations

import click

from cli._progress import progressbar


@click.command("predict")
@click.option("--checkpoint", required=True, type=click.Path(exists=True),
              help="segfix train checkpoint (.pt), or a run directory (RUN_DIR: its latest checkpoint).")
@click.option("--images", required=True, help="Directory (searched recursively) or glob of images.")
@click.option("--out", "out_dir", required=True, metavar="OFFSETS_DIR", help="Where <stem>.npz files go.")
@click.option("--tile", type=int, default=None, help="Sliding-window side in pixels [whole image].")
@click.option("--stride", type=int, default=None, help="Window step in pixels [tile: no overlap].")
@click.option("--batch", type=int, default=4, show_default=True, help="Windows per forward pass.")
@click.option("--threshold", type=float, default=0.5, show_default=True, help="Boundary probability threshold.")
@click.option("--mat/--no-mat", default=False, help="Also write the authors' offsets .mat (key 'mat').")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
def predict_cmd(checkpoint, images, out_dir, tile, stride, batch, threshold, mat, device):
    """Predict boundary and direction for every image and write one offsets file per image."""
    from segfix_train.predict import predict_images, resolve_checkpoint

    checkpoint = resolve_checkpoint(checkpoint)
    click.echo(f"checkpoint {checkpoint}", err=True)

    def bar(items):
        with progressbar(items, label="predict", file=click.get_text_stream("stderr")) as b:
            yield from b
    res = predict_images(checkpoint, images, out_dir, tile=tile, stride=stride, batch=batch, device=device,
                         threshold=threshold, write_mat=mat, progress=bar)
    click.echo(f"wrote {len(res.written)} offsets files to {out_dir} "
               f"(mean boundary fraction {res.boundary_fraction:.4f})")
