"""Fail a test instead of hanging the suite: :func:`deadline` raises :class:`TooLong` in the main
thread (``SIGALRM``) once its body has run ``seconds`` (a FIFO opened for reading, ``/dev/zero``
hashed, a walk that follows a symbolic-link loop)."""
from __future__ import annotations

import signal
from contextlib import contextmanager


class TooLong(Exception):
    """Not an OSError, so that no ``except OSError`` on the way swallows it (``os.walk`` hands an
    OSError to its ``onerror`` and goes on walking)."""


@contextmanager
def deadline(seconds: int):
    def on_alarm(signum, frame):
        raise TooLong(f"did not finish in {seconds} s (blocked on a FIFO, reading an endless file, "
                      "or following a symbolic-link loop?)")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
