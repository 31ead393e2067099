"""The shard format's constants and refusals: names, version, the arrays a sample may hold.

See :mod:`segfix_data.shards.writer` for the layout of a shard file and ``docs/shards.md``.
"""
from __future__ import annotations

FORMAT_NAME = "segfix-shards"
#: 2: target tiles in Blosc-LZ4 (hdf5plugin; issue 13). 1: deflate. Readers read both.
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
SHARD_PATTERN = "shard-{:05d}.h5"
VARIANTS = ("semantic", "instance")

#: Chunk length of 1-D byte datasets (``image_file``, ``records``): Fletcher-32 needs chunks.
BYTES_CHUNK = 1 << 20

DEFAULT_FIELDS = ("image", "label", "semantic/boundary", "semantic/direction")


class ManifestError(ValueError):
    """A manifest or shard file that the reader refuses: invalid JSON, a shard path leaving the
    split directory, HDF5 links or external storage, records that disagree with the manifest."""


class ShardReadError(ValueError):
    """Stored data failed its checks on read (Fletcher-32 of a chunk, a missing group): the message
    names the shard file, the sample and ``segfix-gt verify``."""
