"""Verification of built shards: re-read every stored array and compare it with its manifest record,
and tell complete splits from interrupted or stopped builds (:func:`split_status`)."""
from __future__ import annotations

import json
import os
import re
import zlib
from pathlib import Path

import h5py
import numpy as np

from .format import MANIFEST, ManifestError, check_dataset
from .links import check_hdf5_file
from .manifest import check_records, records_of
from .paths import shard_path
from .reader import ShardSet

#: ``OUT_DIR/<split>/plan.json``: ``{"shards", "frames", "command"}``, written when a build starts.
PLAN = "plan.json"
_SHARD_FILE = re.compile(r"^shard-\d{5}\.h5$")



#: Bytes read at a time when verifying an array (its declared size never drives memory).
READ_BYTES = 16 << 20


def stream_checksum(ds: h5py.Dataset, block_bytes: int = READ_BYTES) -> str:
    """:func:`~segfix_data.shards.codec.checksum` of a stored dataset, read in blocks of leading
    rows of about ``block_bytes`` (the CRC-32 of the C-order bytes runs on across blocks), so the
    memory used does not depend on the declared shape."""
    row = max(1, int(np.prod(ds.shape[1:], dtype=np.int64)) * ds.dtype.itemsize)
    step = max(1, block_bytes // row)
    crc = 0
    for y in range(0, ds.shape[0] if ds.ndim else 1, step):
        block = ds[y:y + step] if ds.ndim else ds[()]
        crc = zlib.crc32(np.ascontiguousarray(block).reshape(-1).view(np.uint8), crc)
    return f"crc32:{crc:08x}"


def _open_shard(root: Path, name: str, manifest: dict | None, indices: list):
    """Open a shard (refusing paths and HDF5 indirection) and check its records: ``(file, problem)``."""
    path = shard_path(root, name)  # refuses paths leaving the split directory
    f = h5py.File(path, "r")
    try:
        check_hdf5_file(f, path)
        records = records_of(f, path)
    except ManifestError:
        f.close()
        raise
    except Exception as exc:  # a damaged records dataset: each of the shard's samples is reported
        return f, f"records: cannot read ({type(exc).__name__}: {exc})"
    if manifest is not None:
        try:
            check_records(records, manifest, indices, name, path, root)
        except ManifestError as exc:
            return f, f"stale or edited: {exc}"
    return f, None


def verify_samples(root: str | os.PathLike, samples: list, progress=None, manifest: dict | None = None) -> list[dict]:
    """Re-read every dataset a reader uses for ``samples`` (manifest records) under ``root``.

    Checks that each shard opens and holds no HDF5 indirection, that its ``records`` read (and,
    given the ``manifest`` the samples come from, agree with it: build parameters and sample
    records, :func:`~segfix_data.shards.manifest.check_records`), and that each array's dtype and
    declared shape are the format's for the sample's shape (checked before reading) and its
    checksum matches (read in blocks, :func:`stream_checksum`). Returns one dict per damaged
    sample: ``stem``, ``shard``, ``index``, ``problems``.
    """
    root = Path(root)
    damaged = []
    files: dict = {}
    shard_problem: dict = {}
    indices: dict = {}
    for i, s in enumerate(samples):
        indices.setdefault(s["shard"], []).append(i)
    try:
        for s in samples:
            problems = []
            try:
                if s["shard"] not in files:
                    files[s["shard"]], shard_problem[s["shard"]] = _open_shard(
                        root, s["shard"], manifest, indices[s["shard"]])
                g = files[s["shard"]][f"samples/{s['index']:05d}"]
            except ManifestError as exc:
                problems.append(f"refused: {exc}")
            except Exception as exc:
                problems.append(f"cannot open: {type(exc).__name__}: {exc}")
            else:
                if shard_problem[s["shard"]]:
                    problems.append(shard_problem[s["shard"]])
                problems += _sample_problems(g, s, root / s["shard"])
            if problems:
                damaged.append({"stem": s["stem"], "shard": s["shard"], "index": s["index"],
                                "problems": problems})
            if progress is not None:
                progress(1)
    finally:
        for f in files.values():
            f.close()
    return damaged


def _sample_problems(g: h5py.Group, s: dict, path: Path) -> list:
    problems = []
    for name, digest in sorted(s["checksums"].items()):
        try:
            ds = g[name]
            check_dataset(ds, name, s["shape"], f"{path}: sample {s['index']:05d}")
            got = stream_checksum(ds)
        except ManifestError as exc:
            problems.append(f"{name}: refused: {exc}")
            continue
        except Exception as exc:
            problems.append(f"{name}: cannot read ({type(exc).__name__}: {exc})")
            continue
        if got != digest:
            problems.append(f"{name}: checksum mismatch")
    return problems


def _is_split_dir(p: Path) -> bool:
    return p.is_dir() and any((p / n).is_file() for n in (MANIFEST, "build.json", PLAN))


def list_splits(out_dir: str | os.PathLike, complete: bool = False) -> list[str]:
    """Names of the splits under ``out_dir`` that a build has written to (complete or not; only
    those with a manifest if ``complete``), sorted."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise FileNotFoundError(f"{out_dir}: no such directory (the OUT_DIR of `segfix-gt build`)")
    ok = (lambda p: (p / MANIFEST).is_file()) if complete else _is_split_dir
    return sorted(p.name for p in out_dir.iterdir() if p.is_dir() and ok(p))


def split_status(out_dir: str | os.PathLike, split: str) -> dict:
    """Is ``OUT_DIR/<split>`` a complete build?

    A build writes ``manifest.json`` last, so a split with ``build.json`` / ``plan.json`` but no
    manifest was interrupted (killed) or stopped (a bad frame under ``--on-error fail``).

    Returns:
        ``{"complete": bool, "shards_done": int, "shards_planned": int | None, "frames_planned":
        int | None, "command": str | None}``; ``shards_done`` counts the published shard files.
    """
    d = Path(out_dir) / split
    plan = {}
    try:
        with open(d / PLAN) as f:
            plan = json.load(f)
    except (OSError, ValueError):
        pass
    done = sum(1 for p in d.iterdir() if _SHARD_FILE.match(p.name)) if d.is_dir() else 0
    return {"complete": (d / MANIFEST).is_file(), "shards_done": done,
            "shards_planned": plan.get("shards"), "frames_planned": plan.get("frames"),
            "command": plan.get("command")}


def incomplete_message(out_dir: str | os.PathLike, split: str, status: dict) -> str:
    """One line: the split is incomplete, how far it got and how to resume it."""
    planned = status["shards_planned"]
    of = f"{status['shards_done']}/{planned} shards done" if planned is not None else \
        f"{status['shards_done']} shards done"
    if status["frames_planned"] is not None:
        of += f" ({status['frames_planned']} frames planned)"
    cmd = status["command"] or f"the same `segfix-gt build DATASET_DIR {out_dir}` command"
    return (f"{split}: incomplete build: {of}, no manifest (the build was interrupted or stopped); "
            f"resume it with: {cmd}")


def verify_split(out_dir: str | os.PathLike, split: str, progress=None) -> tuple[int, list[dict]]:
    """Verify every sample of ``OUT_DIR/<split>`` against its manifest.

    Returns:
        ``(number of samples, damaged)`` with ``damaged`` as :func:`verify_samples`; a shard file
        listed in the manifest but missing makes each of its samples damaged.
    """
    ds = ShardSet(out_dir, split, open_first=False)  # every shard is checked below
    try:
        return len(ds), verify_samples(ds.root, ds.samples, progress, manifest=ds.manifest)
    finally:
        ds.close()
