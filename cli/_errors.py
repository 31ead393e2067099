"""One error convention for every ``segfix`` and ``segfix-gt`` command.

Library code raises exceptions whose message names the file and the fix; :class:`SegfixGroup`
(the group class of both command-line programs) turns them into one line on stderr, by type.
A user mistake is an exception deriving from :class:`segfix_data.errors.SegfixUserError` (the
library's ``InputError``, ``LayoutError``, ``FrameError``, ``ImageTooLarge``, ``ManifestError``,
``ShardReadError``, ``ExportError``, ``CheckpointError``, ``PretrainedError``, ``RunDirError``,
``ParamsMismatch``, ``SplitBusy`` and this module's :class:`UserError`); a full disk
(``segfix_data.storage.StorageFull``, an ``OSError``) is a failed run; a plain ``ValueError`` (from numpy, torch or our own code) is not one: it is
a bug, shown with its traceback.

Exit statuses (the README's table):

==================================================  =========  ==============================
exception                                           exit       printed
==================================================  =========  ==============================
(success)                                           0
``SegfixUserError`` and subclasses,                 2          ``error: <message>``
``FileNotFoundError``, ``NotADirectoryError``,                 (user error: fix the input)
``IsADirectoryError``, ``FileExistsError``,
``PermissionError``
click's own errors (bad option, missing argument)   2          click's usage message
``BuildError``, other ``OSError`` (disk full,       1          ``error: <message>``
unreadable file), ``FloatingPointError`` (a                    (the run failed)
diverged loss); ``segfix-gt verify`` found damage
anything else (``ValueError``, ``KeyError``, ...)   1          the traceback, then a line
                                                               saying it is a bug
the run finished but left work out:                 3          what was left out
``segfix-gt build`` skipped frames or unpaired
files, ``segfix-gt verify`` found frames the
build skipped, ``segfix predict --on-error skip``
skipped images
==================================================  =========  ==============================

Commands therefore need no ``try``/``except`` of their own; a command may still exit with its
own status (``sys.exit``, ``ctx.exit``), which passes through untouched: one of the ``EXIT_*``
statuses below, defined here only.
"""
from __future__ import annotations

import sys
import traceback

import click

from segfix_data.errors import InputError, SegfixUserError

#: Exit statuses: success, a failed run (or an internal error), a user error, a finished run that
#: left work out (frames, files or images; the table above).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3

BUG_REPORT = "internal error: this is a bug in segfix, not in your input; please report it with the traceback above"


class UserError(InputError):
    """A mistake in the command line or the input files; the message names the file and the fix."""


#: user errors: the input or the command line is wrong (the OSErrors name a path the user gave)
USER_ERRORS = (SegfixUserError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
               FileExistsError, PermissionError)


def _failed_runs() -> tuple[type, ...]:
    """The run failed on accepted input: a build stopped on a bad frame, OSError (disk full,
    unreadable HDF5, ...), a diverged loss. (The shard package is imported only when needed.)"""
    from segfix_data.shards.pipeline import BuildError

    return (BuildError, OSError, FloatingPointError)


def _one_line(exc: BaseException) -> str:
    msg = str(exc).strip() or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename is not None and str(exc.filename) not in msg:
        msg = f"{exc.filename}: {msg}"
    return " ".join(msg.split())


def classify(exc: BaseException) -> int | None:
    """The exit status of an exception under this convention; None for an internal error."""
    if isinstance(exc, USER_ERRORS):
        return EXIT_USAGE
    if isinstance(exc, _failed_runs()):
        return EXIT_FAILED
    return None


def report(exc: BaseException) -> int:
    """Print ``exc`` as the convention says (one line, or a traceback for a bug); its status."""
    status = classify(exc)
    if status is None:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        click.echo(BUG_REPORT, err=True)
        return EXIT_FAILED
    click.echo(f"error: {_one_line(exc)}", err=True)
    return status


class SegfixGroup(click.Group):
    """A click group whose subcommands' exceptions follow the module's convention."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort,
                KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - the one place exceptions become exit statuses
            ctx.exit(report(exc))
