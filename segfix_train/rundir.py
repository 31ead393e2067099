"""Claiming a run directory: one trainer at a time, and a new run never mixes with an old one.

Without this, ``segfix train`` (no ``--resume``) into an existing ``--out`` overwrote some of the old
run's checkpoints and kept others (``predict --checkpoint RUN_DIR`` then picked the old run's newest),
and two trainers on one ``--out`` deleted each other's files. :func:`claim_run_dir`:

* locks ``RUN_DIR/.segfix-train.lock`` with ``fcntl.flock`` for as long as the trainer runs (the
  kernel drops the lock when the process dies, even by ``kill -9``, so a resume is never blocked by
  a dead trainer); a second trainer on the same directory is refused with :class:`RunDirError`;
* without ``resume``, refuses a directory that already holds files, unless ``overwrite``: then the
  files a trainer writes (checkpoints with their digests, logs, ``config.json``) are removed,
  under the lock, checkpoints first, so that a kill midway leaves a directory that is still refused
  rather than a mix of two runs. Files a trainer does not write are left alone.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import os
from typing import Callable, Iterator

from segfix_data.errors import InputError

LOCK_NAME = ".segfix-train.lock"
#: What a trainer writes at the top of RUN_DIR (checkpoints go under RUN_DIR/checkpoints);
#: ``best.*``: ``--keep-best`` (``checkpoint.save_best``).
RUN_FILES = ("train.jsonl", "val.jsonl", "config.json", "best.pt.sha256", "best.pt", "best.json")


class RunDirError(InputError):
    """The run directory is in use or holds another run (a user error: the message says what to do)."""


def _run_contents(run_dir: str) -> list[str]:
    """Paths in ``run_dir`` other than the lock file (the checkpoints directory's files listed one by one)."""
    out = []
    for name in sorted(os.listdir(run_dir)):
        p = os.path.join(run_dir, name)
        if name == LOCK_NAME:
            continue
        if name == "checkpoints" and os.path.isdir(p):
            out += [os.path.join(p, n) for n in sorted(os.listdir(p))]
        else:
            out.append(p)
    return out


def _clear_run(run_dir: str) -> list[str]:
    """Remove the files a trainer writes; returns them. Checkpoints (newest first) go before the logs."""
    ckpts = sorted(glob.glob(os.path.join(run_dir, "checkpoints", "ckpt_*")) +
                   glob.glob(os.path.join(run_dir, "checkpoints", ".ckpt_*")), reverse=True)
    removed = []
    for p in ckpts + [os.path.join(run_dir, n) for n in RUN_FILES]:
        with contextlib.suppress(FileNotFoundError):
            os.remove(p)
            removed.append(p)
    return removed


@contextlib.contextmanager
def claim_run_dir(run_dir: str, *, resume: bool, overwrite: bool = False, main: bool = True,
                  echo: Callable[[str], None] = print) -> Iterator[None]:
    """Hold ``run_dir`` for one trainer (see the module docstring); only the main rank claims it.

    Raises:
        RunDirError: another trainer holds the lock, or the directory holds files and neither
            ``resume`` nor ``overwrite`` is given.
    """
    if resume and overwrite:
        raise RunDirError("--resume continues the run in --out and --overwrite replaces it: give one")
    if not main:
        yield
        return
    created = not os.path.exists(run_dir)
    os.makedirs(run_dir, exist_ok=True)
    lock_path = os.path.join(run_dir, LOCK_NAME)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    failed = True
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise RunDirError(f"{run_dir}: another segfix train (pid {holder}) is running in this run "
                              f"directory (lock {lock_path}); wait for it to finish, or use another --out"
                              ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        if not resume:
            contents = _run_contents(run_dir)
            if contents and not overwrite:
                raise RunDirError(f"{run_dir}: not empty ({len(contents)} files of an earlier run, e.g. "
                                  f"{contents[-1]}); pass --resume to continue that run, --overwrite to "
                                  "replace it, or choose another --out")
            if contents:
                removed = _clear_run(run_dir)
                echo(f"--overwrite: removed {len(removed)} files of the earlier run in {run_dir}")
        yield
        failed = False
    finally:
        os.close(fd)  # releases the lock
        if failed and created and not _run_contents(run_dir):  # refused before writing anything:
            with contextlib.suppress(OSError):                 # leave no empty RUN_DIR behind
                os.remove(lock_path)
                os.rmdir(run_dir)
