"""Directory walks that follow symbolic links but visit each real directory once.

``os.walk(followlinks=True)`` and ``glob.glob(..., recursive=True)`` enter a directory again each
time a link leads to it: two links ``l1 -> .`` and ``l2 -> .`` in one directory make the walk
exponential in the path-length limit (a build that never ends). :func:`walk_once` keys each
directory by ``(st_dev, st_ino)`` and enters it only the first time, so a walk costs one visit per
real directory whatever the links; :func:`glob_once` is a recursive glob on top of it.
"""
from __future__ import annotations

import fnmatch
import glob
import os
from pathlib import Path
from typing import Callable, Iterator


def walk_once(top: str | os.PathLike, onerror: Callable[[OSError], None] | None = None
              ) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk(top, followlinks=True)`` (top-down, names sorted) entering each real directory once.

    Yields ``(dirpath, dirnames, filenames)`` like :func:`os.walk`; a directory reached again through
    a link (or a loop) is not yielded again. ``onerror`` receives the OSError of a directory that
    cannot be listed, as with :func:`os.walk`.
    """
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(top, onerror=onerror, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            dirnames[:] = []  # already walked through another path: do not enter it again
            continue
        seen.add(key)
        dirnames.sort()
        filenames.sort()
        yield dirpath, dirnames, filenames


def _matches(parts: list[str], segs: list[str]) -> bool:
    """Whether path segments ``segs`` match glob parts (``**`` = any number of segments); like
    :mod:`glob`, wildcards do not match names starting with a dot."""
    if not parts:
        return not segs
    head = parts[0]
    if head == "**":
        return any(_matches(parts[1:], segs[i:]) for i in range(len(segs) + 1)
                   if not any(s.startswith(".") for s in segs[:i]))
    if not segs:
        return False
    if segs[0].startswith(".") and not head.startswith(".") and glob.has_magic(head):
        return False
    return fnmatch.fnmatchcase(segs[0], head) and _matches(parts[1:], segs[1:])


def glob_once(pattern: str | os.PathLike) -> list[str]:
    """``glob.glob(pattern, recursive=True)`` (files and directories, unsorted) whose ``**`` walks each
    real directory once (:func:`walk_once`); patterns without ``**`` go to :func:`glob.glob`."""
    pattern = str(pattern)
    parts = Path(pattern).parts
    if "**" not in parts:
        return glob.glob(pattern)
    n = next(i for i, p in enumerate(parts) if glob.has_magic(p))
    base = Path(*parts[:n]) if n else Path(".")
    rest = list(parts[n:])
    if not base.is_dir():
        return []
    out = []
    for dirpath, dirnames, filenames in walk_once(base):
        rel = Path(dirpath).relative_to(base).parts
        for name in dirnames + filenames:
            if _matches(rest, [*rel, name]):
                p = os.path.join(dirpath, name)
                out.append(os.path.normpath(p) if not n else p)  # "x/y.png" as glob gives, not "./x/y.png"
    return out
