"""The manifest (``OUT_DIR/<split>/manifest.json``) and the shards' ``records``: loading, checks."""
from __future__ import annotations

import json
import os
from pathlib import Path

import h5py

from .format import FORMAT_NAME, ManifestError
from .paths import is_plain_name


def read_records(path: str | os.PathLike) -> dict:
    """The ``records`` JSON of a shard file."""
    with h5py.File(path, "r") as f:
        return json.loads(f["records"][()].tobytes().decode())


def load_manifest(path: Path) -> dict:
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
