"""``segfix predict``: offsets files from images with a trained checkpoint, a converted one or one
of the authors' SegFix checkpoints (thin wrapper over ``segfix_train.predict``)."""
from __future__ import annotations

import os
import sys

import click

from cli._errors import EXIT_PARTIAL, UserError
from cli._options import amp_option, image_glob_option, img_suffix_option, max_image_pixels_option
from cli._progress import progressbar
from cli._text import plural
from segfix_data.datasets import LAYOUTS
from segfix_train.config import DEVICES, OPENSEG_MODES, TESTERS


def _no_preset(ctx, param, value):
    """``--preset`` is ``segfix-gt build``'s word for a target definition; here it is a mistake."""
    if value is not None:
        raise UserError(f"segfix predict has no --preset (the target definition of segfix-gt build); "
                        f"its tester is chosen with --tester {'|'.join(TESTERS)}, e.g. --tester {value}")


@click.command("predict")
@click.option("--checkpoint", required=True, type=click.Path(exists=True),
              help="segfix train checkpoint (.pt) or run directory (its latest checkpoint), "
                   "`segfix convert-openseg` output, or the authors' SegFix .pth.")
@click.option("--images", required=True,
              help="Directory (searched recursively) or glob of images; label maps below it (gtFine/, "
                   "annotations/, *_gtFine_labelIds.png ...) are left out. With --layout: the dataset root.")
@click.option("--layout", type=click.Choice(LAYOUTS), default=None,
              help="--images is a dataset root of this layout (as for segfix-gt build and segfix eval): "
                   "predict the images of one --split, offsets named by frame key.")
@click.option("--split", default=None,
              help="With --layout: the split whose images are read (default: val for cityscapes, voc, "
                   "mmseg; validation for ade20k; every image for gta5 and folder); train/val and "
                   "training/validation are aliases.")
@image_glob_option
@click.option("--out", "out_dir", required=True, metavar="OFFSETS_DIR", help="Where <stem>.npz files go.")
@click.option("--tester", type=click.Choice(TESTERS), default="segfix", show_default=True,
              help="How offsets are computed. segfix: ours (RGB, --tile/--stride windows, --amp); openseg: "
                   "the authors' tester (BGR, 512 windows every 170 px, softmax at stride, align_corners, fp32).")
@click.option("--preset", hidden=True, expose_value=False, callback=_no_preset)
@click.option("--openseg-mode", type=click.Choice(OPENSEG_MODES), default="sscrop", show_default=True,
              help="With --tester openseg: sliding 512 windows (their sscrop_test) or one pass (ss_test).")
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
@amp_option
@click.option("--mat/--no-mat", default=False, help="Also write the authors' offsets .mat (key 'mat').")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@img_suffix_option
@max_image_pixels_option
@click.option("--on-error", type=click.Choice(["stop", "skip"]), default="stop", show_default=True,
              help="An unreadable image: stop, or skip it (listed at the end, exit 3) and go on.")
@click.option("--overwrite", is_flag=True,
              help="Predict every image again, removing first the offsets files (.npz, .mat) of an earlier "
                   "run with other settings; by default a rerun with the same checkpoint and settings (recorded "
                   "in OFFSETS_DIR/predict.json) keeps each complete offsets file, so it resumes an "
                   "interrupted run, and a rerun with others is refused.")
def predict_cmd(checkpoint, images, layout, split, image_glob, out_dir, tester, openseg_mode, model, abn_weight,
                tile, stride, batch, threshold, amp, mat, device, max_image_pixels, img_suffix, on_error, overwrite):
    """Predict boundary and direction for every image and write one offsets file per image
    (<frame key>.npz with --layout or --img-suffix, else <image stem>.npz).

    Exit status: 0 done, 2 bad input, 3 some images were skipped (--on-error skip)."""
    from segfix_train.predict import (IMPLAUSIBLE_BOUNDARY_FRACTION, OutputOptions, PredictOptions, load_model,
                                      predict_images, resolve_checkpoint, resolve_device)

    options = PredictOptions(tester=tester, tile=tile, stride=stride, batch=batch, threshold=threshold, amp=amp,
                             openseg_mode=openseg_mode)
    output = OutputOptions(write_mat=mat, on_error=on_error, overwrite=overwrite)
    dev = resolve_device(device)
    frames = _frames(images, layout, split, image_glob, img_suffix)
    checkpoint = resolve_checkpoint(checkpoint)
    click.echo(f"checkpoint {checkpoint}", err=True)
    net = load_model(checkpoint, dev, model=model, abn_scale=abn_weight == "abs-eps")

    def bar(items):
        with progressbar(items, label="predict") as b:
            yield from b
    res = predict_images(net, frames, out_dir, options, output, progress=bar, checkpoint=checkpoint)
    if res.removed:
        click.echo(f"--overwrite: removed {plural(len(res.removed), 'offsets file')} of an earlier run with other "
                   f"settings from {out_dir}", err=True)
    kept = f", kept {len(res.kept)} complete from an earlier run (--overwrite redoes them)" if res.kept else ""
    click.echo(f"wrote {plural(len(res.written), 'offsets file')} to {out_dir}{kept} "
               f"(mean boundary fraction {res.boundary_fraction:.4f})")
    check = ("check the checkpoint (wrong or untrained weights), --tester (input normalisation: segfix for our "
             "checkpoints, openseg for the authors') and --threshold")
    if res.boundary_fraction > IMPLAUSIBLE_BOUNDARY_FRACTION:
        click.echo(f"warning: {100 * res.boundary_fraction:.0f}% of the pixels are boundary pixels, where "
                   f"a few percent are expected: {check}", err=True)
    elif res.written + res.kept and res.boundary_fraction == 0:
        click.echo(f"warning: no pixel is a boundary pixel, so these offsets change nothing when refining, where "
                   f"a few percent are expected: {check}", err=True)
    if res.skipped:
        for path, why in res.skipped[:20]:
            click.echo(f"  skipped: {path} ({why})", err=True)
        more = " (first 20 listed)" if len(res.skipped) > 20 else ""
        click.echo(f"skipped {plural(len(res.skipped), 'unreadable image')}{more}; fix them and rerun the same "
                   "command to predict only those", err=True)
        sys.exit(EXIT_PARTIAL)


def _frames(images, layout, split, image_glob, img_suffix) -> list[tuple[str, str]]:
    """``[(image path, offsets file name)]``: one split of a dataset root (``--layout``), or the
    images of a folder or glob without its label maps (saying how many were left out, and which
    ``--layout`` a dataset root takes)."""
    from segfix_data.datasets.layouts import layouts_of_root
    from segfix_train.predict import find_images, layout_frames, list_frames

    if layout is not None:
        split, frames = layout_frames(layout, images, split, img_suffix=img_suffix, image_glob=image_glob)
        click.echo(f"{plural(len(frames), 'image')} of {layout} split {split or '(all)'} in {images}", err=True)
        return frames
    given = [o for o, v in (("--split", split), ("--image-glob", image_glob)) if v]
    if given:
        raise UserError(f"{', '.join(given)}: only with --layout (--images is then the dataset root)")
    paths, labels = find_images(images)
    if labels:
        click.echo(f"left out {plural(len(labels), 'label map')} found with the images (e.g. {labels[0]})", err=True)
    guessed = layouts_of_root(images) if os.path.isdir(images) else []
    if guessed:
        click.echo(f"note: {images} looks like a dataset root (--layout {guessed[0]}): the images of every "
                   f"split are predicted; add --layout {guessed[0]} --split SPLIT for one split's", err=True)
    return list_frames(paths, img_suffix)
