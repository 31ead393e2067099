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

import errno
import json
import os
import shutil
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from segfix_data.atomic import atomic_path
from segfix_data.datasets.npy import read_id_map
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


def _load_offsets_mat(path: Path, expect_shape=None, file=None) -> np.ndarray:
    from segfix_data.interop import load_openseg_offsets_mat

    return load_openseg_offsets_mat(path, expect_shape, file)


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
        with open_regular(path, "offsets file") as f:  # the declared sizes and the data: one open file
            if self.kind == "predict":
                d = read_offsets(path, expect_shape, file=f)
                return FrameOffsets(d["boundary"], d["direction"], d["num_directions"])
            return offsets_from_openseg(_load_offsets_mat(path, expect_shape, f), str(path))


# ----------------------------------------------------------------------------- files


def _atomic_save(path: Path, save) -> None:
    with atomic_path(path) as tmp:
        save(str(tmp))


def open_regular(path: Path, what: str) -> BinaryIO:
    """``path`` opened for binary reading, refused (InputError naming it) unless the opened file is
    a regular file. It is opened without blocking (a FIFO would otherwise wait for a writer) and
    judged by ``fstat`` of the open file, which is then what is read."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a device, pipe or socket)"
            raise InputError(f"{path}: the {what} is {kind}; refine reads regular files only")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_label_file(path: Path, file: BinaryIO | None = None) -> tuple[np.ndarray, dict]:
    """A label map (PNG of ids, or ``.npy``) and what is needed to write it back the same way.

    ``file``: the binary file already opened on ``path`` (:func:`open_confined`), which is what is
    read; ``path`` then only names it and gives its format. Sizes are checked from the header
    before decoding (``--max-image-pixels``; an ``.npy``'s shape times item size,
    :func:`segfix_data.datasets.npy.read_id_map`).
    """
    path = Path(path)
    if file is None:
        with open_regular(path, "label map") as f:
            return read_label_file(path, f)
    if path.suffix == ".npy":
        return read_id_map(file, path), {"kind": "npy"}
    check_pixels(path, file)  # a decompression bomb is refused before decoding
    try:
        im = Image.open(file)
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


def _inside(pred_dir: Path, path: Path, real: Path, what: str) -> Path:
    root = pred_dir.resolve()
    if not real.is_relative_to(root) or real == root:
        raise InputError(f"{path}: {what} resolves to {real}, outside PRED_DIR {pred_dir} (a symbolic link "
                         "or '..' leads out); copy the file under PRED_DIR or fix the link")
    return real.relative_to(root)


def confined(pred_dir: Path, path: Path, what: str) -> Path:
    """Where ``path`` really lies inside PRED_DIR: its resolved path (symbolic links followed,
    ``..`` applied) relative to PRED_DIR resolved.

    The one rule for everything refine reads (label maps, instance lists, the masks they list):
    a file that resolves outside PRED_DIR is refused with ValueError naming it, so that refine never
    reads, nor writes a refined copy of, a file the user did not put under PRED_DIR. Every file is
    checked so before anything is refined, and again as it is read (:func:`open_confined`).
    """
    return _inside(pred_dir, path, path.resolve(), what)


def _opened_path(f: BinaryIO, path: Path) -> Path:
    """Where the file open as ``f`` lies: the kernel's name for it (``/proc/self/fd``), or else
    ``path`` resolved, required to be the same file (device and inode) as the one open."""
    try:
        real = os.readlink(f"/proc/self/fd/{f.fileno()}")
        if os.path.isabs(real) and not real.endswith(" (deleted)"):
            return Path(real)
    except OSError:
        pass
    real = Path(os.path.realpath(path))
    now, opened = os.stat(real), os.fstat(f.fileno())
    if (now.st_dev, now.st_ino) != (opened.st_dev, opened.st_ino):
        raise InputError(f"{path}: replaced while refine read it (it no longer resolves to the file "
                         "opened); rerun refine once nothing writes to PRED_DIR")
    return real


def open_confined(pred_dir: Path, path: Path, what: str, expect: Path | None = None) -> BinaryIO:
    """``path`` opened for binary reading, refused (InputError naming it) unless the file opened,
    not the name, lies inside PRED_DIR (:func:`confined`'s rule) and, with ``expect``, is the one
    checked before the run (at ``expect`` relative to PRED_DIR). A link swapped in after the check
    is therefore never read: refine reads the file it checked."""
    f = open_regular(path, what)
    try:
        rel = _inside(pred_dir, path, _opened_path(f, path), what)
        if expect is not None and rel != expect:
            raise InputError(f"{path}: {what} now resolves to {rel}, not to {expect} as when refine checked it "
                             "(replaced during the run); rerun refine once nothing writes to PRED_DIR")
        return f
    except BaseException:
        f.close()
        raise


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


@dataclass
class _ListPlan:
    """One instance list as checked before the run: its path, its bytes (parsed once, copied to
    OUT_DIR as read), and its masks as ``(path, path relative to PRED_DIR)`` pairs, confined."""

    path: Path
    data: bytes
    masks: list = field(default_factory=list)


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
    overwrite: bool = False,
    log: dict | None = None,
) -> RefineReport:
    """Refine every prediction under ``pred_dir`` into ``out_dir`` (same relative paths).

    Args:
        pred_dir: directory of label maps (PNG / ``.npy``) and/or Cityscapes instance results.
        out_dir: output directory, published whole: the outputs (and ``refine_log.json``) are
            written into a hidden sibling staging directory, which becomes ``out_dir`` in one
            rename once every file is refined. A run that fails leaves no partial output, and
            ``out_dir`` never mixes two runs. ``out_dir`` must not exist, be empty, or (with
            ``overwrite``) is replaced whole; it must lie outside ``pred_dir`` (a later run would
            refine the outputs again) and hold neither ``pred_dir`` nor the offsets.
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
        overwrite: replace a non-empty ``out_dir`` (else it is refused before anything is read).
        log: the run's parameters: ``refine_log.json`` (:func:`write_report`) is written into the
            output before it is published, so the log always describes the files beside it.

    Returns:
        A :class:`RefineReport`.
    """
    if id_space is not None and id_space not in ID_SPACES:
        raise InputError(f"id_space must be one of {ID_SPACES}, got {id_space!r}")
    pred_dir, out_dir = Path(pred_dir), Path(out_dir)
    if not pred_dir.is_dir():
        raise FileNotFoundError(f"{pred_dir}: prediction directory not found")
    suffixes = tuple(s for s in suffixes if s)
    source = OffsetsSource(offsets, suffixes) if isinstance(offsets, (str, os.PathLike)) else offsets
    check_out_dir(pred_dir, out_dir, overwrite, getattr(source, "root", None))
    maps, lists = plan_directory(pred_dir)
    if not maps and not lists:
        raise InputError(f"{pred_dir}: no predictions found (*.png, *.npy label maps or instance *.txt)")
    # every file is confined to PRED_DIR before anything is read for refining (and again as it is read)
    map_plan = [(path, confined(pred_dir, path, "label map")) for path in maps]
    list_plan = [_plan_list(pred_dir, lst) for lst in lists]
    report = RefineReport(missing=[], source_kind=source.kind)
    final_out = out_dir.resolve()  # a link to a directory: its target is published
    staging = _staging_dir(final_out)
    try:
        _refine_into(pred_dir, staging, source, map_plan, list_plan, report, scale, iterations, id_space,
                     strict, progress, suffixes)
        if log is not None:
            write_report(staging, report, log)
        _publish(staging, final_out, overwrite, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def check_out_dir(pred_dir: Path, out_dir: Path, overwrite: bool, offsets_root=None) -> None:
    """Refuse (InputError naming OUT_DIR) an output directory that would mix two runs or eat its
    inputs: PRED_DIR itself, inside PRED_DIR, holding PRED_DIR or the offsets, not a directory, or
    not empty without ``overwrite``."""
    pred, out = pred_dir.resolve(), out_dir.resolve()
    if out == pred:
        raise InputError(f"{out_dir}: OUT_DIR must differ from PRED_DIR (files are never overwritten in place)")
    if out.is_relative_to(pred):
        raise InputError(f"{out_dir}: OUT_DIR lies inside PRED_DIR {pred_dir}, so refining PRED_DIR again "
                         "would refine these outputs too; choose an OUT_DIR outside PRED_DIR")
    for what, inside in (("PRED_DIR", pred_dir), ("the offsets", offsets_root)):
        if inside is not None and Path(inside).resolve().is_relative_to(out):
            raise InputError(f"{out_dir}: OUT_DIR holds {what} ({inside}), and refine replaces OUT_DIR "
                             "whole; choose another OUT_DIR")
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a directory; choose another OUT_DIR")
    if not overwrite and any(out_dir.iterdir()):
        raise _not_empty(out_dir)


def _not_empty(out_dir: Path) -> InputError:
    first = min(p.name for p in out_dir.iterdir())
    return InputError(f"{out_dir}: OUT_DIR is not empty (it holds {first}, ...); refine publishes a whole "
                      "OUT_DIR and never mixes two runs: pass --overwrite to replace it, or choose a new OUT_DIR")


def _plan_list(pred_dir: Path, lst: Path) -> _ListPlan:
    """An instance list read once (confined to PRED_DIR) and its masks, confined."""
    with open_confined(pred_dir, lst, "instance list") as f:
        data = f.read()
    entries = read_instance_list(lst, data)
    return _ListPlan(lst, data, [(lst.parent / e[0], confined(pred_dir, lst.parent / e[0],
                                                              f"mask listed in {lst.name}")) for e in entries])


def _staging_dir(out_dir: Path) -> Path:
    """A fresh hidden sibling of ``out_dir`` that the outputs are written into before publishing."""
    import tempfile

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp's 0700 would become OUT_DIR's mode on publishing
    return staging


def _exchange(a: Path, b: Path) -> bool:
    """Swap the directories ``a`` and ``b`` in one step (Linux ``renameat2(RENAME_EXCHANGE)``);
    False where the system or the file system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _publish(staging: Path, out_dir: Path, overwrite: bool, shown: Path | None = None) -> None:
    """Make ``staging`` the directory ``out_dir`` as a whole: one rename when ``out_dir`` is absent
    or empty; with ``overwrite``, a non-empty ``out_dir`` is swapped for it in one step
    (:func:`_exchange`; else renamed aside first, so that a kill in between leaves no OUT_DIR
    rather than a mixed one) and the old contents removed."""
    try:
        os.rename(staging, out_dir)
        return
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
    if not overwrite:  # filled by someone else during the run
        raise _not_empty(shown or out_dir)
    if _exchange(staging, out_dir):
        shutil.rmtree(staging, ignore_errors=True)  # now the old contents
        return
    import tempfile

    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    os.rename(out_dir, old / "out")
    os.rename(staging, out_dir)
    shutil.rmtree(old, ignore_errors=True)


def _refine_into(pred_dir, out_dir, source, map_plan, list_plan, report, scale, iterations, id_space, strict,
                 progress, suffixes) -> None:
    """The body of :func:`refine_directory`: write every output under ``out_dir`` (the staging
    directory). ``map_plan``: ``(label map, where it lies relative to PRED_DIR)`` pairs;
    ``list_plan``: the instance lists as read and checked (:class:`_ListPlan`). Every file is read
    through :func:`open_confined`, so what is read is what was checked."""

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

    def read(path: Path, rel: Path, what: str):
        with open_confined(pred_dir, path, what, expect=rel) as f:
            return read_label_file(path, f)

    for path, real_rel in map_plan:
        rel = path.relative_to(pred_dir)
        key = lookup(path)
        label, meta = read(path, real_rel, "label map")
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

    for lp in list_plan:
        rel = lp.path.relative_to(pred_dir)
        key = lookup(lp.path)
        loaded = [read(p, mask_rel, f"mask listed in {lp.path.name}") for p, mask_rel in lp.masks]
        refined = [m for m, _ in loaded]
        if key is not None:
            report.instance_lists += 1
        if key is not None and loaded:  # the masks' size bounds what the offsets may declare
            fo = source.get(key, instance=True, expect_shape=loaded[0][0].shape)
            for (p, _), (m, _) in zip(lp.masks, loaded):
                if m.shape != fo.boundary.shape:
                    raise InputError(f"{p}: mask size {m.shape} differs from the offsets' {fo.boundary.shape}")
            refined = refine_masks(refined, fo.boundary, fo.direction, fo.num_directions,
                                   scale=1 if scale is None else scale, iterations=iterations)
            report.masks += len(refined)
        for (_, mask_rel), m, (_, meta) in zip(lp.masks, refined, loaded):
            write_label_file(out_dir / mask_rel, m, meta)
        _atomic_save(out_dir / rel, lambda tmp, data=lp.data: Path(tmp).write_bytes(data))
        if progress:
            progress(1)


def write_report(out_dir: str | os.PathLike, report: RefineReport, params: dict) -> Path:
    """Write ``refine_log.json`` (parameters and counts) into ``out_dir``."""
    path = Path(out_dir) / "refine_log.json"
    data = {"params": params, **report.as_dict()}
    _atomic_save(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2)))
    return path
