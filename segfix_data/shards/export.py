"""Export built shards to the authors' ``.mat`` files (``segfix-gt export --format openseg-mat``).

For each sample of ``OUT_DIR/<split>`` built with ``--preset openseg``, the stored
``<variant>/openseg_depth`` and ``<variant>/openseg_dir_deg`` arrays (the authors' encoding,
bit-compatible with their generator; ``docs/targets.md`` section 6) are written to
``DEST/<split>/<variant>/<image stem>.mat`` with keys ``depth``, ``dir_deg`` and ``deg_reduce``
(= 2), e.g. ``DEST/val/semantic/frankfurt_000000_000294_leftImg8bit.mat`` or
``DEST/validation/semantic/ADE_val_00000001.mat``.

Each file is published atomically (``segfix_data.atomic``); the hidden temporary file a killed
export leaves in a folder is removed by the next export into it.

Shards built with the ``paper`` preset are refused: their distance and gradient are not the
authors' (paper kernel size 9, no small-class skip, exact bins), and an export would pass them off
as the authors' targets.
"""
from __future__ import annotations

from pathlib import Path

from segfix_data.atomic import sweep_temps
from segfix_data.errors import InputError
from segfix_data.interop import save_openseg_targets_mat

from .paths import output_path

__all__ = ["ExportError", "check_openseg_exportable", "export_openseg_mat"]


class ExportError(InputError):
    """The shards cannot be exported as asked (wrong preset, variant not built...)."""


def check_openseg_exportable(ds, variant: str) -> None:
    """Raise :class:`ExportError` unless ShardSet ``ds`` was built with the openseg preset and
    ``variant``."""
    if variant not in ("semantic", "instance"):
        raise ExportError(f"variant must be 'semantic' or 'instance', got {variant!r}")
    root = ds.root
    preset = ds.params.get("preset")
    if preset != "openseg":
        raise ExportError(
            f"{root}: built with --preset {preset}; the authors' .mat files need the authors' targets. "
            "Rebuild with `segfix-gt build DATASET_DIR OUT_DIR --preset openseg` (into a new OUT_DIR "
            "or with --overwrite)")
    variants = ds.params.get("variants") or [ds.params.get("variant")]
    if variant not in variants:
        raise ExportError(f"{root}: variant {variant!r} was not built (built: {', '.join(map(str, variants))}); "
                          f"rebuild with --variant {variant} or --variant both")


def export_openseg_mat(shard_set, dest, variant: str = "semantic", progress=None) -> list[Path]:
    """Write one authors' ``.mat`` per sample of ``shard_set``.

    Args:
        shard_set: a :class:`segfix_data.shards.ShardSet` of one split built with ``--preset openseg``.
        dest: output root; files go to ``dest/<split>/<variant>/<stem>.mat``.
        variant: "semantic" or "instance".
        progress: optional callable ``progress(1)`` after each file.

    Returns:
        The paths written, in sample order.

    Raises:
        ExportError: the split was not built with ``--preset openseg`` or without ``variant``.
    """
    check_openseg_exportable(shard_set, variant)
    out_dir = Path(dest) / shard_set.root.name / variant
    sweep_temps(out_dir, suffixes=(".mat",))  # what a killed export left (writers still running keep theirs)
    fields = (f"{variant}/openseg_depth", f"{variant}/openseg_dir_deg")
    written = []
    for i, sample in enumerate(shard_set.samples):
        arrays = shard_set.read(i, fields=fields)
        path = output_path(out_dir, f"{sample['stem']}.mat")  # confined to DEST
        save_openseg_targets_mat(path, arrays[fields[0]], arrays[fields[1]])
        written.append(path)
        if progress is not None:
            progress(1)
    return written
