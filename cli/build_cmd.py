"""``segfix-gt build DATASET_DIR OUT_DIR``: a dataset's label maps to HDF5 shards of targets."""
from __future__ import annotations

import os
import shlex
import sys
import time

import click

from cli._errors import EXIT_OK, EXIT_PARTIAL
from cli._options import (class_map_option, class_names_option, image_glob_option, img_suffix_option,
                          label_glob_option, max_image_pixels_option, reduce_zero_label_option,
                          seg_suffix_option)
from cli._progress import progressbar
from cli._text import plural

from segfix_data import shards as _shards
from segfix_data import datasets as _datasets

DEFAULT_SPLITS = _datasets.DEFAULT_SPLITS


class _Progress:
    """click progress bar per split, created on the first report (when the total is known)."""

    def __init__(self, split: str, quiet: bool) -> None:
        self.split, self.quiet, self.bar, self.t0, self.done = split, quiet, None, time.perf_counter(), 0
        self.total_kept = 0

    def __call__(self, n: int, total: int) -> None:
        if self.quiet:
            return
        if self.bar is None:
            self.bar = progressbar(length=total, label=f"{self.split:>10}", show_eta=False,
                                         show_pos=True, item_show_func=lambda s: s, file=sys.stderr)
            self.bar.__enter__()
        if n > 1:  # the frames kept from a previous run, reported at once: not part of the rate
            self.bar.update(n, "resuming")
            self.total_kept = n
            return
        self.done += n
        total -= self.total_kept
        rate = self.done / max(time.perf_counter() - self.t0, 1e-9)
        eta = int((total - self.done) / max(rate, 1e-9))
        self.bar.update(n, f"{rate:.1f} frames/s  ETA {eta // 3600}:{eta // 60 % 60:02d}:{eta % 60:02d}")

    def __enter__(self) -> "_Progress":
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@click.command("build")
@click.argument("dataset_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--layout", type=click.Choice(_datasets.LAYOUTS), default="cityscapes", show_default=True)
@click.option("--split", "splits", multiple=True,
              help="Split to build (repeatable). Default: those of train+val (cityscapes, voc, mmseg), "
                   "training+validation (ade20k) that exist; train (gta5, folder: all frames). "
                   "ADE20K accepts train/val for training/validation. voc, mmseg: may be the path of "
                   "a split list .txt (e.g. SBD's train_aug.txt); the output split is named by its stem.")
@click.option("--variant", type=click.Choice(list(_shards.VARIANT_CHOICES)), default="semantic", show_default=True)
@click.option("--preset", type=click.Choice(["paper", "openseg"]), default="paper", show_default=True,
              help="openseg: the authors' generator bit for bit (also stores their depth/dir_deg).")
@click.option("--gamma", type=float, help="Boundary width: boundary = distance <= gamma (pixels; preset: 5).")
@click.option("--ksize", type=int, help="Direction filter size, odd (preset: paper 9, openseg 5).")
@click.option("--directions", "num_directions", type=click.Choice(["4", "8", "16"]), help="Direction bins (default 8).")
@click.option("--border-is-boundary/--no-border-is-boundary", default=None,
              help="Count the image border as a boundary (default: no).")
@click.option("--jobs", "-j", type=click.IntRange(1), default=1, show_default=True, help="Worker processes (loky).")
@click.option("--backend", type=click.Choice(_shards.BACKENDS), default="loky", show_default=True)
@click.option("--scheduler", help="Dask scheduler address tcp://HOST:PORT (with --backend dask).")
@click.option("--on-error", type=click.Choice(_shards.ON_ERROR), default="fail", show_default=True,
              help="fail: stop at the first bad frame; skip: record it in the manifest and go on.")
@click.option("--images/--no-images", default=True, show_default=True,
              help="Store the images (lossless). --no-images reads no image file (sizes from the labels).")
@click.option("--image-format", type=click.Choice(_shards.IMAGE_FORMATS), default="tiles", show_default=True,
              help="tiles: uint8 tiles (fast crops); file: the source image file's bytes (fast build).")
@click.option("--tile", type=click.IntRange(16), default=128, show_default=True, help="Chunk side (pixels).")
@click.option("--codec", type=click.Choice(["lz4", "zlib"]), default="lz4", show_default=True,
              help="Codec of the target tiles. lz4: Blosc-LZ4 (hdf5plugin; the fastest build and "
                   "reads); zlib: deflate at --level (~0.65x the bytes, any HDF5 reads it).")
@click.option("--level", type=click.IntRange(1, 9), default=1, show_default=True,
              help="zlib level of the target tiles with --codec zlib (1 reads fastest; 4-6 ~25% smaller).")
@click.option("--image-level", type=click.IntRange(0, 9), default=0, show_default=True,
              help="zlib level of image tiles. 0: raw tiles, ~6 MiB per 2048x1024 frame, the fastest "
                   "build and training crops; 1: about half the bytes, crops ~3x slower to read.")
@click.option("--shard-size", type=click.IntRange(1), default=32, show_default=True, help="Frames per shard file.")
@click.option("--overwrite", is_flag=True, help="Replace shards built with other parameters in OUT_DIR.")
@class_map_option
@image_glob_option
@label_glob_option
@click.option("--allow-unpaired", is_flag=True,
              help="Exit 0 even when files without their pair or unreadable directories were left out "
                   "(they are listed in the summary and the manifest either way).")
@img_suffix_option
@seg_suffix_option
@reduce_zero_label_option
@class_names_option
@click.option("--direction-band", type=float, default=None,
              help="Also store direction targets where gamma < distance <= this many pixels, for "
                   "`segfix train --direction-pixels predicted|both` (paper preset; 0: off) [3 x gamma].")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--check-content", is_flag=True,
              help="On resume, also hash every source file (BLAKE2b) and rebuild frames whose bytes "
                   "changed; the default compares size and mtime only, which misses an edit that keeps "
                   "both (touch -r).")
@max_image_pixels_option
def build_cmd(dataset_dir, out_dir, layout, splits, variant, preset, gamma, ksize, num_directions,
              border_is_boundary, jobs, backend, scheduler, on_error, images, image_format, tile,
              codec, level, image_level, shard_size, overwrite, class_map, image_glob, label_glob,
              allow_unpaired, img_suffix, seg_suffix, reduce_zero_label, class_names_file, direction_band, quiet,
              max_image_pixels, check_content):
    """Build targets shards from DATASET_DIR into OUT_DIR/<split>/.

    Rerunning the same command resumes an interrupted build, rebuilds frames whose source files
    changed and retries frames that failed. Exit status: 0 built, 1 stopped on a bad frame
    (--on-error fail) or a failed write, 2 setup error (layout, parameters, another build writing
    the split), 3 built with skipped frames, or with unpaired files or unreadable directories left
    out (unless --allow-unpaired).
    """
    from segfix_data.datasets.labels import read_class_names

    class_names = read_class_names(class_names_file) if class_names_file else None
    config = _shards.BuildConfig(
        layout=layout, variant=variant, preset=preset, gamma=gamma, ksize=ksize, direction_band=direction_band,
        num_directions=int(num_directions) if num_directions else None,
        border_is_boundary=border_is_boundary, images=images, image_format=image_format,
        tile=tile, codec=codec, level=level, image_level=image_level, shard_size=shard_size,
        class_map=class_map, image_glob=image_glob, label_glob=label_glob,
        img_suffix=img_suffix, seg_suffix=seg_suffix, reduce_zero_label=reduce_zero_label,
        class_names=class_names, max_image_pixels=max_image_pixels)
    if splits:
        splits = [_datasets.resolve_split(layout, dataset_dir, s) for s in splits]
    else:
        splits = _datasets.splits_present(layout, dataset_dir)
        missing = [s for s in DEFAULT_SPLITS[layout] if s not in splits]
        click.echo(f"building split{'s' if len(splits) > 1 else ''} {', '.join(splits)}"
                   + (f" ({', '.join(missing)} not found)" if missing else ""), err=True)
    results = []
    for split in splits:
        with _Progress(split, quiet) as bar:
            results.append(_shards.build_split(dataset_dir, out_dir, split, config, jobs=jobs,
                                              backend=backend, scheduler=scheduler, on_error=on_error,
                                              overwrite=overwrite, progress=bar, check_content=check_content,
                                              command=_resume_command(dataset_dir, out_dir)))
    _summary(results)
    if any(r.failed for r in results):
        sys.exit(EXIT_PARTIAL)
    if not allow_unpaired and any(r.unpaired for r in results):
        click.echo("error: files without their pair or unreadable directories were left out (listed "
                   "above and in manifest.json under 'unpaired'); fix them and rerun, or pass "
                   "--allow-unpaired to accept", err=True)
        sys.exit(EXIT_PARTIAL)
    sys.exit(EXIT_OK)


def _resume_command(dataset_dir, out_dir) -> str:
    """The command line that resumes this build (recorded for `segfix-gt verify`)."""
    argv = sys.argv
    if len(argv) > 1 and os.path.basename(argv[0]).startswith("segfix-gt") and argv[1] == "build":
        return shlex.join(["segfix-gt"] + argv[1:])
    return f"the same `segfix-gt build {shlex.quote(str(dataset_dir))} {shlex.quote(str(out_dir))} ...` command"


def _summary(results) -> None:
    for r in results:
        redone = ""
        if r.changed or r.retried:
            redone = f" (rebuilt: {r.changed} with changed sources, {r.retried} failed before)"
        click.echo(f"{r.split}: {plural(r.frames, 'frame')}, {r.built} built{redone}, {r.kept} kept from a previous run, "
                   f"{len(r.failed)} failed, {len(r.unpaired)} unpaired or unreadable, "
                   f"{r.bytes / 2**20:.1f} MiB, {r.seconds:.1f} s")
        for f in r.failed[:20]:
            click.echo(f"  failed: {f['error']}")
        for u in r.unpaired[:20]:
            click.echo(f"  unpaired: {u['path']}: {u['problem']}")
        more = max(0, len(r.failed) - 20) + max(0, len(r.unpaired) - 20)
        if more:
            click.echo(f"  ... {more} more in {r.split}/manifest.json")
