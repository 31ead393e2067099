"""One error convention for every ``segfix`` and ``segfix-gt`` command.

Library code raises exceptions whose message names the file and the fix; :class:`SegfixGroup`
(the group class of both command-line programs) turns them into one line on stderr, by type:

==================================================  =========  ==============================
exception                                           exit       printed
==================================================  =========  ==============================
``ValueError`` and subclasses (``LayoutError``,     2          ``error: <message>``
``FrameError``, ...), ``FileNotFoundError``,                   (user error: fix the input)
``NotADirectoryError``, ``IsADirectoryError``,
``FileExistsError``, ``PermissionError``,
``ParamsMismatch``, :class:`UserError`
``BuildError``, :class:`RunFailed`, other           1          ``error: <message>``
``OSError`` (disk full, unreadable file),                      (the run failed)
``FloatingPointError`` (a diverged loss)
click's own errors (bad option, missing argument)   2          click's usage message
anything else                                       1          the traceback, then a line
                                                               saying it is a bug
==================================================  =========  ==============================

Commands therefore need no ``try``/``except`` of their own; a command may still exit with its
own status (``sys.exit``, ``ctx.exit``), which passes through untouched.
"""
from __future__ import annotations

import sys
import traceback

import click

#: Exit statuses: success, a failed run (or an internal error), a user error.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

BUG_REPORT = "internal error: this is a bug in segfix, not in your input; please report it with the traceback above"


class UserError(ValueError):
    """A mistake in the command line or the input files; the message names the file and the fix."""


class RunFailed(RuntimeError):
    """The input was accepted but the run could not complete (the message says what to do)."""


def _user_error_types() -> tuple[type, ...]:
    types: list[type] = [ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
                         FileExistsError, PermissionError, UnicodeDecodeError]
    try:  # the shard pipeline's own classes are RuntimeErrors
        from segfix_data.shards.pipeline import ParamsMismatch
        types.append(ParamsMismatch)
    except ImportError:  # pragma: no cover
        pass
    return tuple(types)


def _failed_run_types() -> tuple[type, ...]:
    # OSError: disk full, unreadable HDF5, ...; FloatingPointError: a diverged training run
    types: list[type] = [RunFailed, OSError, FloatingPointError]
    try:
        from segfix_data.shards.pipeline import BuildError
        types.append(BuildError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(types)


def _one_line(exc: BaseException) -> str:
    msg = str(exc).strip() or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename is not None and str(exc.filename) not in msg:
        msg = f"{exc.filename}: {msg}"
    return " ".join(msg.split())


def classify(exc: BaseException) -> int | None:
    """The exit status of an exception under this convention; None for an internal error."""
    if isinstance(exc, _user_error_types()):
        return EXIT_USAGE
    if isinstance(exc, _failed_run_types()):
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
