"""Damaging stored bytes on purpose (tests and ``benchmarks/fault_injection.py``)."""
from __future__ import annotations

import h5py


def flip_chunk_bytes(path, dataset: str, chunk_index: int = 0, *, mask: int = 0xFF, count: int = 1) -> tuple:
    """XOR ``count`` bytes in the middle of stored chunk ``chunk_index`` of HDF5 ``dataset`` in the
    file ``path`` with ``mask``, in place (the Fletcher-32 sum of that chunk no longer matches).
    Returns the chunk's offset in the dataset (its first element's index)."""
    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info(chunk_index)
    at = info.byte_offset + info.size // 2
    with open(path, "r+b") as fh:
        fh.seek(at)
        old = fh.read(count)
        fh.seek(at)
        fh.write(bytes(b ^ mask for b in old))
    return info.chunk_offset
