"""``segfix predict``: offsets files from images with a trained checkpoint, a converted one or one
of the authors' SegFix checkpoints (thin wrapper over ``segfix_train.predict.predict_images``)."""
from __future__ import annotations

import sys

import click

from cli._errors import EXIT_PARTIAL
from cli._options import max_image_pixels_option
from cli._progress import progressbar
from cli._text import plural


@click.command("predict")
@click.option("--checkpoint", required=True, type=click.Path(exists=True),
              help="segfix train checkpoint (.pt) or run directory (its latest checkpoint), "
                   "`segfix convert-openseg` output, or the authors' SegFix .pth.")
@click.option("--images", required=True, help="Directory (searched recursively) or glob of images.")
@click.option("--out", "out_dir", required=True, metavar="OFFSETS_DIR", help="Where <stem>.npz files go.")
@click.option("--preset", type=click.Choice(["segfix", "openseg"]), default="segfix", show_default=True,
              help="segfix: ours (RGB, --tile/--stride windows, bf16 on CUDA); openseg: the authors' tester "
                   "(BGR, 512 windows every 170 px, softmax at stride, align_corners, fp32).")
@click.option("--openseg-mode", type=click.Choice(["sscrop", "whole"]), default="sscrop", show_default=True,
              help="With --preset openseg: sliding 512 windows (their sscrop_test) or one pass (ss_test).")
@click.option("--model", default=None,
              help="Architecture of an authors' checkpoint (hrnet_w18 | hrnet_w32 | hrnet_w48 | hrnet2x20) "
                   "[from its config_dict or keys].")
@click.option("--abn-weight", type=click.Choice(["abs-eps", "as-stored"]), default="abs-eps", show_default=True,
              help="Authors' InPlace-ABN files: scale by |weight| + 1e-5 as InPlace-ABN does, or by the "
                   "stored weight (a torch-BN stand-in).")
@click.option("--tile", type=int, default=None, help="Sliding-window side in pixels [whole image].")
@click.option("--stride", type=int, default=None, help="Window step in pixels [tile: no overlap].")
@click.option("--batch", type=int, default=None, help="Windows per forward pass [4; openseg: 1].")
@click.option("--threshold", type=float, default=0.5, show_default=True, help="Boundary probability threshold.")
@click.option("--mat/--no-mat", default=False, help="Also write the authors' offsets .mat (key 'mat').")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--img-suffix", default=None,
              help="The dataset's image name ending (as segfix-gt build --img-suffix, e.g. _rgb.png): "
                   "only such images, each written as <frame key>.npz (s0_rgb.png -> s0.npz), the name "
                   "build, refine and eval give the frame.")
@max_image_pixels_option
@click.option("--on-error", type=click.Choice(["stop", "skip"]), default="stop", show_default=True,
              help="An unreadable image: stop, or skip it (listed at the end, exit 3) and go on.")
@click.option("--overwrite", is_flag=True,
              help="Predict every image again; by default an image whose offsets file (and .mat) in "
                   "OFFSETS_DIR is complete is kept, so a rerun resumes an interrupted run.")
def predict_cmd(checkpoint, images, out_dir, preset, openseg_mode, model, abn_weight, tile, stride, batch,
                threshold, mat, device, max_image_pixels, img_suffix, on_error, overwrite):
    """Predict boundary and direction for every image and write one offsets file per image.

    Exit status: 0 done, 2 bad input, 3 some images were skipped (--on-error skip)."""
    from segfix_train.predict import IMPLAUSIBLE_BOUNDARY_FRACTION, predict_images, resolve_checkpoint

    checkpoint = resolve_checkpoint(checkpoint)
    click.echo(f"checkpoint {checkpoint}", err=True)

    def bar(items):
        with progressbar(items, label="predict") as b:
            yield from b
    res = predict_images(checkpoint, images, out_dir, tile=tile, stride=stride,
                         batch=batch or (1 if preset == "openseg" else 4), device=device,
                         threshold=threshold, write_mat=mat, preset=preset, openseg_mode=openseg_mode,
                         model=model, abn_scale=abn_weight == "abs-eps", progress=bar, on_error=on_error,
                         img_suffix=img_suffix, overwrite=overwrite)
    kept = f", kept {len(res.kept)} complete from an earlier run (--overwrite redoes them)" if res.kept else ""
    click.echo(f"wrote {plural(len(res.written), 'offsets file')} to {out_dir}{kept} "
               f"(mean boundary fraction {res.boundary_fraction:.4f})")
    if res.boundary_fraction > IMPLAUSIBLE_BOUNDARY_FRACTION:
        click.echo(f"warning: {100 * res.boundary_fraction:.0f}% of the pixels are boundary pixels, where "
                   "a few percent are expected: check the checkpoint (wrong or untrained weights), "
                   "--preset (input normalisation: segfix for our checkpoints, openseg for the authors') "
                   "and --threshold", err=True)
    if res.skipped:
        for path, why in res.skipped[:20]:
            click.echo(f"  skipped: {path} ({why})", err=True)
        more = " (first 20 listed)" if len(res.skipped) > 20 else ""
        click.echo(f"skipped {plural(len(res.skipped), 'unreadable image')}{more}; fix them and rerun the same "
                   "command to predict only those", err=True)
        sys.exit(EXIT_PARTIAL)
