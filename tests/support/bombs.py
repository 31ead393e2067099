"""Crafted decompression bombs for tests and the fault-injection benchmark: a small PNG whose header
declares a huge size (``segfix_data.datasets.pixels`` must refuse it before decoding)."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png_bomb(path, width: int = 30000, height: int = 30000, *, colour: int = 2) -> Path:
    """A small PNG declaring ``width x height`` (8-bit; colour 2 = RGB, 0 = grey) whose IDAT holds
    only the first rows (a decoder that trusts the header allocates the whole image first)."""
    channels = {0: 1, 2: 3}[colour]
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    rows = (b"\x00" + b"\x00" * (width * channels)) * 4
    data = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(rows, 9))
            + _chunk(b"IEND", b""))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
