"""The decompression-bomb limit: refuse an image whose header declares too many pixels, before decoding.

A 2.7 MB PNG can declare 30000x30000 pixels; decoding it takes gigabytes before anything fails.
PIL refuses such files itself (``Image.MAX_IMAGE_PIXELS``), but the pyspng fast path and any code
that raises PIL's limit would not. Every image path (build, predict, refine, eval) calls
:func:`check_pixels` (or :func:`check_declared` with a header already read) before it decodes.

The limit is ``Image.MAX_IMAGE_PIXELS`` (89,478,485 pixels, about 9459x9459) unless raised with
:func:`set_max_image_pixels` (the CLI's ``--max-image-pixels``): an image declaring more pixels
(width x height) is refused with :class:`ImageTooLarge`. The limit is per process: build workers
get it through their :class:`~segfix_data.shards.process.BuildConfig`.
"""
from __future__ import annotations

import os
import warnings

from PIL import Image

from segfix_data.errors import InputError
from .frame import FrameError

#: PIL's own limit, read once at import (before anything raises it).
DEFAULT_MAX_IMAGE_PIXELS = int(Image.MAX_IMAGE_PIXELS or 89478485)
_limit = DEFAULT_MAX_IMAGE_PIXELS
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ImageTooLarge(FrameError):
    """An image declares more pixels than the limit (a decompression bomb, or a genuinely huge image)."""


def max_image_pixels() -> int:
    """The current limit (pixels = width x height)."""
    return _limit


def set_max_image_pixels(n: int | None) -> None:
    """Set the limit for this process (None: PIL's default). PIL's own check is kept above it
    (PIL refuses beyond twice ``Image.MAX_IMAGE_PIXELS``), so raising the limit raises PIL's too."""
    global _limit
    _limit = DEFAULT_MAX_IMAGE_PIXELS if n is None else int(n)
    if _limit < 1:
        raise InputError(f"--max-image-pixels must be >= 1, got {n}")
    Image.MAX_IMAGE_PIXELS = _limit


def check_declared(path: str | os.PathLike, width: int, height: int) -> None:
    """Raise :class:`ImageTooLarge` naming ``path`` when ``width x height`` exceeds the limit."""
    if int(width) * int(height) > _limit:
        raise ImageTooLarge(path, f"declares {width}x{height} = {int(width) * int(height):,} pixels, more "
                            f"than the limit of {_limit:,} (a decompression bomb?); nothing was decoded",
                            "if the image is genuine, raise the limit with --max-image-pixels")


def declared_size(source) -> tuple[int, int] | None:
    """(width, height) from the file's header without decoding (the PNG IHDR, else PIL's header
    parse); None when the file cannot be read or parsed (the decoder then reports it).

    ``source``: a path, or a seekable binary file (read from its start and left there)."""
    if not hasattr(source, "read"):
        try:
            with open(source, "rb") as f:
                return declared_size(f)
        except OSError:
            return None
    try:
        source.seek(0)
        head = source.read(24)
    except OSError:
        return None
    if len(head) == 24 and head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR":
        source.seek(0)
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    saved = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None  # only the header is parsed here; the check is ours
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            source.seek(0)
            im = Image.open(source)  # not closed: that would close ``source`` too
            return im.size
    except Exception:
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = saved
        try:
            source.seek(0)
        except (OSError, ValueError):
            pass


def check_pixels(path: str | os.PathLike, file=None) -> None:
    """Refuse ``path`` (:class:`ImageTooLarge`) when its header declares more pixels than the limit;
    ``file``: the binary file already opened on ``path``, read instead of opening ``path`` again."""
    size = declared_size(path if file is None else file)
    if size is not None:
        check_declared(path, *size)
