"""Options shared by several commands (one definition each, so help and behaviour agree).

Each is a decorator: ``@img_suffix_option`` on a command adds ``--img-suffix`` with the help
written here; the command receives the value under the parameter name given in brackets.

* ``--max-image-pixels`` (``max_image_pixels``): every command that reads images;
* ``--img-suffix``, ``--seg-suffix``, ``--image-glob``, ``--label-glob``, ``--class-map``,
  ``--class-names`` (``class_names_file``), ``--reduce-zero-label``: how a dataset's files are
  found and read, the same words for ``segfix-gt build`` and ``segfix eval`` (and
  ``--img-suffix`` for ``segfix predict``);
* ``--amp`` (``amp``): the precision of ``segfix train`` and ``segfix predict``
  (``segfix_train.precision``).
"""
from __future__ import annotations

import click

from segfix_data.datasets.pixels import DEFAULT_MAX_IMAGE_PIXELS, set_max_image_pixels
from segfix_train.config import AMP_MODES


def _apply_max_image_pixels(ctx, param, value):
    set_max_image_pixels(value)  # this process; build passes it on to its workers
    return value


def max_image_pixels_option(f):
    """``--max-image-pixels N``: refuse any image (or label map) whose header declares more than N
    pixels, before decoding it (the decompression-bomb limit; PIL's 89,478,485 by default)."""
    return click.option(
        "--max-image-pixels", type=click.IntRange(min=1), default=None, metavar="N",
        callback=_apply_max_image_pixels, expose_value=True,
        help=f"Refuse images whose header declares more than N pixels, before decoding them "
             f"(decompression bombs) [{DEFAULT_MAX_IMAGE_PIXELS:,}, PIL's limit].")(f)


img_suffix_option = click.option(
    "--img-suffix", default=None,
    help="The images' file name ending (e.g. _rgb.png; mmseg layout: .jpg, folder layout: none): only "
         "names with it are images, and the name without it is the frame key (s0_rgb.png is frame s0) "
         "that pairs an image with its label, prediction and offsets files.")

seg_suffix_option = click.option(
    "--seg-suffix", default=None,
    help="The label maps' file name ending (e.g. _gtFine_labelTrainIds.png; mmseg layout: .png, folder "
         "layout: none): the name without it is the frame key.")

image_glob_option = click.option(
    "--image-glob", default=None,
    help="folder layout: glob of the images below the dataset root ({split} is replaced); segfix-gt "
         "build needs it, segfix eval reads images only to draw --plots on them.")

label_glob_option = click.option(
    "--label-glob", default=None,
    help="folder layout: glob of the label maps below the dataset root ({split} is replaced); segfix-gt "
         "build needs it, segfix eval takes every *.png (*SEG_SUFFIX) below the root[/SPLIT] without it.")

class_map_option = click.option(
    "--class-map", type=click.Path(exists=True, dir_okay=False), default=None,
    help='folder layout: JSON {"raw id": train id} (255 = ignore), the same file for build and eval '
         "[none: the labels are train ids, 255 = ignore].")

class_names_option = click.option(
    "--class-names", "class_names_file", type=click.Path(exists=True, dir_okay=False), default=None,
    help="Text file with one class name per line (train-id order): the names in tables and panels; "
         "their count is the number of classes.")

reduce_zero_label_option = click.option(
    "--reduce-zero-label", is_flag=True,
    help="mmseg, folder layouts: label 0 is ignore and 1..K are classes 0..K-1 (mmsegmentation's option).")

amp_option = click.option(
    "--amp", type=click.Choice(AMP_MODES), default=None,
    help="Mixed precision: auto (on CUDA bf16 where native, compute capability >= 8, else fp16, "
         "trained with a GradScaler; fp32 on the CPU), bf16, fp16 or off (fp32) "
         "[auto; segfix predict --tester openseg: off, its only value].")
