"""Atomic file writes: write under a temporary name beside the target, then ``os.replace``.

A reader never sees a half-written file, and a crash (even ``kill -9``) leaves at most a hidden
``.NAME.PID.XXXXXXXX.SUFFIX`` file, never a damaged ``NAME``; :func:`sweep_temps` removes those of
dead writers (every writer of a folder calls it when it starts).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

#: ``atomic_path``'s temporary name: ``.NAME.PID.XXXXXXXX.SUFFIX`` (SUFFIX: NAME's, maybe empty).
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}(?P<suffix>\.[^.]*)?$")


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


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (ours counts)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process (or no such PID at all)
        return False
    except PermissionError:  # another user's
        return True
    return pid > 0


def sweep_temps(directory: str | os.PathLike, names: Iterable[str] | None = None, *,
                suffixes: Iterable[str] | None = None, only_dead: bool = True) -> list[Path]:
    """Remove the temporary files :func:`atomic_path` left in ``directory`` (not its subfolders)
    when a writer was killed; returns them.

    Args:
        names: only the temporary files of these target names (``best.pt``); None: any.
        suffixes: only those of targets with these suffixes (``.mat``); None: any.
        only_dead: keep the files of writers still running (the PID in the name is alive), so that
            a sweep never takes a file from under another process writing into the same folder;
            False where the caller holds the folder alone (a locked run directory).
    """
    names = None if names is None else set(names)
    suffixes = None if suffixes is None else set(suffixes)
    removed = []
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for entry in entries:
        m = _TEMP.match(entry.name)
        if m is None or not entry.is_file(follow_symlinks=False):
            continue
        name, suffix = m["name"], m["suffix"] or ""
        if Path(name).suffix != suffix or (names is not None and name not in names) \
                or (suffixes is not None and suffix not in suffixes) or (only_dead and _alive(int(m["pid"]))):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.remove(entry.path)
            removed.append(Path(entry.path))
    return removed


def atomic_write_json(path: str | os.PathLike, obj, *, indent: int = 1, sort_keys: bool = True) -> None:
    """Write ``obj`` as JSON (UTF-8, a final newline) to ``path`` atomically (:func:`atomic_path`),
    flushed to disk (``fsync``) before it is published: the one JSON writer of the project."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=indent, sort_keys=sort_keys)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
