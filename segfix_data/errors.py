"""The base class of every user mistake (no imports: every room and the CLI may use it).

An exception deriving from :class:`SegfixUserError` says "the input or the command line is wrong",
and its message names the file (or option) and the fix. The command line prints it as one line
and exits with status 2 (see ``cli/_errors.py``); any other exception that is not a known failure
of the run (a full disk, a diverged loss) is treated as a bug and shown with its traceback.
"""
from __future__ import annotations


class SegfixUserError(Exception):
    """A mistake in the command line or the input files; the message names the file and the fix."""


class InputError(SegfixUserError, ValueError):
    """A bad value in the input or the arguments (a ``ValueError`` too, so callers that catch
    ``ValueError`` keep working)."""
