"""The shard writer: one HDF5 shard file written under a hidden temporary name, published atomically.

``OUT_DIR/<split>/`` holds ``shard-NNNNN.h5`` files and ``manifest.json`` (see ``docs/shards.md``).
A shard holds a group ``samples/NNNNN`` per sample with the arrays below, each chunked in square
tiles (``tile`` x ``tile`` pixels, 128 by default) and compressed (format 2: Blosc-LZ4 target
tiles through hdf5plugin; format 1: deflate), so a window read touches only the tiles it overlaps,
plus a ``records`` dataset (UTF-8 JSON bytes) describing its samples, its failed frames and the
build parameters it was built with (``params``).

Arrays of a sample (``H x W`` pixels):

=========================  ==============  =====================================================
``image``                  uint8 (H,W,3)   RGB pixels (``--image-format tiles``)
``image_file``             uint8 (N,)      the source image file's bytes (``--image-format file``)
``label``                  uint8 (H,W)     train ids, 255 ignore
``<v>/boundary_direction`` uint8 (H,W)     ``v`` = ``semantic`` or ``instance``: both targets in
                                           one code (:func:`encode_boundary_direction`)
``<v>/distance``           float32 (H,W)   only where it cannot be derived (see below)
``instance/segments``      int32 (H,W)     the segment map the instance targets were made from
``<v>/openseg_depth``      uint8 (H,W)     ``--preset openseg``: the authors' ``depth``
``<v>/openseg_dir_deg``    uint8 (H,W)     ``--preset openseg``: the authors' ``dir_deg``
=========================  ==============  =====================================================

The ``paper`` distance is not stored: it is an exact function of the stored map, recomputed on
read by :func:`~segfix_data.shards.codec.derive_distance` (one multi-label EDT of ``label`` /
``instance/segments``, capped, 0 on ignore). Presets whose distance is not derivable (``openseg``)
store ``<v>/distance`` as float32, so a read always returns the Targets values exactly.

The array encodings live in :mod:`segfix_data.shards.codec`; the reader is
:class:`segfix_data.shards.reader.ShardSet`. Workers encode
arrays (:func:`encode_array`: tiles -> Blosc-LZ4 or zlib bytes, checksum) so that the process
writing the shard (:class:`ShardWriter`) only copies bytes with ``write_direct_chunk`` into
datasets created with :func:`~segfix_data.shards.codec.filter_args`. Reading format-2 shards
outside segfix needs ``import hdf5plugin`` (it registers the Blosc filter).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

from segfix_data.atomic import atomic_path

from .codec import EncodedArray, filter_args
from .format import BYTES_CHUNK, FORMAT_NAME, FORMAT_VERSION


def write_bytes(group: h5py.Group, name: str, data: np.ndarray) -> None:
    """A 1-D (or any) array stored chunked with the Fletcher-32 filter (checked on every read)."""
    data = np.ascontiguousarray(data)
    chunks = (max(1, min(len(data), BYTES_CHUNK)),) if data.ndim == 1 else True
    group.create_dataset(name, data=data, chunks=chunks, fletcher32=True)


def write_encoded(group: h5py.Group, name: str, enc: EncodedArray) -> None:
    if enc.chunks is None:
        write_bytes(group, name, np.frombuffer(enc.blocks[0][1], dtype=enc.dtype).reshape(enc.shape))
        return
    # Fletcher-32 last in the pipeline (h5py's order): each stored chunk ends with the sum of the
    # compressed bytes before it, which :func:`codec.encode_array` has appended.
    ds = group.create_dataset(name, shape=enc.shape, dtype=np.dtype(enc.dtype), chunks=enc.chunks,
                              fletcher32=True, **filter_args(enc))
    masks = enc.masks or [0] * len(enc.blocks)
    for (offset, data), mask in zip(enc.blocks, masks):
        ds.id.write_direct_chunk(offset, data, filter_mask=mask)


class ShardWriter:
    """Write one shard under a hidden temporary name (:func:`~segfix_data.atomic.atomic_path`) and
    publish it onto ``path`` only when the block succeeds and its records were set.

    Example::

        with ShardWriter(path) as w:
            w.add_sample(0, {"label": encode_array(label), ...})
            w.set_records(records)
        # path now exists; on an exception (or without set_records) nothing is left at path or
        # under the temporary name; a kill -9 leaves at most the hidden temporary file, which the
        # next build of the split removes
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.tmp: Path | None = None
        self._publish = None
        self._file = None
        self._records = None

    def __enter__(self) -> "ShardWriter":
        self._publish = atomic_path(self.path)
        self.tmp = self._publish.__enter__()
        try:
            self._file = h5py.File(self.tmp, "w", libver=("v110", "v110"))
            self._file.attrs["format"] = FORMAT_NAME
            self._file.attrs["format_version"] = FORMAT_VERSION
        except BaseException as exc:
            self._publish.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def add_sample(self, index: int, arrays: dict) -> None:
        """Store one sample's arrays (name -> :class:`EncodedArray`) as ``samples/<index>``."""
        group = self._file.create_group(f"samples/{index:05d}")
        for name, enc in arrays.items():
            write_encoded(group, name, enc)

    def set_records(self, records: dict) -> None:
        """JSON-able ``{"samples", "failed", "params"}``: the shard's sample records, its failed
        frames and the build parameters (stored as ``records``; see :mod:`.manifest`). Required:
        a shard whose records were never set is not published."""
        if not (isinstance(records, dict) and isinstance(records.get("samples"), list)
                and isinstance(records.get("failed"), list)):
            raise TypeError(f"{self.path}: records must be a dict with 'samples' and 'failed' lists, "
                            f"got {type(records).__name__}")
        self._records = records

    def _finish(self) -> None:
        """Write the records, close the file and flush it to disk (before it is published)."""
        try:
            if self._records is None:
                raise RuntimeError(f"{self.path}: the shard's records were never set "
                                   "(ShardWriter.set_records); nothing was published")
            payload = json.dumps(self._records, sort_keys=True).encode()
            write_bytes(self._file, "records", np.frombuffer(payload, dtype=np.uint8))
        finally:
            self._file.close()
        with open(self.tmp, "rb+") as f:
            os.fsync(f.fileno())

    def __exit__(self, exc_type, exc, tb) -> bool:
        publish, self._publish = self._publish, None
        if exc_type is not None:  # the block failed: close, and atomic_path removes the file
            try:
                self._file.close()
            except Exception:
                pass  # the block's own exception is the one to report
            return publish.__exit__(exc_type, exc, tb)
        try:
            self._finish()
        except BaseException as err:
            publish.__exit__(type(err), err, err.__traceback__)
            raise
        return publish.__exit__(None, None, None)  # os.replace onto path
