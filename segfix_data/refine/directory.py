"""Refine a directory of predictions: offset sources, frame matching, label-map and instance files.

``segfix refine PRED_DIR OUT_DIR --offsets SOURCE`` is :func:`refine_directory`. SOURCE is one of

* a ``segfix predict`` directory: one ``<stem>.npz`` per image (:mod:`segfix_data.refine.offsets`);
* a directory of the authors' offset ``.mat`` files (key ``mat``, H x W x 2 ``(dy, dx)`` in
  {-1, 0, 1}): a non-zero offset is a boundary pixel, its direction the ``m = 8`` bin of that offset;
* a shard directory from ``segfix-gt build`` (``<split>/manifest.json``): the stored ground-truth
  boundary and direction, the oracle of the paper's Table 1, read by
  :class:`segfix_data.shards.ShardOffsets` (the shard package owns the format; the CLI opens it and
  passes it in, so this module does not import the shards).

Predictions are matched to offsets by frame key (:func:`segfix_data.datasets.io.frame_key`): the
Cityscapes ``city_seq_frame`` (``aachen_000000_000019_leftImg8bit.png`` meets
``aachen_000000_000019_gtFine_labelIds`` offsets), the name without the layout's suffixes
(``suffixes``: ``s0_rgb.png`` meets ``s0.npz``), or else the file stem. Each prediction file gives one output file with the same relative path, name
and format (PNG mode and palette kept; ``.npy`` kept). Cityscapes instance results (a ``.txt`` with
lines ``relative/mask.png classId score`` next to the mask PNGs) are refined mask by mask; the
``.txt`` is copied unchanged, so class ids and scores are untouched.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from segfix_data.atomic import atomic_path
from segfix_data.datasets.pixels import check_pixels
from segfix_data.targets.direction import DIRECTION_IGNORE, bin_offsets
from segfix_data.datasets.instance_list import read_instance_list
from segfix_data.datasets.io import frame_key
from segfix_data.refine.offsets import read_offsets
from .shift import refine_labels, refine_masks
from segfix_data.errors import InputError
from segfix_data.ignore import IGNORE_INDEX

ID_SPACES = ("labelIds", "trainIds")
LABEL_SUFFIXES = (".png", ".npy")


# ----------------------------------------------------------------------------- offset sources


@dataclass
class FrameOffsets:
    """One frame's offsets: boundary (H, W) uint8 (1 = boundary), direction (H, W) uint8 bins."""

    boundary: np.ndarray
    direction: np.ndarray
    num_directions: int


def offsets_from_openseg(offsets: np.ndarray, path: str = "offsets") -> FrameOffsets:
    """Boundary and ``m = 8`` direction bins from the authors' (H, W, 2) ``(dy, dx)`` offsets."""
    offsets = np.asarray(offsets)
    if offsets.ndim != 3 or offsets.shape[2] != 2:
        raise InputError(f"{path}: offsets must have shape (H, W, 2) (dy, dx), got {offsets.shape}")
    if offsets.size and (np.abs(offsets).max() > 1):
        raise InputError(f"{path}: the authors' offsets are in {{-1, 0, 1}}, got values up to "
                         f"{int(np.abs(offsets).max())}; pass unit offsets and use --scale")
    code = (offsets[..., 0].astype(np.int64) + 1) * 3 + (offsets[..., 1].astype(np.int64) + 1)
    lut = np.full(9, DIRECTION_IGNORE, dtype=np.uint8)
    for b, (dy, dx) in enumerate(bin_offsets(8).tolist()):
        lut[(dy + 1) * 3 + (dx + 1)] = b
    direction = lut[code]
    return FrameOffsets((direction != DIRECTION_IGNORE).astype(np.uint8), direction, 8)


def _load_offsets_mat(path: Path, expect_shape=None) -> np.ndarray:
    from segfix_data.interop import load_openseg_offsets_mat

    return load_openseg_offsets_mat(path, expect_shape)


def _index_files(root: Path, suffix: str, suffixes=()) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for p in sorted(root.rglob(f"*{suffix}")):
        key = frame_key(p, suffixes)
        if key in files:
            raise InputError(f"{root}: two offsets files for frame {key!r}: {files[key]} and {p}; "
                             "keep one per frame")
        files[key] = p
    return files


class OffsetsSource:
    """Offsets per frame key from a predict or ``.mat`` directory (see module doc).

    A shard directory is read by :class:`segfix_data.shards.ShardOffsets`, which has this class's
    interface (``kind``, ``root``, ``keys``, ``get(key, instance=...)``); :func:`refine_directory`
    takes either.

    Args:
        suffixes: the layout's ``--img-suffix`` / ``--seg-suffix``, cut off offsets file names
            (:func:`segfix_data.datasets.io.frame_key`).

    Attributes:
        kind: "predict" or "mat".
        keys: the frame keys available.
    """

    def __init__(self, root: str | os.PathLike, suffixes=()) -> None:
        self.root = Path(root)
        suffixes = tuple(s for s in suffixes if s)
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.root}: offsets directory not found (--offsets takes a "
                                    "`segfix predict` output, a folder of .mat offsets or a shard folder)")
        if any(self.root.glob("*/manifest.json")):
            raise InputError(f"{self.root}: a shard directory; read its stored targets with "
                             "segfix_data.shards.ShardOffsets (`segfix refine --offsets` does)")
        self._files = _index_files(self.root, ".npz", suffixes)
        self.kind = "predict"
        if not self._files:
            self._files = _index_files(self.root, ".mat", suffixes)
            self.kind = "mat"
        if not self._files:
            raise InputError(f"{self.root}: no offsets found (no */manifest.json, *.npz or *.mat); "
                             "run `segfix predict` or `segfix-gt build` first")
        self.keys = set(self._files)

    def get(self, key: str, *, instance: bool = False, expect_shape=None) -> FrameOffsets:
        """Offsets of one frame (``instance`` is for :class:`ShardOffsets`' interface).
        ``expect_shape`` (H, W): the frame's size, checked against a ``.mat`` or ``.npz`` file's
        declared shape before it is decompressed."""
        path = self._files[key]
        if self.kind == "predict":
            d = read_offsets(path, expect_shape)
            return FrameOffsets(d["boundary"], d["direction"], d["num_directions"])
        return offsets_from_openseg(_load_offsets_mat(path, expect_shape), str(path))


# ----------------------------------------------------------------------------- files


def _atomic_save(path: Path, save) -> None:
    with atomic_path(path) as tmp:
        save(str(tmp))


def read_label_file(path: Path) -> tuple[np.ndarray, dict]:
    """A label map (PNG of ids, or ``.npy``) and what is needed to write it back the same way."""
    if path.suffix == ".npy":
        arr = np.load(path, allow_pickle=False)
        if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer):
            raise InputError(f"{path}: a label map must be a 2-D integer array, got {arr.shape} {arr.dtype}")
        return arr, {"kind": "npy"}
    check_pixels(path)  # a decompression bomb is refused before decoding
    try:
        im = Image.open(path)
        im.load()
    except Exception as exc:
        raise InputError(f"{path}: cannot read the PNG ({exc}); re-export the prediction") from exc
    if im.mode not in ("L", "P", "I;16", "I;16B", "I;16L", "I", "1"):
        raise InputError(f"{path}: PNG mode {im.mode} is not a map of ids (expected 8/16-bit grey or "
                         "palette); save label ids, not colours")
    return np.array(im), {"kind": "png", "mode": im.mode, "palette": im.getpalette() if im.mode == "P" else None}


def write_label_file(path: Path, arr: np.ndarray, meta: dict) -> None:
    """Write ``arr`` as :func:`read_label_file` read it (same format, mode, palette), atomically."""
    if meta["kind"] == "npy":
        def save(tmp):
            with open(tmp, "wb") as f:
                np.save(f, arr)
    else:
        def save(tmp):
            mode = meta["mode"]
            if mode == "P":  # keep the indices and the palette (no colour quantisation)
                a = np.ascontiguousarray(arr, dtype=np.uint8)
                im = Image.frombuffer("P", (a.shape[1], a.shape[0]), a.tobytes(), "raw", "P", 0, 1)
                if meta["palette"]:
                    im.putpalette(meta["palette"])
            elif mode == "1":
                im = Image.fromarray(np.asarray(arr, dtype=bool))
            else:
                im = Image.fromarray(arr.astype(np.uint8) if mode == "L" else arr)
            im.save(tmp, format="PNG")
    _atomic_save(path, save)


def _check_id_space(path: Path, arr: np.ndarray, id_space: str) -> None:
    hi = 33 if id_space == "labelIds" else 18
    bad = (arr > hi) & (arr != IGNORE_INDEX) | (arr < 0)
    if bad.any():
        raise InputError(f"{path}: value {int(arr[bad].flat[0])} is not a Cityscapes {id_space} id "
                         f"(0..{hi}, 255); pass the right --id-space")


def _is_instance_list(path: Path) -> bool:
    try:
        entries = read_instance_list(path)
    except (ValueError, UnicodeDecodeError):
        return False
    return all(e[0].lower().endswith(".png") for e in entries)


@dataclass
class RefineReport:
    """What :func:`refine_directory` did: counts and files without offsets."""

    label_maps: int = 0
    instance_lists: int = 0
    masks: int = 0
    missing: list = None
    source_kind: str = ""

    def as_dict(self) -> dict:
        return {"label_maps": self.label_maps, "instance_lists": self.instance_lists,
                "masks": self.masks, "missing": self.missing or [], "source_kind": self.source_kind}


def confined(pred_dir: Path, path: Path, what: str) -> Path:
    """Where ``path`` really lies inside PRED_DIR: its resolved path (symbolic links followed,
    ``..`` applied) relative to PRED_DIR resolved.

    The one rule for everything refine reads (label maps, instance lists, the masks they list):
    a file that resolves outside PRED_DIR is refused with ValueError naming it, so that refine never
    reads, nor writes a refined copy of, a file the user did not put under PRED_DIR.
    """
    root = pred_dir.resolve()
    real = path.resolve()
    if not real.is_relative_to(root) or real == root:
        raise InputError(f"{path}: {what} resolves to {real}, outside PRED_DIR {pred_dir} (a symbolic link "
                         "or '..' leads out); copy the file under PRED_DIR or fix the link")
    return real.relative_to(root)


def plan_directory(pred_dir: Path) -> tuple[list[Path], list[Path]]:
    """Split PRED_DIR's files into label maps and instance lists (masks of a list are not maps)."""
    lists = [p for p in sorted(pred_dir.rglob("*.txt")) if _is_instance_list(p)]
    masks = set()
    for lst in lists:
        for rel, *_ in read_instance_list(lst):
            masks.add((lst.parent / rel).resolve())
    maps = [p for p in sorted(pred_dir.rglob("*")) if p.is_file() and p.suffix in LABEL_SUFFIXES
            and p.resolve() not in masks]
    return maps, lists


def refine_directory(
    pred_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    offsets: "str | os.PathLike | OffsetsSource",
    *,
    scale: int | None = None,
    iterations: int = 1,
    id_space: str | None = None,
    strict: bool = True,
    progress=None,
    suffixes=(),
) -> RefineReport:
    """Refine every prediction under ``pred_dir`` into ``out_dir`` (same relative paths).

    Args:
        pred_dir: directory of label maps (PNG / ``.npy``) and/or Cityscapes instance results.
        out_dir: output directory (created). Outputs are written into a hidden sibling staging
            directory and moved into ``out_dir`` only when every file is refined: a run that fails
            leaves no partial output (the staging directory is removed).
        offsets: an :class:`OffsetsSource` or its directory, or any object with its interface
            (:class:`segfix_data.shards.ShardOffsets` for built shards).
        scale: offset factor; None = 2 for label maps and 1 for instance masks (the authors').
        iterations: 1 = scheme (i); > 1 = scheme (ii).
        id_space: None (any ids: the shift copies ids and never depends on them), or
            "labelIds" / "trainIds": Cityscapes label maps, whose values are checked against that
            id space (0..33 / 0..18, and 255) to catch a wrong directory early.
        strict: raise when a prediction has no offsets (else copy it unchanged, listed in
            ``missing``).
        progress: optional callable ``progress(n)`` called after each file.
        suffixes: the layout's ``--img-suffix`` / ``--seg-suffix``: a prediction named after its
            image (``s0_rgb.png``) meets the offsets of frame ``s0``
            (:func:`segfix_data.datasets.io.frame_key`).

    Returns:
        A :class:`RefineReport`.
    """
    if id_space is not None and id_space not in ID_SPACES:
        raise InputError(f"id_space must be one of {ID_SPACES}, got {id_space!r}")
    pred_dir, out_dir = Path(pred_dir), Path(out_dir)
    if not pred_dir.is_dir():
        raise FileNotFoundError(f"{pred_dir}: prediction directory not found")
    if out_dir.resolve() == pred_dir.resolve():
        raise InputError(f"{out_dir}: OUT_DIR must differ from PRED_DIR (files are never overwritten in place)")
    suffixes = tuple(s for s in suffixes if s)
    source = OffsetsSource(offsets, suffixes) if isinstance(offsets, (str, os.PathLike)) else offsets
    maps, lists = plan_directory(pred_dir)
    if not maps and not lists:
        raise InputError(f"{pred_dir}: no predictions found (*.png, *.npy label maps or instance *.txt)")
    # every file is confined to PRED_DIR before anything is written (no partial output)
    for path in maps:
        confined(pred_dir, path, "label map")
    mask_plan = {}
    for lst in lists:
        confined(pred_dir, lst, "instance list")
        mask_plan[lst] = [(lst.parent / e[0], confined(pred_dir, lst.parent / e[0], f"mask listed in {lst.name}"))
                          for e in read_instance_list(lst)]
    report = RefineReport(missing=[], source_kind=source.kind)
    final_out, out_dir = out_dir, _staging_dir(out_dir)
    try:
        _refine_into(pred_dir, out_dir, source, maps, mask_plan, report, scale, iterations, id_space,
                     strict, progress, suffixes)
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    _publish(out_dir, final_out)
    return report


def _staging_dir(out_dir: Path) -> Path:
    """A fresh hidden sibling of ``out_dir`` that the outputs are written into before publishing."""
    import tempfile

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp's 0700 would become OUT_DIR's mode on publishing
    return staging


def _publish(staging: Path, out_dir: Path) -> None:
    """Move every file of ``staging`` to the same place under ``out_dir`` (one rename when
    ``out_dir`` does not exist yet), then remove ``staging``."""
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    for p in sorted(staging.rglob("*")):
        if p.is_file():
            dest = out_dir / p.relative_to(staging)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(p, dest)
    shutil.rmtree(staging, ignore_errors=True)


def _refine_into(pred_dir, out_dir, source, maps, mask_plan, report, scale, iterations, id_space, strict,
                 progress, suffixes) -> None:
    """The body of :func:`refine_directory`: write every output under ``out_dir`` (the staging
    directory). ``mask_plan``: per instance list, its ``(mask path, path relative to PRED_DIR)``
    pairs, already confined to PRED_DIR."""

    def lookup(path: Path):
        key = frame_key(path, suffixes)
        if key in source.keys:
            return key
        if strict:
            hint = ("" if suffixes else "; if file names carry the dataset's suffixes (s0_rgb.png for "
                    "frame s0), pass --img-suffix/--seg-suffix")
            raise InputError(f"{path}: no offsets for frame {key!r} in {source.root} ({source.kind}); "
                             f"predict offsets for it or pass --skip-missing{hint}")
        report.missing.append(str(path.relative_to(pred_dir)))
        return None

    for path in maps:
        rel = path.relative_to(pred_dir)
        key = lookup(path)
        label, meta = read_label_file(path)
        if id_space is not None:
            _check_id_space(path, label, id_space)
        if key is not None:
            fo = source.get(key, expect_shape=label.shape)
            if fo.boundary.shape != label.shape:
                raise InputError(f"{path}: prediction size {label.shape} differs from its offsets' "
                                 f"{fo.boundary.shape} (frame {key!r}); predict offsets at full resolution")
            label = refine_labels(label, fo.boundary, fo.direction, fo.num_directions,
                                  scale=2 if scale is None else scale, iterations=iterations)
            report.label_maps += 1
        write_label_file(out_dir / rel, label, meta)
        if progress:
            progress(1)

    for lst in mask_plan:
        rel = lst.relative_to(pred_dir)
        key = lookup(lst)
        fo = source.get(key, instance=True) if key is not None else None
        mask_paths = [p for p, _ in mask_plan[lst]]
        loaded = [read_label_file(p) for p in mask_paths]
        if fo is not None:
            for p, (m, _) in zip(mask_paths, loaded):
                if m.shape != fo.boundary.shape:
                    raise InputError(f"{p}: mask size {m.shape} differs from the offsets' {fo.boundary.shape}")
            refined = refine_masks([m for m, _ in loaded], fo.boundary, fo.direction, fo.num_directions,
                                   scale=1 if scale is None else scale, iterations=iterations)
            report.instance_lists += 1
            report.masks += len(refined)
        else:
            refined = [m for m, _ in loaded]
        for (_, mask_rel), m, (_, meta) in zip(mask_plan[lst], refined, loaded):
            write_label_file(out_dir / mask_rel, m, meta)
        _atomic_save(out_dir / rel, lambda tmp: shutil.copyfile(lst, tmp))
        if progress:
            progress(1)


def write_report(out_dir: str | os.PathLike, report: RefineReport, params: dict) -> Path:
    """Write ``refine_log.json`` (parameters and counts) into ``out_dir``."""
    path = Path(out_dir) / "refine_log.json"
    data = {"params": params, **report.as_dict()}
    _atomic_save(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2)))
    return path
