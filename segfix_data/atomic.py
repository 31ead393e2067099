"""Atomic file writes: write under a temporary name beside the target, then ``os.replace``.

A reader never sees a half-written file, and a crash (even ``kill -9``) leaves at most a hidden
``.NAME.PID.XXXXXXXX.SUFFIX`` file, never a damaged ``NAME``.
"""
from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; publish it onto ``path`` when the block succeeds.

    The temporary name keeps ``path``'s suffix (so writers that infer the format from it, or
    append one when it is missing, behave) and is created by the writer with the usual
    permissions. On any exception it is removed and ``path`` is left as it was. Parent
    directories are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | os.PathLike, obj, *, indent: int = 1, sort_keys: bool = True) -> None:
    """Write ``obj`` as JSON (UTF-8, a final newline) to ``path`` atomically (:func:`atomic_path`),
    flushed to disk (``fsync``) before it is published: the one JSON writer of the project."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=indent, sort_keys=sort_keys)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
