"""``OFFSETS_DIR/predict.json``: what an offsets directory was predicted with, so that a rerun never
mixes two runs' offsets.

A rerun of ``segfix predict`` into the same directory keeps the complete offsets files of the
earlier run (resuming an interrupted one). That is right only when both runs compute the same
offsets, so every run records in ``predict.json`` (atomically, before any offsets file is written):

* ``checkpoint``: the SHA-256 of the checkpoint file (when the caller names it; the CLI does);
* ``weights``: a SHA-256 of the model's tensors (names, dtypes, shapes, bytes), which also tells
  apart one authors' file read with ``--abn-weight abs-eps`` and with ``as-stored``;
* ``model``: the network's ``spec``;
* the tester and its settings (``PredictOptions`` as resolved on this device: ``threshold``,
  ``tile``, ``stride`` (the tile's when not given), ``amp`` (the precision actually used), or
  ``openseg_mode``).

A later run with other values is refused (:class:`OffsetsDirError`, one line naming each setting
that differs, e.g. ``threshold: 0.5 -> 0.3``) unless ``overwrite``; then the earlier run's offsets
files (``*.npz``, ``*.mat`` directly in the directory) are removed before the new record is
written, so no earlier file is ever kept under a new record. Offsets files without a record (from
another tool, or an older segfix) are refused the same way. The window batch and the device are
not recorded: they do not change which offsets are computed.
"""
from __future__ import annotations

import hashlib
import json
import os

import torch

from segfix_data.atomic import atomic_write_json, sweep_temps
from segfix_data.errors import InputError
from segfix_data.settings import flatten_settings

RECORD = "predict.json"
#: What a run writes into the offsets directory (``predict.write_outputs``).
OUTPUT_SUFFIXES = (".npz", ".mat")


class OffsetsDirError(InputError):
    """The offsets directory holds another run's offsets (a user error: ``--overwrite`` or another
    ``--out``)."""


def weights_digest(net: torch.nn.Module) -> str:
    """Hex SHA-256 over ``net``'s state dict in key order: each name, dtype, shape and the bytes."""
    h = hashlib.sha256()
    for name, t in sorted(net.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy())
    return h.hexdigest()


def run_record(net: torch.nn.Module, settings: dict, checkpoint: str | None = None) -> dict:
    """The record of a run: ``settings`` (``OffsetsPredictor.settings``) with the model's ``spec``,
    the digest of its weights and, given ``checkpoint`` (a path), the digest of that file."""
    from .checkpoint import file_sha256

    rec = {"model": dict(getattr(net, "spec", {})), "weights": weights_digest(net), **settings}
    if checkpoint is not None:
        rec["checkpoint"] = file_sha256(checkpoint)
    return json.loads(json.dumps(rec))  # as it reads back from the file


def _show(key: str, v) -> str:
    if isinstance(v, str) and key in ("checkpoint", "weights") and len(v) == 64:
        return f"sha256 {v[:12]}"
    return "<unset>" if v is _MISSING else repr(v)


_MISSING = object()


def differences(old: dict, new: dict) -> list[str]:
    """``"name: OLD -> NEW"`` per setting that differs (``weights`` left out when ``checkpoint``
    differs: another file has other weights)."""
    a, b = flatten_settings(old), flatten_settings(new)
    keys = sorted(k for k in set(a) | set(b) if a.get(k, _MISSING) != b.get(k, _MISSING))
    if "checkpoint" in keys:
        keys = [k for k in keys if k != "weights"]
    order = ["checkpoint", "weights"]  # the model first, then how it was run
    keys.sort(key=lambda k: (order.index(k) if k in order else len(order), k))
    return [f"{k}: {_show(k, a.get(k, _MISSING))} -> {_show(k, b.get(k, _MISSING))}" for k in keys]


def _outputs(out_dir: str) -> list[str]:
    return sorted(os.path.join(out_dir, e.name) for e in os.scandir(out_dir)
                  if e.name.endswith(OUTPUT_SUFFIXES) and not e.name.startswith(".") and e.is_file())


def claim_offsets_dir(out_dir: str, record: dict, overwrite: bool) -> list[str]:
    """Make ``out_dir`` hold offsets of the run ``record`` describes only (module docstring):
    removes temporary files of killed writers, refuses another run's offsets unless ``overwrite``
    (then removes them), and writes ``predict.json``. Returns the removed offsets files."""
    os.makedirs(out_dir, exist_ok=True)
    sweep_temps(out_dir, suffixes=(*OUTPUT_SUFFIXES, ".json"))
    path = os.path.join(out_dir, RECORD)
    old, problem = None, None
    if os.path.isfile(path):
        try:
            with open(path) as f:
                old = json.load(f)
            if not isinstance(old, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as e:
            problem = f"its record {RECORD} is unreadable ({e})"
    if old == record:
        return []
    files = _outputs(out_dir)
    if old is not None:
        problem = f"holds offsets predicted with other settings ({'; '.join(differences(old, record))})"
    elif problem is None and files:
        problem = (f"holds {len(files)} offsets files (e.g. {os.path.basename(files[0])}) but no record of the "
                   f"settings they were predicted with ({RECORD})")
    if problem is not None and not overwrite:
        raise OffsetsDirError(f"{out_dir}: {problem}; pass --overwrite to predict every image again (the "
                              "earlier offsets files are removed), or choose another --out")
    if os.path.exists(path):  # first: a kill below leaves files without a record, which are refused
        os.remove(path)
    for p in files:
        os.remove(p)
    atomic_write_json(path, record)
    return files
