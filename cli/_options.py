"""Options shared by several commands (one definition each, so help and behaviour agree)."""
from __future__ import annotations

import click

from segfix_data.datasets.pixels import DEFAULT_MAX_IMAGE_PIXELS, set_max_image_pixels


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
