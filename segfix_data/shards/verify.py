"""Verification of built shards: re-read every stored array and compare it with its manifest record."""
from __future__ import annotations

import os
from pathlib import Path

import h5py

from .codec import checksum
from .store import MANIFEST, ShardSet



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
                    files[s["shard"]] = h5py.File(root / s["shard"], "r")
                g = files[s["shard"]][f"samples/{s['index']:05d}"]
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


def list_splits(out_dir: str | os.PathLike) -> list[str]:
    """Names of the splits under ``out_dir`` that have a manifest, sorted."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise FileNotFoundError(f"{out_dir}: no such directory (the OUT_DIR of `segfix-gt build`)")
    return sorted(p.name for p in out_dir.iterdir() if (p / MANIFEST).is_file())


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
