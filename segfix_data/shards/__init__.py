"""The cache: frames -> HDF5 shards of targets (and images), their reader, verification and export.

* :mod:`.codec`: array encodings (tiles, zlib, checksums, the boundary/direction code).
* :mod:`.format`: the format's names, version and refusals (:class:`ManifestError`, :class:`ShardReadError`).
* :mod:`.paths`: the one rule for untrusted names (:func:`is_plain_name`, :func:`shard_path`, :func:`output_path`).
* :mod:`.links`: :func:`check_hdf5_file` refuses HDF5 links and external or virtual storage.
* :mod:`.writer`: :class:`ShardWriter` (atomic publish). :mod:`.reader`: :class:`ShardSet`.
* :mod:`.manifest`: loading and checking ``manifest.json`` and a shard's ``records``.
* :mod:`.process`: :class:`BuildConfig` and :func:`process_frame` (one frame's arrays, in workers).
* :mod:`.pipeline`: :func:`build` / :func:`build_split`: scheduling, resume, failure policy.
* :mod:`.verify`: re-read every stored array against its manifest record.
* :mod:`.export`: the authors' ``.mat`` targets from built shards.
* :mod:`.oracle`: :class:`ShardOffsets`, built shards as the offsets source of ``segfix refine``.
"""
from .oracle import ShardOffsets, StoredOffsets, is_shard_dir
from .pipeline import BuildError, ParamsMismatch, SplitBusy, SplitResult, build, build_split
from .process import BACKENDS, IMAGE_FORMATS, ON_ERROR, VARIANT_CHOICES, BuildConfig, process_frame
from segfix_data.atomic import atomic_write_json
from .format import (DEFAULT_FIELDS, FORMAT_NAME, FORMAT_VERSION, MANIFEST, SHARD_PATTERN, VARIANTS,
                     ManifestError, ShardReadError)
from .links import check_hdf5_file
from .manifest import read_records
from .paths import is_plain_name, output_path, shard_path
from .reader import ShardSet
from .writer import ShardWriter
from .verify import PLAN, incomplete_message, list_splits, split_status, verify_samples, verify_split

__all__ = ["BuildConfig", "BuildError", "ParamsMismatch", "SplitBusy", "SplitResult", "build", "build_split",
           "process_frame", "BACKENDS", "IMAGE_FORMATS", "ON_ERROR", "VARIANT_CHOICES", "ShardSet", "ShardWriter", "DEFAULT_FIELDS", "FORMAT_NAME",
           "FORMAT_VERSION", "MANIFEST", "ManifestError", "ShardReadError", "check_hdf5_file", "is_plain_name", "output_path", "shard_path", "SHARD_PATTERN", "VARIANTS", "atomic_write_json",
           "read_records", "ShardOffsets", "StoredOffsets", "is_shard_dir", "PLAN", "incomplete_message", "split_status", "list_splits", "verify_samples", "verify_split"]
