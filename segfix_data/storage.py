"""Naming a failed write: disk full, quota, or the file-size limit (``ulimit -f``), in one line.

Python ignores ``SIGXFSZ``, so a write past the file-size limit fails with ``EFBIG`` instead of
killing the process; a full disk gives ``ENOSPC`` (``EDQUOT`` over a quota). Libraries do not always
keep the errno: HDF5 puts it in its text (``errno = 28``), torch's zip writer says only ``file write
failed``. :func:`storage_problem` recognises all of these; :func:`storage_message` is the line to print.
"""
from __future__ import annotations

import errno
import os
import re

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_TEXT_NO_SPACE = re.compile(r"no space left on device|disk quota exceeded|errno = (28|122)\b", re.I)
_TEXT_TOO_BIG = re.compile(r"file too large|errno = 27\b", re.I)
_TEXT_WRITE_FAILED = re.compile(r"file write failed|failed writing file", re.I)


def storage_problem(exc: BaseException) -> str | None:
    """``"disk full"``, ``"file too large"``, ``"write failed"`` (a library that dropped the errno),
    or None when ``exc`` is none of these."""
    err = getattr(exc, "errno", None)
    text = str(exc)
    if err in _NO_SPACE or _TEXT_NO_SPACE.search(text):
        return "disk full"
    if err == errno.EFBIG or _TEXT_TOO_BIG.search(text):
        return "file too large"
    if _TEXT_WRITE_FAILED.search(text):
        return "write failed"
    return None


def storage_message(path: str | os.PathLike, problem: str, what: str, resume: str) -> str:
    """One line: ``PATH: cannot write[ WHAT]: <why>; <what to do>, then RESUME``."""
    why = {"disk full": "disk full (no space left on the device, or quota exceeded)",
           "file too large": "the file reached the file-size limit (ulimit -f)",
           "write failed": "the write failed (disk full, quota, or the file-size limit, ulimit -f)"}[problem]
    fix = {"disk full": "free space on that disk (or write elsewhere)",
           "file too large": "raise the limit (ulimit -f unlimited) or write elsewhere",
           "write failed": "free space or raise the limit (ulimit -f unlimited)"}[problem]
    return f"{path}: cannot write{' ' + what if what else ''}: {why}; {fix}, then {resume}"


class StorageFull(OSError):
    """A write failed for want of space or file size; ``str()`` is the one-line message."""

    def __init__(self, path, problem: str, what: str, resume: str) -> None:
        err = {"disk full": errno.ENOSPC, "file too large": errno.EFBIG}.get(problem, errno.EIO)
        super().__init__(err, storage_message(path, problem, what, resume), str(path))

    def __str__(self) -> str:
        return self.strerror
