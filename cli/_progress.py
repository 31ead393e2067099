"""The one progress bar of the CLIs: on stderr, and hidden when stderr is not a terminal (click
otherwise prints the bare label into logs and pipes)."""
from __future__ import annotations

import sys

import click


def progressbar(*args, hidden: bool = False, **kwargs):
    """``click.progressbar`` writing to stderr, hidden when ``hidden`` or stderr is no TTY."""
    stream = kwargs.pop("file", None) or sys.stderr
    hidden = hidden or not stream.isatty()
    return click.progressbar(*args, file=stream, hidden=hidden, **kwargs)
