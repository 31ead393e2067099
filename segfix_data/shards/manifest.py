"""The manifest (``OUT_DIR/<split>/manifest.json``) and the shards' ``records``: loading, checks.

Both are untrusted on read. The manifest carries ``content_checksum`` (:func:`manifest_checksum`,
over everything else in it), so an edited value is refused; and every shard's ``records`` carry
the build parameters and the sample records the manifest was made from, so
:func:`check_records` can cross-check the manifest against the shards it names (this also
catches a manifest whose checksum was recomputed after an edit, as long as the shards are intact).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import h5py
import numpy as np

from .format import FORMAT_NAME, MANIFEST, ManifestError
from .paths import is_plain_name

#: Key of the manifest's own checksum.
CHECKSUM_KEY = "content_checksum"

#: Largest ``records`` dataset read (bytes): a shard of 32 samples holds a few KiB; a larger
#: declared size is refused before any of it is read.
MAX_RECORDS_BYTES = 64 << 20


def manifest_checksum(manifest: dict) -> str:
    """``"blake2b:<32 hex>"`` of the manifest's canonical JSON (sorted keys, no spaces), without
    its :data:`CHECKSUM_KEY`. Detects edits of any value; not a defence against someone who
    recomputes it (the cross-check with the shards' records covers that for samples and params)."""
    body = {k: v for k, v in manifest.items() if k != CHECKSUM_KEY}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "blake2b:" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def records_of(f: h5py.File, path) -> dict:
    """The ``records`` JSON of an open shard file, its declared size and dtype checked first.

    Returns a dict with a ``samples`` list and a ``failed`` list (and ``params``, the build
    parameters, in shards of recent builds). Raises ValueError naming ``path`` otherwise
    (the caller words it); OSError if HDF5 cannot read it (e.g. a failed Fletcher-32 check).
    """
    ds = f.get("records")
    if not isinstance(ds, h5py.Dataset):
        raise ValueError("no records dataset")
    if ds.ndim != 1 or ds.dtype != np.uint8 or ds.shape[0] > MAX_RECORDS_BYTES:
        raise ValueError(f"records is {ds.dtype}{ds.shape}, expected uint8 bytes of at most "
                         f"{MAX_RECORDS_BYTES} (a 1-D dataset of JSON)")
    rec = json.loads(ds[()].tobytes().decode("utf-8"))
    if not (isinstance(rec, dict) and isinstance(rec.get("samples"), list)
            and isinstance(rec.get("failed"), list)):
        raise ValueError("records is not a {samples, failed} object")
    return rec


def read_records(path: str | os.PathLike) -> dict:
    """The ``records`` JSON of a shard file (see :func:`records_of`)."""
    with h5py.File(path, "r") as f:
        return records_of(f, path)


def check_records(records: dict, manifest: dict, samples, shard: str, path, root) -> None:
    """Cross-check a shard's ``records`` with the manifest: the same build parameters (when the
    shard records them) and, for each manifest sample in ``samples`` (indices into
    ``manifest["samples"]``) stored in ``shard``, the very record the build wrote.

    Raises :class:`ManifestError` naming the manifest and the shard file.
    """
    mpath = Path(root) / MANIFEST
    if "params" in records and records["params"] != manifest["params"]:
        old, new = records["params"] or {}, manifest["params"]
        keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        diffs = ", ".join(f"{k}: {old.get(k)!r} (shard) vs {new.get(k)!r} (manifest)" for k in keys[:4])
        raise ManifestError(f"{mpath}: {path} was built with other parameters ({diffs}); the manifest was "
                            "edited or the shard is stale: rerun the same `segfix-gt build` with "
                            "--overwrite to rebuild the split")
    by_index = {r.get("index"): r for r in records["samples"] if isinstance(r, dict)}
    for i in samples:
        s = manifest["samples"][i]
        r = by_index.get(s["index"])
        if r is None or dict(r, shard=shard) != s:
            held = r.get("stem") if r else "nothing"
            what = "a different record" if r and r.get("stem") == s["stem"] else f"{held}"
            raise ManifestError(f"{mpath}: sample {i} ({s['stem']}) is {shard} index {s['index']}, but "
                                f"{path} holds {what} there; the manifest was edited or mixed with "
                                "other shards: rebuild the split")


def load_manifest(path: Path) -> dict:
    """The manifest at ``path``, refused (:class:`ManifestError` naming it) unless it is valid JSON of
    this format, its checksum (when present: manifests of older builds have none) matches, and
    every sample record is well formed with a plain, unique stem."""
    try:
        with open(path, "rb") as f:
            manifest = json.loads(f.read().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: not valid JSON ({exc}); rebuild the split with `segfix-gt build`") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise ManifestError(f"{path}: not a {FORMAT_NAME} manifest")
    samples = manifest.get("samples")
    if not isinstance(samples, list) or not isinstance(manifest.get("params"), dict):
        raise ManifestError(f"{path}: no 'samples' list or 'params' object; rebuild the split")
    digest = manifest.get(CHECKSUM_KEY)
    if digest is not None and digest != manifest_checksum(manifest):
        raise ManifestError(f"{path}: its content does not match its {CHECKSUM_KEY} (the manifest was "
                            "edited); rerun the same `segfix-gt build` to rewrite it")
    stems = set()
    for i, s in enumerate(samples):
        ok = (isinstance(s, dict) and isinstance(s.get("stem"), str) and isinstance(s.get("shard"), str)
              and type(s.get("index")) is int and s["index"] >= 0 and isinstance(s.get("shape"), list)
              and len(s["shape"]) == 2 and all(type(v) is int and v > 0 for v in s["shape"]))
        if not ok:
            raise ManifestError(f"{path}: sample {i} is not a valid record (stem, shard, index, shape); "
                                "rebuild the split")
        if not is_plain_name(s["stem"]):
            raise ManifestError(f"{path}: sample {i} has the key {s['stem']!r}, not a plain file name "
                                "(outputs are named after it); refusing the manifest: rebuild the split")
        if s["stem"] in stems:
            raise ManifestError(f"{path}: sample key {s['stem']!r} appears twice; rebuild the split")
        stems.add(s["stem"])
    return manifest
