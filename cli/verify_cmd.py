"""``segfix-gt verify OUT_DIR``: re-read every sample, check shapes and checksums."""
from __future__ import annotations

import sys

import click

from cli._errors import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, UserError
from cli._progress import progressbar
from cli._text import plural

from segfix_data import shards as _shards
from segfix_data.errors import SegfixUserError


@click.command("verify")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--split", "splits", multiple=True, help="Split(s) to verify (default: every split present).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def verify_cmd(out_dir, splits, quiet):
    """Check every stored array of OUT_DIR against its manifest; exit 1 if any sample is damaged or
    any split's build is incomplete (interrupted or stopped), else 3 (as build) if a split lacks
    frames that its build skipped (--on-error skip)."""
    splits = splits or _shards.list_splits(out_dir)
    if not splits:
        raise UserError(f"{out_dir}: no <split>/manifest.json or build.json "
                        "(is it a `segfix-gt build` OUT_DIR?)")
    bad, skipped = 0, 0
    for split in splits:
        status = _shards.split_status(out_dir, split)
        if not status["complete"] and status["shards_planned"] is not None:
            click.echo(_shards.incomplete_message(out_dir, split, status))
            bad += 1
            continue
        try:
            ds = _shards.ShardSet(out_dir, split, open_first=False)  # shards are verify_split's to open
            n = len(ds)
        except (OSError, SegfixUserError) as exc:
            click.echo(f"{split}: cannot read the manifest: {exc}", err=True)
            bad += 1
            continue
        failed = ds.manifest.get("failed") or []
        with progressbar(length=n, label=f"{split:>10}", file=sys.stderr,
                               hidden=quiet) as bar:
            total, damaged = _shards.verify_split(out_dir, split, progress=bar.update)
        for d in damaged:
            click.echo(f"damaged: {split}/{d['shard']} sample {d['index']} ({d['stem']}): "
                       + "; ".join(d["problems"]))
        for f in failed[:20]:
            click.echo(f"skipped: {split}/{f['stem']}: {f['error']}")
        if len(failed) > 20:
            click.echo(f"... and {len(failed) - 20} more skipped frames (manifest.json 'failed')")
        click.echo(f"{split}: {plural(total, 'sample')}, {len(damaged)} damaged"
                   + (f", {plural(len(failed), 'frame')} skipped by the build (--on-error skip): not in the shards"
                      if failed else ""))
        bad += len(damaged)
        skipped += len(failed)
    if bad or skipped:
        click.echo("Rerun the same `segfix-gt build` command: it completes interrupted splits, "
                   "rebuilds damaged shards and retries skipped frames (fix their files first).", err=True)
    sys.exit(EXIT_FAILED if bad else EXIT_PARTIAL if skipped else EXIT_OK)
