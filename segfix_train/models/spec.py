"""A model ``spec`` read from a file, checked before any network is built.

A checkpoint rebuilds its network from the ``spec`` it stores (``build_model(**spec)``), so a few
bytes of a crafted or edited file could ask for any network: branch widths of a thousand channels
or hundreds of modules take gigabytes before the weights are even compared. Two checks come first:

* :func:`check_spec`: every entry is one ``build_model`` takes, with a value of the right type, and
  the backbone is one of the known architectures (``hrnet.MODEL_CONFIGS``, ``hrnet2x.HRNET2X20``)
  or a smaller variant of one: each width, block and module count at most the largest known
  architecture's at that position (a smaller network is what tests and quick runs train);
* :func:`spec_shapes`: the ``state_dict`` shapes the spec implies, from a network built on the
  ``meta`` device (no storage is allocated), so that :func:`check_weights_fit` can compare them
  with the file's tensors. A network is then built for real only when the file holds its weights:
  building it takes about as much memory as the file's tensors, already in memory.

Both raise :class:`segfix_data.errors.InputError` (the callers turn it into a ``CheckpointError``
naming the file).
"""
from __future__ import annotations

import torch

from segfix_data.errors import InputError

from .hrnet import MODEL_CONFIGS
from .hrnet2x import HRNET2X20
from .segfix import BACKBONES, HEAD_ACTIVATIONS, HEADS, build_model

#: ``(length, smallest value)`` of each backbone setting a spec may override, per family.
_HRNET_KEYS = {"channels": (4, 1), "blocks": (None, 1), "modules": (3, 1)}
_HRNET2X_KEYS = {"stage1_channels": (2, 4), "channels": (5, 1), "blocks": (None, 1), "modules": (4, 1)}


def _largest(configs: list[dict], key: str):
    """Per position, the largest value of ``key`` over ``configs`` (an int for a scalar setting)."""
    values = [c[key] for c in configs]
    if isinstance(values[0], int):
        return max(values)
    return tuple(max(v[i] for v in values) for i in range(len(values[0])))


#: The largest value each setting takes in a known architecture, per family.
LIMITS = {
    "hrnet": {k: _largest(list(MODEL_CONFIGS.values()), k) for k in _HRNET_KEYS},
    "hrnet2x20": {k: _largest([HRNET2X20], k) for k in _HRNET2X_KEYS},
}


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_setting(key: str, value, length: int | None, low: int, high) -> None:
    if length is None:
        if not _is_int(value) or not low <= value <= high:
            raise InputError(f"model spec: {key} must be a whole number from {low} to {high} (the largest "
                             f"known architecture's), got {value!r}")
        return
    if not isinstance(value, (list, tuple)) or len(value) != length or not all(map(_is_int, value)):
        raise InputError(f"model spec: {key} must be {length} whole numbers, got {value!r}")
    for i, (v, h) in enumerate(zip(value, high)):
        if not low <= v <= h:
            raise InputError(f"model spec: {key}[{i}] = {v} is outside {low}..{h} (the largest known "
                             f"architecture's {key} is {list(high)}); refusing to build it")


def check_spec(spec: object) -> dict:
    """``spec`` (a ``SegFixModel.spec`` read from a file) when it describes a known architecture or
    a smaller variant of one (see the module docstring); else ``InputError`` naming the setting."""
    if not isinstance(spec, dict):
        raise InputError(f"model spec must be a dict, got {type(spec).__name__}")
    name = spec.get("name")
    if name not in BACKBONES:
        raise InputError(f"model spec: unknown backbone {name!r}; segfix builds {', '.join(BACKBONES)}")
    family = "hrnet2x20" if name == "hrnet2x20" else "hrnet"
    keys = _HRNET2X_KEYS if family == "hrnet2x20" else _HRNET_KEYS
    allowed = {"name", "num_directions", "head", "head_act", "align_corners", *keys}
    unknown = sorted(map(str, set(spec) - allowed))
    if unknown:
        raise InputError(f"model spec: unknown entries {unknown} for {name} (known: {sorted(allowed)})")
    if spec.get("num_directions", 8) not in (4, 8, 16) or isinstance(spec.get("num_directions"), bool):
        raise InputError(f"model spec: num_directions must be 4, 8 or 16, got {spec.get('num_directions')!r}")
    if spec.get("head", "segfix") not in HEADS:
        raise InputError(f"model spec: head must be one of {HEADS}, got {spec.get('head')!r}")
    if spec.get("head_act", "relu") not in HEAD_ACTIVATIONS:
        raise InputError(f"model spec: head_act must be one of {HEAD_ACTIVATIONS}, got {spec.get('head_act')!r}")
    if not isinstance(spec.get("align_corners", False), bool):
        raise InputError(f"model spec: align_corners must be true or false, got {spec.get('align_corners')!r}")
    for key, (length, low) in keys.items():
        if key in spec:
            _check_setting(key, spec[key], length, low, LIMITS[family][key])
    return spec


def spec_shapes(spec: dict) -> dict[str, tuple[int, ...]]:
    """``{state_dict key: shape}`` of ``build_model(**spec)``, built on the ``meta`` device (no
    memory for weights). Check ``spec`` with :func:`check_spec` first: this still creates the
    network's modules."""
    with torch.device("meta"):
        net = build_model(**spec)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def _shorten(items: list[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f", ... ({len(items)} in all)" if len(items) > n else "")


def check_weights_fit(spec: dict, weights: object) -> None:
    """``InputError`` unless ``weights`` (a state dict read from a file) has exactly the tensors,
    with the shapes, of ``build_model(**spec)``: keys missing, unexpected or misshapen are named.
    ``spec`` must have passed :func:`check_spec`."""
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise InputError("its 'model' entry is not a dict of tensors")
    want = spec_shapes(spec)
    missing = [k for k in want if k not in weights]
    unexpected = [str(k) for k in weights if k not in want]
    misshapen = [f"{k} {tuple(weights[k].shape)} vs {want[k]}" for k in want
                 if k in weights and tuple(weights[k].shape) != want[k]]
    if missing or unexpected or misshapen:
        parts = [f"{what} [{_shorten(keys)}]" for what, keys in
                 (("missing", missing), ("unexpected", unexpected), ("shape mismatches", misshapen)) if keys]
        raise InputError("; ".join(parts))
