"""``.npy`` arrays read with their declared size checked before anything is allocated.

:func:`numpy.load` trusts the file's header: a 130-byte file declaring (100000, 100000) asks for
10 GB, a truncated file or an object dtype raises a bare ``ValueError``, an empty one an
``EOFError``. Here the header is read first (:func:`read_npy_header`, a few hundred bytes), the
caller's rule judges the declared shape and dtype (shape times item size, so a ``V65536`` dtype
counts its 64 KiB per element), and only then are exactly the declared bytes read from the same
open file (:func:`read_npy_data`). Every problem is an :class:`~segfix_data.errors.InputError`
naming the file.

:func:`read_id_map` is the reader of label maps saved as ``.npy`` (refine and eval): a 2-D integer
array of at most ``--max-image-pixels`` pixels (:mod:`segfix_data.datasets.pixels`).
"""
from __future__ import annotations

import dataclasses
import os
from typing import BinaryIO

import numpy as np

from segfix_data.errors import InputError
from .pixels import check_declared

#: Largest item size of an integer array (int64 / uint64).
MAX_INT_ITEMSIZE = 8


@dataclasses.dataclass(frozen=True)
class NpyHeader:
    """What an ``.npy`` header declares: ``shape``, ``dtype`` and the memory order."""

    shape: tuple
    dtype: np.dtype
    fortran_order: bool

    @property
    def nbytes(self) -> int:
        """Declared bytes: shape times item size (Python ints, no overflow)."""
        n = self.dtype.itemsize
        for d in self.shape:
            n *= int(d)
        return n

    def describe(self) -> str:
        return f"shape {self.shape} dtype {self.dtype}"

    def is_integer(self, bool_ok: bool = False) -> bool:
        """An integer dtype (bool too with ``bool_ok``) of at most :data:`MAX_INT_ITEMSIZE` bytes."""
        kinds = "iub" if bool_ok else "iu"
        return self.dtype.kind in kinds and self.dtype.itemsize <= MAX_INT_ITEMSIZE


def read_npy_header(fp: BinaryIO, where) -> NpyHeader:
    """The header of the ``.npy`` stream ``fp`` (left at the first data byte).

    Raises:
        InputError: naming ``where`` when the file is empty, not an ``.npy`` file, its header is
            damaged, or its dtype holds Python objects (never loaded: it would run pickle code).
    """
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f".npy format version {version[0]}.{version[1]} is not read here (1.0 or 2.0)")
    except (ValueError, EOFError, OSError, SyntaxError, TypeError, KeyError) as exc:
        empty = "an empty file" if "got 0" in str(exc) else f"not a readable .npy array ({exc})"
        raise InputError(f"{where}: {empty}; the file is damaged or of another kind: write it again") from None
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise InputError(f"{where}: an .npy array of Python objects (dtype {dtype}); refusing to load it "
                         "(it would run pickled code): save a numeric array")
    return NpyHeader(tuple(int(d) for d in shape), dtype, bool(fortran))


def read_npy_data(fp: BinaryIO, header: NpyHeader, where) -> np.ndarray:
    """Exactly ``header.nbytes`` bytes from ``fp`` (positioned after the header) as a writable array.

    Raises:
        InputError: naming ``where`` when the file ends before the declared data does.
    """
    buf = bytearray(header.nbytes)
    view, got = memoryview(buf), 0
    while got < len(buf):
        n = fp.readinto(view[got:])
        if not n:
            raise InputError(f"{where}: truncated .npy file: it declares {header.describe()} "
                             f"({header.nbytes:,} bytes) but holds {got:,}; write it again")
        got += n
    arr = np.frombuffer(buf, dtype=header.dtype)
    return arr.reshape(header.shape, order="F" if header.fortran_order else "C")


def read_id_map(source: "str | os.PathLike | BinaryIO", where=None) -> np.ndarray:
    """A label map saved with :func:`numpy.save`: a 2-D integer array of at most
    ``--max-image-pixels`` pixels, checked from the header before it is read.

    Args:
        source: a path, or a binary file opened on it (read from its start).
        where: the name used in messages (default: ``source``).

    Returns:
        The (H, W) integer array.

    Raises:
        InputError: naming the file (empty, truncated, not ``.npy``, object dtype, not a 2-D
            integer array); :class:`~segfix_data.datasets.pixels.ImageTooLarge` when it declares
            more pixels than the limit.
    """
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            return read_id_map(f, source if where is None else where)
    where = source if where is None else where
    header = read_npy_header(source, where)
    if len(header.shape) != 2 or not header.is_integer():
        raise InputError(f"{where}: a label map must be a 2-D integer array, got {header.describe()}; "
                         "save the ids as an (H, W) integer array")
    check_declared(where, header.shape[1], header.shape[0])
    return read_npy_data(source, header, where)
