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


# ------------------------------------------------------------------------------ offsets files

_ZEROS = bytes(1 << 20)


def _write_zeros(f, n: int) -> None:
    while n > 0:
        k = min(n, len(_ZEROS))
        f.write(_ZEROS[:k])
        n -= k


def write_npz(path, members) -> Path:
    """An ``.npz`` written member by member, in order (a repeated name gives two entries).

    ``members``: ``[(member name, value)]``; a value is an array (saved as ``numpy.save`` does) or
    ``(shape, dtype)``: a header declaring that array, followed by its declared bytes of zeros,
    streamed through deflate (a 16000 x 16000 map costs about a MB on disk and no memory).
    """
    import warnings
    import zipfile

    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": on purpose
        for name, value in members:
            with z.open(name, "w", force_zip64=True) as f:
                if isinstance(value, tuple):
                    shape, dtype = value
                    dtype = np.dtype(dtype)
                    np.lib.format.write_array_header_2_0(f, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                             "fortran_order": False, "shape": tuple(shape)})
                    n = dtype.itemsize
                    for d in shape:
                        n *= d
                    _write_zeros(f, n)
                else:
                    np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=True)
    return path


def offsets_members(shape, m: int = 8):
    """The members of a valid offsets file of ``shape`` (H, W): no boundary, no direction."""
    import numpy as np

    return [("boundary.npy", np.zeros(shape, np.uint8)), ("direction.npy", np.full(shape, 255, np.uint8)),
            ("num_directions.npy", np.int64(m)), ("format_version.npy", np.int64(1))]


# MAT v5 element types and array classes used below
_MI = {"int8": 1, "uint8": 2, "int16": 3, "uint16": 4, "int32": 5, "uint32": 6, "double": 9}
_CLASS = {"double": 6, "int8": 8, "uint8": 9, "int16": 10, "uint16": 11, "int32": 12, "uint32": 13}
_CELL = 1


def _pad8(n: int) -> int:
    return (n + 7) // 8 * 8


def _matrix_head(name: str, dims, array_class: int, body_bytes: int) -> bytes:
    """A miMATRIX tag and its flags, dimensions and name subelements; ``body_bytes``: what follows."""
    nm = name.encode()
    sub = (struct.pack("<II", 6, 8) + struct.pack("<II", array_class, 0)
           + struct.pack("<II", 5, 4 * len(dims)) + struct.pack(f"<{len(dims)}i", *dims).ljust(_pad8(4 * len(dims)), b"\0")
           + struct.pack("<II", 1, len(nm)) + nm.ljust(_pad8(len(nm)), b"\0"))
    return struct.pack("<II", 14, len(sub) + body_bytes) + sub


def _numeric(name: str, dims, dtype: str, data_bytes: int | None = None):
    """(bytes before the zeros, zeros, bytes after) of a numeric variable of zeros; ``data_bytes``:
    what its data element declares (default: what ``dims`` need)."""
    size = {"int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4, "double": 8}[dtype]
    n = size
    for d in dims:
        n *= d
    n = n if data_bytes is None else data_bytes
    data_tag = struct.pack("<II", _MI[dtype], n)
    return _matrix_head(name, dims, _CLASS[dtype], 8 + _pad8(n)) + data_tag, _pad8(n)


def write_mat(path, variables) -> Path:
    """A MAT v5 file of compressed variables of zeros, in order (a repeated name gives two).

    ``variables``: ``[(name, dims, dtype)]`` for a numeric array (``dtype`` one of int8..uint32,
    double), ``[(name, dims, dtype, data_bytes)]`` for one whose data element declares
    ``data_bytes``, or ``(name, dims, ("cell", cell_dims, cell_dtype))`` for a cell array each of
    whose cells is a numeric array of zeros. Everything is streamed through zlib.
    """
    import zlib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        out.write(b"MATLAB 5.0 MAT-file, crafted by tests/support/bombs.py".ljust(116, b" ")
                  + bytes(8) + struct.pack("<H", 0x0100) + b"IM")
        for var in variables:
            name, dims, kind = var[:3]
            comp = zlib.compressobj(1)  # zeros deflate fastest at level 1 (still ~1000:1)
            chunks = []

            def emit(b: bytes) -> None:
                chunks.append(comp.compress(b))

            def emit_zeros(n: int) -> None:
                while n > 0:
                    k = min(n, len(_ZEROS))
                    chunks.append(comp.compress(_ZEROS[:k]))
                    n -= k

            if isinstance(kind, tuple):  # a cell array
                _, cell_dims, cell_dtype = kind
                head, n = _numeric("", cell_dims, cell_dtype)
                cells = 1
                for d in dims:
                    cells *= d
                emit(_matrix_head(name, dims, _CELL, cells * (len(head) + n)))
                for _ in range(cells):
                    emit(head)
                    emit_zeros(n)
            else:
                head, n = _numeric(name, dims, kind, var[3] if len(var) > 3 else None)
                emit(head)
                emit_zeros(n)
            chunks.append(comp.flush())
            data = b"".join(chunks)
            out.write(struct.pack("<II", 15, len(data)) + data)
    return path
