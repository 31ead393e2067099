"""Verification of built shards: re-read every stored array and compare it with its manifest record,
and tell complete splits from interrupted or stopped builds (:func:`split_status`)."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import h5py

from .codec import checksum
from .format import MANIFEST, ManifestError
from .links import check_hdf5_file
from .paths import shard_path
from .reader import ShardSet

#: ``OUT_DIR/<split>/plan.json``: ``{"shards", "frames", "command"}``, written when a build starts.
PLAN = "plan.json"
_SHARD_FILE = re.compile(r"^shard-\d{5}\.h5$")



def verify_samples(root: str | os.PathLike, samples: list, progress=None) -> list[dict]:
    """Re-read every stored array of ``samples`` (manifest records) under ``root``.

    Checks that each shard opens, each array decodes, and that its shape and checksum match the
    record. Returns one dict per damaged sample: ``stem``, ``shard``, ``index``, ``problems``.
    """
    root = Path(root)
    damaged = []
    files: dict = {}
    try:
        for s in samples:
            problems = []
            try:
                if s["shard"] not in files:
                    path = shard_path(root, s["shard"])  # refuses paths leaving the split directory
                    files[s["shard"]] = h5py.File(path, "r")
                    check_hdf5_file(files[s["shard"]], path)
                g = files[s["shard"]][f"samples/{s['index']:05d}"]
            except ManifestError as exc:
                problems.append(f"refused: {exc}")
            except Exception as exc:
                problems.append(f"cannot open: {type(exc).__name__}: {exc}")
            else:
                for name, digest in sorted(s["checksums"].items()):
                    try:
                        arr = g[name][()]
                    except Exception as exc:
                        problems.append(f"{name}: cannot read ({type(exc).__name__}: {exc})")
                        continue
                    if name != "image_file" and list(arr.shape[:2]) != list(s["shape"]):
                        problems.append(f"{name}: shape {list(arr.shape)} != {s['shape']}")
                    elif checksum(arr) != digest:
                        problems.append(f"{name}: checksum mismatch")
            if problems:
                damaged.append({"stem": s["stem"], "shard": s["shard"], "index": s["index"],
                                "problems": problems})
            if progress is not None:
                progress(1)
    finally:
        for f in files.values():
            f.close()
    return damaged


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
    ds = ShardSet(out_dir, split)
    try:
        return len(ds), verify_samples(ds.root, ds.samples, progress)
    finally:
        ds.close()
