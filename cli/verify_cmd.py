"""``segfix-gt verify OUT_DIR``: re-read every sample, check shapes and checksums."""
from __future__ import annotations

import sys

import click

from cli._errors import UserError
from cli._progress import progressbar

from segfix_data import shards as _shards
from segfix_data.errors import SegfixUserError


@click.command("verify")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--split", "splits", multiple=True, help="Split(s) to verify (default: every split present).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def verify_cmd(out_dir, splits, quiet):
    """Check every stored array of OUT_DIR against its manifest; exit 1 if any sample is damaged or
    any split's build is incomplete (interrupted or stopped)."""
    splits = splits or _shards.list_splits(out_dir)
    if not splits:
        raise UserError(f"{out_dir}: no <split>/manifest.json or build.json "
                        "(is it a `segfix-gt build` OUT_DIR?)")
    bad = 0
    for split in splits:
        status = _shards.split_status(out_dir, split)
        if not status["complete"] and status["shards_planned"] is not None:
            click.echo(_shards.incomplete_message(out_dir, split, status))
            bad += 1
            continue
        try:
            n = len(_shards.ShardSet(out_dir, split, open_first=False))
        except (OSError, SegfixUserError) as exc:
            click.echo(f"{split}: cannot read the manifest: {exc}", err=True)
            bad += 1
            continue
        with progressbar(length=n, label=f"{split:>10}", file=sys.stderr,
                               hidden=quiet) as bar:
            total, damaged = _shards.verify_split(out_dir, split, progress=bar.update)
        for d in damaged:
            click.echo(f"damaged: {split}/{d['shard']} sample {d['index']} ({d['stem']}): "
                       + "; ".join(d["problems"]))
        click.echo(f"{split}: {total} samples, {len(damaged)} damaged")
        bad += len(damaged)
    if bad:
        click.echo("Rerun the same `segfix-gt build` command: it completes interrupted splits and "
                   "rebuilds damaged shards.", err=True)
    sys.exit(1 if bad else 0)
