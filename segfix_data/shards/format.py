"""The shard format's constants and refusals: names, version, the arrays a sample may hold.

See :mod:`segfix_data.shards.writer` for the layout of a shard file and ``docs/shards.md``.
"""
from __future__ import annotations

import numpy as np

from segfix_data.errors import InputError

FORMAT_NAME = "segfix-shards"
#: 4: a sample record's ``distance.<v>`` names the ignore value ``ignore_index``, as the manifest
#: and ``semantic_targets`` do (formats 1-3: ``ignore_value``; :func:`distance_ignore_index`).
#: 3: direction targets on a band wider than the boundary (``params["direction_band"]``, read as
#: ``<v>/direction_band``). 2: target tiles in Blosc-LZ4 (hdf5plugin). docs/shards.md, "The format".
#: 1: deflate. Readers read all four.
FORMAT_VERSION = 4
MANIFEST = "manifest.json"
SHARD_PATTERN = "shard-{:05d}.h5"
VARIANTS = ("semantic", "instance")

#: Chunk length of 1-D byte datasets (``image_file``, ``records``): Fletcher-32 needs chunks.
BYTES_CHUNK = 1 << 20

DEFAULT_FIELDS = ("image", "label", "semantic/boundary", "semantic/direction")


class ManifestError(InputError):
    """A manifest or shard file that the reader refuses: invalid JSON, a shard path leaving the
    split directory, HDF5 links or external storage, records that disagree with the manifest."""


class ShardReadError(InputError):
    """Stored data failed its checks on read (Fletcher-32 of a chunk, a missing group): the message
    names the shard file, the sample and ``segfix-gt verify``."""


def distance_ignore_index(info: dict) -> int | None:
    """The ignore value of a sample record's ``distance.<v>`` (the ``ignore_index`` the targets
    were made with; 0 distance there): its ``ignore_index``, or in records of formats 1-3, which
    called it ``ignore_value``, that."""
    return info["ignore_index"] if "ignore_index" in info else info["ignore_value"]


_PLANE_FIELDS = {"boundary_direction": np.uint8, "boundary": np.uint8, "direction": np.uint8,
                 "distance": np.float32, "openseg_depth": np.uint8, "openseg_dir_deg": np.uint8}


def field_format(name: str, shape) -> tuple | None:
    """``(dtype, shape)`` the format gives the stored dataset ``name`` of a sample of ``shape``
    (H, W) pixels: ``image`` uint8 (H, W, 3); ``label``, ``<v>/boundary_direction``,
    ``<v>/openseg_depth``, ``<v>/openseg_dir_deg`` uint8 (H, W); ``<v>/distance`` float32 (H, W);
    ``instance/segments`` int32 (H, W); ``image_file`` uint8 with shape None (1-D, any length).
    None for a name the format does not have."""
    H, W = (int(v) for v in shape)
    if name == "image":
        return np.dtype(np.uint8), (H, W, 3)
    if name == "image_file":
        return np.dtype(np.uint8), None
    if name == "label":
        return np.dtype(np.uint8), (H, W)
    if name == "instance/segments":
        return np.dtype(np.int32), (H, W)
    variant, _, plane = name.partition("/")
    if variant in VARIANTS and plane in _PLANE_FIELDS:
        return np.dtype(_PLANE_FIELDS[plane]), (H, W)
    return None


def check_dataset(ds, name: str, shape, where: str) -> None:
    """Refuse (:class:`ManifestError`, naming ``where``) a stored dataset whose dtype or declared
    shape is not what :func:`field_format` gives for ``name`` and the sample's ``shape``: checked
    from the HDF5 metadata, before any of its data is read (so a crafted size costs no memory)."""
    want = field_format(name, shape)
    if want is None:
        raise ManifestError(f"{where}: {name!r} is not an array of the shard format; rebuild the split")
    dtype, wshape = want
    got_shape = tuple(getattr(ds, "shape", ()) or ())
    ok = getattr(ds, "dtype", None) == dtype and (len(got_shape) == 1 if wshape is None else got_shape == wshape)
    if not ok:
        expect = f"{dtype}{wshape}" if wshape is not None else f"1-D {dtype}"
        raise ManifestError(f"{where}: {name} is stored as {getattr(ds, 'dtype', type(ds).__name__)}"
                            f"{got_shape}, the format says {expect} for a {shape[0]}x{shape[1]} sample; "
                            "the shard was crafted or damaged: rebuild the split")
