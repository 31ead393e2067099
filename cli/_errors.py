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
Ctrl-C (``KeyboardInterrupt``)                      130        ``interrupted; ...`` and the
                                                               command that resumes the run
the reader of the output went away (``... | head``)  141        nothing
==================================================  =========  ==============================

A Ctrl-C prints one line, never a traceback: the command line that continues the run where that
means something (:data:`RESUME`: ``build`` and ``predict`` keep what they finished, ``train``
continues from its last checkpoint with ``--resume``, ``refine`` publishes nothing until it is
done), and exits 130 as shells report a SIGINT. A second Ctrl-C while the program exits (joining
worker threads) ends it at once with 130, without Python's ``Exception ignored`` report.

Commands therefore need no ``try``/``except`` of their own; a command may still exit with its
own status (``sys.exit``, ``ctx.exit``), which passes through untouched: one of the ``EXIT_*``
statuses below, defined here only.
"""
from __future__ import annotations

import os
import shlex
import signal
import sys
import traceback

import click

from segfix_data.errors import InputError, SegfixUserError

#: Exit statuses: success, a failed run (or an internal error), a user error, a finished run that
#: left work out (frames, files or images; the table above).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3
#: Exit status of a run stopped by Ctrl-C: 128 + SIGINT, what a shell reports for it.
EXIT_INTERRUPTED = 130
#: Exit status when the standard output's reader went away (``segfix-gt inspect ... | head``):
#: 128 + SIGPIPE, as a program killed by the signal reports it; nothing is printed.
EXIT_BROKEN_PIPE = 141

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


#: How a subcommand stopped by Ctrl-C is continued: ``(options added, options dropped, what is kept)``;
#: a command not listed is simply run again.
RESUME = {
    "build": ((), (), "the frames already built are kept"),
    "predict": ((), ("--overwrite",), "the images already predicted are kept"),
    "train": (("--resume",), ("--overwrite", "--no-resume"), "it continues from the last checkpoint saved, if any"),
    "refine": ((), (), "nothing was written: OUT_DIR is filled only when every file is refined"),
}


def resume_line(prog: str, argv: list[str]) -> str:
    """The line printed on Ctrl-C: ``interrupted; ...`` with the command line that continues the
    run (``prog`` and its arguments ``argv``, the subcommand first) as :data:`RESUME` says."""
    if not argv or argv[0] not in RESUME:
        return "interrupted"
    add, drop, kept = RESUME[argv[0]]
    args = [a for a in argv if a not in drop] + [a for a in add if a not in argv]
    return f"interrupted; run `{shlex.join([*shlex.split(prog), *args])}` to resume ({kept})"


def _exit_at_once_on_interrupt() -> None:
    """From now on a Ctrl-C ends the process at once with :data:`EXIT_INTERRUPTED` (after
    flushing the output): while the interpreter shuts down, a KeyboardInterrupt would only
    interrupt its wait for worker threads and print an ``Exception ignored`` traceback."""
    def handler(signum, frame):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(EXIT_INTERRUPTED)

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: leave the handler as it is
        pass


def _stdout_gone() -> None:
    """Point the standard output at /dev/null, so that nothing more (the interpreter's last flush
    included) fails on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file behind sys.stdout (a test's buffer)
        pass


class SegfixGroup(click.Group):
    """A click group whose subcommands' exceptions follow the module's convention, Ctrl-C included."""

    def main(self, args=None, *rest, **kwargs):
        """click's ``main``; remembers the arguments for the Ctrl-C line. Run from the command line
        (``args`` None), it also makes a Ctrl-C during the exit end the process at once."""
        self._argv = list(sys.argv[1:] if args is None else args)
        try:
            return super().main(args, *rest, **kwargs)
        finally:
            if args is None:
                _exit_at_once_on_interrupt()

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            if sys.stderr.isatty():  # end a progress bar's line first
                click.echo("", err=True)
            click.echo(resume_line(ctx.find_root().info_name or self.name or "",
                                   getattr(self, "_argv", ctx.args)), err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except BrokenPipeError as exc:
            if exc.filename is not None:  # a named file or pipe: a failed run like any OSError
                ctx.exit(report(exc))
            _stdout_gone()  # the reader of the output went away (| head): stop quietly
            ctx.exit(EXIT_BROKEN_PIPE)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort,
                SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - the one place exceptions become exit statuses
            ctx.exit(report(exc))
