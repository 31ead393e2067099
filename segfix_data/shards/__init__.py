"""The cache: frames -> HDF5 shards of targets (and images), their reader, verification and export.

* :mod:`.codec`: array encodings (tiles, zlib, checksums, the boundary/direction code).
* :mod:`.store`: :class:`ShardWriter` (atomic publish), :class:`ShardSet` (the reader), the manifest.
* :mod:`.process`: :class:`BuildConfig` and :func:`process_frame` (one frame's arrays, in workers).
* :mod:`.pipeline`: :func:`build` / :func:`build_split`: scheduling, resume, failure policy.
* :mod:`.verify`: re-read every stored array against its manifest record.
* :mod:`.export`: the authors' ``.mat`` targets from built shards.
* :mod:`.oracle`: :class:`ShardOffsets`, built shards as the offsets source of ``segfix refine``.
"""
from .oracle import ShardOffsets, StoredOffsets, is_shard_dir
from .pipeline import BuildError, ParamsMismatch, SplitBusy, SplitResult, build, build_split
from .process import BACKENDS, IMAGE_FORMATS, ON_ERROR, VARIANT_CHOICES, BuildConfig, process_frame
from .store import (DEFAULT_FIELDS, FORMAT_NAME, FORMAT_VERSION, MANIFEST, SHARD_PATTERN, VARIANTS,
                    ManifestError, ShardReadError, ShardSet, ShardWriter, atomic_write_json,
                    check_hdf5_file, is_plain_name, output_path, read_records, shard_path)
from .verify import PLAN, incomplete_message, list_splits, split_status, verify_samples, verify_split

__all__ = ["BuildConfig", "BuildError", "ParamsMismatch", "SplitBusy", "SplitResult", "build", "build_split",
           "process_frame", "BACKENDS", "IMAGE_FORMATS", "ON_ERROR", "VARIANT_CHOICES", "ShardSet", "ShardWriter", "DEFAULT_FIELDS", "FORMAT_NAME",
           "FORMAT_VERSION", "MANIFEST", "ManifestError", "ShardReadError", "check_hdf5_file", "is_plain_name", "output_path", "shard_path", "SHARD_PATTERN", "VARIANTS", "atomic_write_json",
           "read_records", "ShardOffsets", "StoredOffsets", "is_shard_dir", "PLAN", "incomplete_message", "split_status", "list_splits", "verify_samples", "verify_split"]
