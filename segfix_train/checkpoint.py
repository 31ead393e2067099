"""Checkpoints: model, optimiser, scheduler, data-stream position and RNG states, written
atomically as ``RUN_DIR/checkpoints/ckpt_<step:08d>.pt`` with a SHA-256 digest beside it.

Checkpoints are data, never code:

* every checkpoint is read with ``torch.load(..., weights_only=True)``: only tensors and plain
  Python types (dict, list, tuple, str, numbers, None) are accepted, so a crafted pickle runs
  nothing (it is refused with :class:`CheckpointError`); the RNG states are stored as such types;
* ``ckpt_<step>.pt.sha256`` (``sha256sum`` format) is published *before* the checkpoint it
  describes and checked on every load: a damaged or truncated file is refused, and
  :func:`load_latest` falls back to the newest intact checkpoint, saying which it skipped and why;
* every tensor of a checkpoint's model is finite: a file holding NaN or infinite weights (a run
  that diverged) is refused on load (:func:`check_finite`), never turned into empty predictions;
* hidden temporary files of a killed save are removed by :func:`remove_stale` on the next run.

``RUN_DIR/best.pt`` (``--keep-best``) is replaced in place, so its digest file, the file and
``best.json`` (which step, which score, and ``sha256``, best.pt's digest) cannot change at one
instant. :func:`save_best` publishes them in an order that any kill leaves usable:

1. the new model is written to a hidden temporary file and its digest computed;
2. ``best.pt.sha256`` is published listing the new digest and the current one (either file passes
   :func:`verify_digest` while the swap is under way);
3. ``best.pt`` is replaced (``os.replace``);
4. ``best.json`` is published with the new digest: the update is complete;
5. ``best.pt.sha256`` is published with the new digest alone.

A ``best.json`` whose ``sha256`` is not best.pt's means "not yet updated" (a kill between 3 and 4):
:func:`read_best` then takes the record from best.pt itself (its ``step`` and ``val``), and the next
:func:`save_best` rewrites it. :func:`remove_stale` removes the temporary file of a kill before 3
and the extra digest line of a kill before 5.

This module owns the layout of every checkpoint segfix writes: :func:`make_payload` builds each
one, its ``"format"`` entry is one of the tags below, and :func:`load_checkpoint` refuses a file
whose tag is missing, foreign, newer than this code, or of a kind the caller cannot use:

==============================  =====================================================================
``format``                      entries besides ``format``, ``model``, ``model_spec``,
                                ``num_directions`` and ``config`` (every payload has those)
==============================  =====================================================================
:data:`TRAIN_FORMAT`            ``step``, ``optimizer``, ``scheduler``, ``data`` (micro-batch index,
                                world size), ``log_window``, ``rng`` (one state per rank),
                                ``grad_scaler`` (None without fp16): ``checkpoints/ckpt_*.pt``,
                                resumable
:data:`BEST_FORMAT`             ``step``, ``val`` (the validation metrics): ``RUN_DIR/best.pt``
:data:`CONVERTED_FORMAT`        ``source`` (the authors' file, its SHA-256, how it was read):
                                ``segfix convert-openseg``
==============================  =====================================================================
"""
from __future__ import annotations

import glob
import hashlib
import os
import pickle
import random
import re

import numpy as np
import torch
from segfix_data.atomic import atomic_path, atomic_write_json, sweep_temps
from segfix_data.errors import InputError
from segfix_data.storage import StorageFull, storage_problem

_NAME = re.compile(r"ckpt_(\d{8})\.pt$")
DIGEST_SUFFIX = ".sha256"


class CheckpointError(InputError):
    """A checkpoint that cannot be used: missing, damaged (digest mismatch), not a segfix checkpoint,
    of a format this code does not read, or holding objects other than tensors and plain types. The
    message names the file and the fix."""


#: A training checkpoint (2: RNG states as tensors and plain types, for weights-only loading).
TRAIN_FORMAT = "segfix-train-2"
#: ``RUN_DIR/best.pt`` of ``--keep-best``: the model and its validation metrics.
BEST_FORMAT = "segfix-best-1"
#: ``segfix convert-openseg``: an authors' SegFix model as a project checkpoint.
CONVERTED_FORMAT = "segfix-openseg-import-1"
#: The entries of each format beyond the ones every payload has (``make_payload``).
FORMAT_ENTRIES = {
    TRAIN_FORMAT: ("step", "optimizer", "scheduler", "data", "log_window", "rng", "grad_scaler"),
    BEST_FORMAT: ("step", "val"),
    CONVERTED_FORMAT: ("source",),
}
#: What each format is, for messages.
FORMAT_KINDS = {TRAIN_FORMAT: "a training checkpoint", BEST_FORMAT: "the best model of a run (--keep-best)",
                CONVERTED_FORMAT: "a converted authors' model (segfix convert-openseg)"}
#: Every format: what ``segfix predict`` and the ``SegFix`` API read (a model each).
MODEL_FORMATS = tuple(FORMAT_ENTRIES)


def make_payload(fmt: str, model: torch.nn.Module, config: dict, **entries) -> dict:
    """The payload of a checkpoint of format ``fmt``, ready for :func:`save_checkpoint`.

    Args:
        fmt: one of :data:`FORMAT_ENTRIES`.
        model: a ``SegFixModel`` (its ``spec`` rebuilds it; its weights are copied to the CPU).
        config: the settings it was trained with (``TrainConfig.to_dict()``; a converted model:
            ``model`` and ``model_args``).
        entries: exactly the entries ``FORMAT_ENTRIES[fmt]`` names.

    Returns:
        ``{"format", "model", "model_spec", "num_directions", "config", **entries}``: tensors and
        plain types only.
    """
    if fmt not in FORMAT_ENTRIES:
        raise ValueError(f"unknown checkpoint format {fmt!r}; one of {sorted(FORMAT_ENTRIES)}")
    want = set(FORMAT_ENTRIES[fmt])
    if set(entries) != want:
        raise ValueError(f"a {fmt} payload needs the entries {sorted(want)}, got {sorted(entries)}")
    spec = dict(model.spec)
    return {"format": fmt, "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            "model_spec": spec, "num_directions": int(spec["num_directions"]), "config": config, **entries}


_TAG = re.compile(r"(segfix-[a-z-]+?)-(\d+)$")  # a format tag: family and version
#: the version of each format family this code writes (a higher one is from a newer segfix)
_VERSIONS = {_TAG.match(f).group(1): int(_TAG.match(f).group(2)) for f in FORMAT_ENTRIES}


def check_format(path: str, state: object, accept: tuple[str, ...] = MODEL_FORMATS) -> dict:
    """``state`` when it is a payload of one of the formats ``accept``; else :class:`CheckpointError`
    in one line naming ``path``, what it holds and what to do."""
    fmt = state.get("format") if isinstance(state, dict) else None
    if fmt in accept:
        return state
    wanted = " or ".join(FORMAT_KINDS[f] for f in accept)
    if fmt in FORMAT_KINDS:
        raise CheckpointError(f"{path}: holds {FORMAT_KINDS[fmt]} ({fmt}), not {wanted}")
    m = _TAG.match(fmt) if isinstance(fmt, str) else None
    if m and m.group(1) in _VERSIONS:
        newer = int(m.group(2)) > _VERSIONS[m.group(1)]
        raise CheckpointError(
            f"{path}: holds a {fmt} checkpoint, written by {'a newer' if newer else 'an older'} segfix "
            f"than this one, which reads {', '.join(FORMAT_ENTRIES)}; "
            + ("upgrade segfix to load it" if newer else "load it with the segfix that wrote it"))
    if isinstance(state, dict):
        what = (f"format {fmt!r}" if fmt is not None else
                f"no 'format' entry (keys: {', '.join(sorted(map(str, state))[:8]) or 'none'})")
    else:
        what = f"a {type(state).__name__}, not a dict"
    raise CheckpointError(f"{path}: not a segfix checkpoint: it holds {what}; segfix reads "
                          f"{', '.join(FORMAT_ENTRIES)} files (from `segfix train` or `segfix convert-openseg`)")


def _finite(t: torch.Tensor) -> bool:
    """Whether every value of ``t`` is finite (numpy's test: torch's ``isfinite(t).all()`` over the
    thousands of small tensors of a model costs seconds where its thread pool shares busy cores)."""
    t = t.detach().cpu()
    if t.is_complex():
        return bool(torch.isfinite(t).all())
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16
        t = t.float()
    return bool(np.isfinite(t.numpy()).all())


def check_finite(path: str, weights: dict) -> None:
    """:class:`CheckpointError` naming ``path`` when a floating-point tensor of ``weights`` (a state
    dict) holds NaN or infinity: such a model predicts nothing useful (all-NaN logits give empty
    offsets), so it is refused rather than run."""
    bad = [str(k) for k, t in weights.items() if isinstance(t, torch.Tensor)
           and (t.is_floating_point() or t.is_complex()) and not _finite(t)]
    if bad:
        raise CheckpointError(f"{path}: {len(bad)} of its {len(weights)} weight tensors hold NaN or infinite values "
                              f"(e.g. {', '.join(bad[:3])}): the training that wrote it diverged; use an "
                              "earlier checkpoint, or train again with a lower --lr")


def rng_state() -> dict:
    """Python, NumPy, torch CPU (and CUDA, when present) generator states, as tensors and plain types."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": random.getstate(),
             "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore ``rng_state()``'s generators; CUDA states only for the devices visible now."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    if isinstance(n, dict):
        np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                             n["cached_gaussian"]))
    else:
        np.random.set_state(n)
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        # only the devices visible now: a run saved on 8 GPUs resumes on fewer (DDP: each rank
        # restores its own state list; devices beyond the count keep their fresh state)
        for i, s in enumerate(state["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(s, i)


def checkpoint_path(run_dir: str, step: int) -> str:
    return os.path.join(run_dir, "checkpoints", f"ckpt_{step:08d}.pt")


def list_checkpoints(run_dir: str) -> list[tuple[int, str]]:
    """``[(step, path)]`` ascending."""
    out = []
    for p in glob.glob(os.path.join(run_dir, "checkpoints", "ckpt_*.pt")):
        m = _NAME.search(p)
        if m:
            out.append((int(m.group(1)), p))
    return sorted(out)


def file_sha256(path: str) -> str:
    """Hex SHA-256 of a file's bytes (read in 4 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(4 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_digest(path: str, digests: list[str]) -> None:
    """Publish ``path``'s digest file (``sha256sum`` format): one line per accepted digest."""
    with atomic_path(path + DIGEST_SUFFIX) as dtmp, open(dtmp, "w") as f:
        f.writelines(f"{d}  {os.path.basename(path)}\n" for d in dict.fromkeys(digests))


def listed_digests(path: str) -> list[str]:
    """The digests ``path``'s digest file accepts (empty when it is missing or unreadable)."""
    try:
        with open(path + DIGEST_SUFFIX) as f:
            return [ln.split()[0].lower() for ln in f.read().splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError):
        return []


def save_checkpoint(path: str, payload: dict, keep: int | None = None, also_accept: tuple[str, ...] = ()) -> str:
    """``torch.save`` to a temporary name, publish its digest, then ``os.replace``; prune to the
    newest ``keep`` (with their digests). Returns the digest.

    ``payload`` must hold only tensors and plain types (what ``weights_only`` loading accepts).
    ``also_accept``: digests the digest file lists besides the new one (the file being replaced,
    while :func:`save_best` swaps it).
    """
    try:
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)
            digest = file_sha256(tmp)
            write_digest(path, [digest, *also_accept])
    except (OSError, RuntimeError) as e:  # torch's zip writer reports a failed write as RuntimeError
        problem = storage_problem(e)
        if problem is None:
            raise
        raise StorageFull(path, problem, "the checkpoint", "rerun the same command with --resume") from None
    if keep:
        for _, old in list_checkpoints(os.path.dirname(os.path.dirname(path)))[:-keep]:
            os.remove(old)
            if os.path.exists(old + DIGEST_SUFFIX):
                os.remove(old + DIGEST_SUFFIX)
    return digest


def remove_stale(run_dir: str) -> list[str]:
    """Remove what killed saves leave: hidden temporary files in ``RUN_DIR/checkpoints``
    (``.ckpt_*``) and of ``best.pt``, ``best.pt.sha256`` and ``best.json`` in ``RUN_DIR``, digests
    without their checkpoint, and the digest of the file ``best.pt`` no longer is (a kill inside
    :func:`save_best`). Returns the removed paths (a shortened digest file is named too)."""
    d = os.path.join(run_dir, "checkpoints")
    removed = []
    for p in glob.glob(os.path.join(d, ".ckpt_*")):
        os.remove(p)
        removed.append(p)
    removed += [str(p) for p in sweep_temps(run_dir, (BEST, BEST + DIGEST_SUFFIX, BEST_RECORD), only_dead=False)]
    for p in glob.glob(os.path.join(d, "ckpt_*.pt" + DIGEST_SUFFIX)):
        if not os.path.exists(p[: -len(DIGEST_SUFFIX)]):
            os.remove(p)
            removed.append(p)
    best = best_path(run_dir)
    if not os.path.exists(best):
        for p in (best + DIGEST_SUFFIX, os.path.join(run_dir, BEST_RECORD)):
            if os.path.exists(p):  # best.pt never published: what a first save left
                os.remove(p)
                removed.append(p)
    elif len(listed := listed_digests(best)) > 1 and (digest := file_sha256(best)) in listed:
        write_digest(best, [digest])
        removed.append(f"{best + DIGEST_SUFFIX}'s line for the best.pt it replaced")
    return removed


def verify_digest(path: str) -> None:
    """Raise :class:`CheckpointError` unless ``path``'s digest is one its ``.sha256`` file lists (one
    line; two while :func:`save_best` replaces ``best.pt``)."""
    dpath = path + DIGEST_SUFFIX
    wanted = listed_digests(path)
    if not wanted:
        raise CheckpointError(
            f"{path}: no digest file {os.path.basename(dpath)} (every segfix train checkpoint is saved with "
            f"one; the save may have been interrupted). If you trust the file, write it with "
            f"`sha256sum {path} > {dpath}`") from None
    got = file_sha256(path)
    if got not in wanted:
        raise CheckpointError(f"{path}: damaged: its SHA-256 {got[:16]}... differs from {os.path.basename(dpath)} "
                              f"({wanted[0][:16]}...); use an earlier checkpoint")


_UNSUPPORTED = re.compile(r"Unsupported global: GLOBAL [\w.]+")
_ADVICE = re.compile(r"weights.only|can still be loaded|trust(ed)? (the )?source|safe_globals|allowlist", re.I)
#: What pickle's own errors on bytes that are not a pickle mean (a bare ``KeyError: 174812789``,
#: ``IndexError: pop from empty list``, ``EOFError``...): torch read a file that it did not write.
_NOT_TORCH_FILE = "damaged, or not a file written by torch.save"


def torch_load_reason(exc: BaseException) -> str:
    """What ``torch.load`` objected to, without torch's advice: its text for a refused pickle tells
    the reader to rerun with weights-only loading turned off (code execution) or to allowlist the class, which
    no segfix message may repeat. Returns the refused global when named, else torch's first sentence
    free of that advice, else the exception's type; pickle's own errors on bytes that are not a
    pickle (a bare number, an empty stack) become words saying so."""
    if isinstance(exc, (KeyError, IndexError, EOFError)):  # pickle on bytes that are no pickle
        return _NOT_TORCH_FILE
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    m = _UNSUPPORTED.search(text)
    if m:
        return m.group(0).replace("GLOBAL ", "")
    sentences = [s.strip() for s in re.split(r"(?<=\.)\s+|\n", text) if s.strip()]
    clean = [s for s in sentences if not _ADVICE.search(s)]
    return clean[0][:200] if clean else type(exc).__name__


def load_checkpoint(path: str, *, verify: bool = True, accept: tuple[str, ...] = MODEL_FORMATS) -> dict:
    """Read a checkpoint written by ``save_checkpoint`` (CPU tensors), as data only.

    Checks the digest (``verify``), loads with ``weights_only=True`` and checks its format tag
    (:func:`check_format`: one of ``accept``, e.g. ``(TRAIN_FORMAT,)`` to resume). Raises
    :class:`CheckpointError`.
    """
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} not found (or not a file)")
    if verify:
        verify_digest(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(f"{path}: refused: it holds objects other than tensors and plain types, "
                              f"which could run code when loaded ({torch_load_reason(e)}); only load "
                              "checkpoints written by `segfix train`") from None
    except Exception as e:  # noqa: BLE001 (truncated zip, not a torch file...)
        raise CheckpointError(f"cannot read checkpoint {path!r} ({torch_load_reason(e)}); "
                              "is it a segfix train checkpoint?") from None
    state = check_format(path, state, accept)
    if isinstance(state.get("model"), dict):
        check_finite(path, state["model"])
    return state


def _numpy_safe_globals() -> list:
    """The numpy objects a pickled numpy scalar needs (allowed in addition to torch's defaults)."""
    out = [np.dtype]
    core = getattr(np, "_core", None) or np.core
    out.append(core.multiarray.scalar)
    for t in (np.float64, np.float32, np.int64, np.int32, np.bool_):
        out.append(type(np.dtype(t)))
    return out


def load_weights_file(path: str) -> object:
    """``torch.load(path, weights_only=True)`` on the CPU, with numpy scalars allowed.

    Raises ``FileNotFoundError`` or a one-line ``InputError`` naming the file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights file {path!r} not found (nothing is downloaded; pass a local file)")
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # torch's text would advise turning weights-only loading off: never
        raise InputError(f"cannot read {path!r} as a weights file: not a PyTorch checkpoint of tensors "
                         "and plain values (damaged, another format, or pickled objects that could run "
                         "code when loaded, which are refused)") from None
    except Exception as e:  # noqa: BLE001 -- name the file and the fix
        msg = torch_load_reason(e)  # never torch's advice to disable weights_only
        raise InputError(f"cannot read {path!r} as a weights file ({msg}); expected a PyTorch "
                         f"checkpoint saved with torch.save holding only tensors and plain values") from e


def load_latest(run_dir: str) -> tuple[str | None, dict | None, list[tuple[str, str]]]:
    """The newest intact training checkpoint (:data:`TRAIN_FORMAT`) of ``run_dir``.

    Returns:
        ``(path, state, skipped)``: ``path``/``state`` None when there is no intact checkpoint;
        ``skipped`` lists ``(path, reason)`` of the newer checkpoints that failed their checks.
    """
    skipped = []
    for _, path in reversed(list_checkpoints(run_dir)):
        try:
            return path, load_checkpoint(path, accept=(TRAIN_FORMAT,)), skipped
        except CheckpointError as e:
            skipped.append((path, str(e)))
    return None, None, skipped


# --------------------------------------------------------------------------------------------
# --keep-best (docs/training.md, "Validation that measures refinement"): RUN_DIR/best.pt, its digest, and best.json (which step, which score)

BEST = "best.pt"
BEST_RECORD = "best.json"


def best_path(run_dir: str) -> str:
    return os.path.join(run_dir, BEST)


def read_best(run_dir: str, key: str) -> dict | None:
    """The record of ``RUN_DIR/best.pt``: ``{"step", "key", "value", "file", "sha256"}``, or None
    without a loadable best.pt. It is ``best.json`` when that names best.pt's digest; otherwise
    (a save killed before ``best.json`` was updated, or a record of an older segfix) it is made from
    best.pt's own ``step`` and ``val[key]``."""
    import json

    path = best_path(run_dir)
    if not os.path.isfile(path):
        return None
    digest = file_sha256(path)
    try:
        with open(os.path.join(run_dir, BEST_RECORD)) as f:
            rec = json.load(f)
        if isinstance(rec, dict) and rec.get("sha256") == digest:
            return rec
    except (OSError, ValueError):
        pass
    try:
        state = load_checkpoint(path, accept=(BEST_FORMAT,))
        return {"step": int(state["step"]), "key": key, "value": float(state["val"][key]), "file": BEST,
                "sha256": digest}
    except (CheckpointError, KeyError, TypeError, ValueError):
        return None


def save_best(run_dir: str, step: int, key: str, value: float, payload) -> bool:
    """Publish ``payload()`` (a model-only checkpoint, loadable by ``segfix predict``) as
    ``RUN_DIR/best.pt`` with its digest and ``best.json`` (in the order the module docstring gives)
    when ``value`` beats the best recorded (:func:`read_best`; records of a later step than ``step``
    are left by a run resumed before them: ignored). Returns whether it was saved; a ``best.json``
    found not yet updated is rewritten either way."""
    rec_path = os.path.join(run_dir, BEST_RECORD)
    rec = read_best(run_dir, key)
    if rec is not None and int(rec["step"]) < step and rec.get("key") == key and not value > float(rec["value"]):
        _write_record(rec_path, rec)
        return False
    best = best_path(run_dir)
    current = [rec["sha256"]] if rec is not None else []  # accepted while the file is swapped
    digest = save_checkpoint(best, payload(), also_accept=tuple(current))
    _write_record(rec_path, {"step": int(step), "key": key, "value": float(value), "file": BEST, "sha256": digest})
    if current:
        write_digest(best, [digest])
    return True


def _write_record(path: str, rec: dict) -> None:
    """``best.json``, unless it already holds ``rec``."""
    import json

    try:
        with open(path) as f:
            if json.load(f) == rec:
                return
    except (OSError, ValueError):
        pass
    atomic_write_json(path, rec)


def clear_best(run_dir: str) -> None:
    """Remove ``best.pt``, its digest, ``best.json`` and temporary files of a killed save (a fresh
    run in an old RUN_DIR)."""
    for name in (BEST_RECORD, BEST + DIGEST_SUFFIX, BEST):
        p = os.path.join(run_dir, name)
        if os.path.exists(p):
            os.remove(p)
    sweep_temps(run_dir, (BEST, BEST + DIGEST_SUFFIX, BEST_RECORD), only_dead=False)
