"""The authors' SegFix checkpoints (openseg.pytorch ``SegFix_HRNet``) -> our ``SegFixModel``.

What their trainer saves: ``{"state_dict": ..., "config_dict": ..., ...}`` (``config_dict`` is
their whole configuration; ``config_dict["network"]["backbone"]`` names the architecture:
``hrnet18``, ``hrnet32``, ``hrnet48`` or ``hrnet2x20``), keys prefixed ``module.`` when the model
was wrapped in DataParallel. Backbone keys are ``backbone.<our backbone's names>``; the heads are
``mask_head`` (2 logits) and ``dir_head`` (``m`` logits), ``0`` conv, ``1`` BN + activation,
``2`` conv (ours: ``0`` conv, ``1`` BN, ``2`` activation, ``3`` conv, so that SyncBatchNorm
conversion and plain torch modules apply). Two normalisation layouts exist:

* ``inplace_abn`` (their released checkpoints): every BN is an ``InPlaceABNSync`` module (keys
  ``weight``, ``bias``, ``running_mean``, ``running_var``; no ``num_batches_tracked``); in the
  heads it includes a leaky ReLU (slope 0.01). InPlace-ABN scales by ``|weight| + eps``
  (``eps = 1e-5``), not by ``weight``, so by default (``abn_scale=True``) the importer stores
  ``|weight| + 1e-5`` in our torch BN layers: that is what their released models compute.
  ``abn_scale=False`` keeps ``weight`` as stored (what a torch-BN stand-in for InPlace-ABN
  computes; the fixture in ``shared/fixtures/openseg_model`` was made that way). For positive
  weights the two differ only by the ``1e-5``: about 2e-4 of the logits' range on that fixture;
* torch BN (``torchbn``/``torchsyncbn``): the head's BN + ReLU is a ``Sequential``
  (``mask_head.1.0.*``), with ``num_batches_tracked``.

The architecture comes from ``config_dict`` when present, else from the keys (``transition0`` only
exists in ``hrnet2x20``; the HRNetV2 width is the first branch's width) and the number of
directions from ``dir_head``'s last conv; ``model=`` overrides the architecture. Loading is
strict: missing, unexpected or misshapen keys are an error that names them. Files are read with
``torch.load(weights_only=True)``; numpy scalars (which their trainer can leave in its metadata)
are the only other objects allowed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from segfix_data.errors import InputError
from ..checkpoint import CONVERTED_FORMAT, check_finite, file_sha256, load_weights_file, make_payload
from .segfix import build_model
from .spec import spec_shapes

#: The authors' backbone names -> ours.
OPENSEG_BACKBONES = {"hrnet18": "hrnet_w18", "hrnet32": "hrnet_w32", "hrnet48": "hrnet_w48",
                     "hrnet2x20": "hrnet2x20"}
_WIDTHS = {18: "hrnet_w18", 32: "hrnet_w32", 48: "hrnet_w48"}
INPLACE_ABN_EPS = 1e-5


def _state_dict_of(obj: object) -> dict | None:
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    return None


def _strip_module(sd: dict) -> dict:
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in sd.items()}


def is_openseg_segfix(obj: object) -> bool:
    """Whether a loaded file is one of the authors' SegFix checkpoints (``mask_head`` and
    ``dir_head`` keys, with or without ``module.``)."""
    sd = _state_dict_of(obj)
    if sd is None:
        return False
    keys = _strip_module(sd)
    return any(k.startswith("mask_head.") for k in keys) and any(k.startswith("dir_head.") for k in keys)


@dataclass
class OpensegCheckpoint:
    """An authors' SegFix checkpoint mapped to our names.

    ``state_dict``: our ``SegFixModel`` keys (``num_batches_tracked`` added); ``spec``: the
    ``create_model`` arguments that rebuild their network; ``bn_layout``: ``"inplace_abn"`` or
    ``"torch"``; ``arch_source``: ``"config_dict"``, ``"keys"`` or ``"override"``."""

    path: str
    state_dict: dict
    spec: dict
    bn_layout: str
    arch_source: str
    config_backbone: str | None
    abn_scale: bool = True


def _infer_arch(path: str, sd: dict) -> str:
    if "backbone.transition0.0.0.weight" in sd:
        return "hrnet2x20"
    w = sd.get("backbone.transition1.0.0.weight")
    if w is None or int(w.shape[0]) not in _WIDTHS:
        raise InputError(f"{path!r}: cannot tell the HRNet architecture from its keys; pass --model "
                         f"({', '.join(OPENSEG_BACKBONES.values())})")
    return _WIDTHS[int(w.shape[0])]


def read_openseg_checkpoint(path: str, obj: object | None = None, model: str | None = None,
                            abn_scale: bool = True) -> OpensegCheckpoint:
    """Read (or take the already loaded ``obj`` of) an authors' SegFix checkpoint and map it to our
    key names and BN semantics; ``model`` overrides the architecture; ``abn_scale``: see the
    module docstring."""
    obj = load_weights_file(path) if obj is None else obj
    sd = _state_dict_of(obj)
    if sd is None or not is_openseg_segfix(obj):
        raise InputError(f"{path!r} is not an openseg.pytorch SegFix checkpoint (no mask_head/dir_head "
                         f"weights under 'state_dict')")
    sd = _strip_module(sd)
    cfg_backbone = None
    if isinstance(obj, dict) and isinstance(obj.get("config_dict"), dict):
        net = obj["config_dict"].get("network")
        cfg_backbone = net.get("backbone") if isinstance(net, dict) else None
    if model is not None:
        arch, source = model, "override"
    elif cfg_backbone is not None:
        if cfg_backbone not in OPENSEG_BACKBONES:
            raise InputError(f"{path!r}: its config_dict names backbone {cfg_backbone!r}, which segfix does "
                             f"not implement (supported: {sorted(OPENSEG_BACKBONES)})")
        arch, source = OPENSEG_BACKBONES[cfg_backbone], "config_dict"
    else:
        arch, source = _infer_arch(path, sd), "keys"
    if "mask_head.1.0.weight" in sd:
        layout, act = "torch", "relu"
    elif "mask_head.1.weight" in sd:
        layout, act = "inplace_abn", "leaky_relu"
    else:
        raise InputError(f"{path!r}: mask_head has neither the InPlace-ABN layout (mask_head.1.weight) "
                         f"nor the torch BN layout (mask_head.1.0.weight)")
    d = sd.get("dir_head.2.weight")
    if d is None or d.ndim != 4:
        raise InputError(f"{path!r}: dir_head.2.weight (the direction classifier) is missing")
    out = {}
    for k, v in sd.items():
        for h in ("mask_head.", "dir_head."):
            if k.startswith(h + "1.0."):  # torch layout: Sequential(BN, ReLU)
                k = h + "1." + k[len(h) + 4:]
            elif k.startswith(h + "2."):  # the last conv: ours has the activation as module 2
                k = h + "3." + k[len(h) + 2:]
        out[k] = v
    if layout == "inplace_abn" and abn_scale:
        for k in [k for k in out if k.endswith(".running_var")]:
            w = k[: -len("running_var")] + "weight"
            if w in out:
                out[w] = out[w].abs() + INPLACE_ABN_EPS
    spec = dict(name=arch, num_directions=int(d.shape[0]), head="openseg", head_act=act, align_corners=True)
    check_finite(path, out)
    return OpensegCheckpoint(path, out, spec, layout, source, cfg_backbone, bool(abn_scale))


def _shorten(keys: list[str], n: int = 8) -> str:
    return ", ".join(keys[:n]) + (f", ... ({len(keys)} in all)" if len(keys) > n else "")


def check_fit(own: dict, sd: dict, path: str, hint: str = "") -> None:
    """``InputError`` unless ``sd`` fits a network whose state dict (tensors or shapes) is ``own``:
    every key of ``sd`` exists there with the same shape, and every key there is given
    (``num_batches_tracked`` buffers aside)."""
    missing = [k for k in own if k not in sd and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in sd if k not in own]
    shape = {k: tuple(getattr(v, "shape", v)) for k, v in own.items()}
    mismatched = [f"{k} {tuple(sd[k].shape)} vs {shape[k]}" for k in sd
                  if k in own and tuple(sd[k].shape) != shape[k]]
    if missing or unexpected or mismatched:
        parts = [f"{name} [{_shorten(keys)}]" for name, keys in
                 (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", mismatched))
                 if keys]
        raise InputError(f"{path!r} does not fit {hint or 'the model'}: " + "; ".join(parts))


def load_state_strict(model: torch.nn.Module, sd: dict, path: str, hint: str = "") -> None:
    """Load ``sd`` into ``model`` when it fits (:func:`check_fit`); ``num_batches_tracked`` buffers
    absent from the file are set to 0."""
    own = model.state_dict()
    check_fit(own, sd, path, hint)
    full = dict(sd)
    for k in own:
        if k not in full:
            full[k] = torch.zeros_like(own[k])
    model.load_state_dict(full, strict=True)


def build_openseg_model(ck: OpensegCheckpoint, num_directions: int | None = None) -> torch.nn.Module:
    """Our ``SegFixModel`` holding the checkpoint's weights (eval mode)."""
    if num_directions is not None and int(num_directions) != ck.spec["num_directions"]:
        raise InputError(f"{ck.path!r} predicts {ck.spec['num_directions']} directions but "
                         f"{num_directions} are needed (the shards' num_directions)")
    hint = (f"the authors' {ck.spec['name']} SegFix model ({ck.bn_layout} layout, arch from "
            f"{ck.arch_source}); pass --model if the architecture is wrong")
    # shapes first, on a network without storage: a small file never makes a full network be built
    check_fit(spec_shapes(ck.spec), ck.state_dict, ck.path, hint)
    model = build_model(**ck.spec)
    load_state_strict(model, ck.state_dict, ck.path, hint=hint)
    return model.eval()


def load_openseg_model(path: str, obj: object | None = None, model: str | None = None,
                       num_directions: int | None = None, abn_scale: bool = True) -> torch.nn.Module:
    """``read_openseg_checkpoint`` + ``build_openseg_model``."""
    return build_openseg_model(read_openseg_checkpoint(path, obj, model, abn_scale), num_directions)


def converted_payload(model: torch.nn.Module, source: OpensegCheckpoint) -> dict:
    """A project checkpoint (``checkpoint.CONVERTED_FORMAT``) for an imported model: write it with
    ``checkpoint.save_checkpoint``, which puts its digest beside it, and ``segfix predict
    --checkpoint`` reads it like a training checkpoint."""
    spec = dict(model.spec)
    config = {"model": spec["name"],
              "model_args": {k: v for k, v in spec.items() if k not in ("name", "num_directions")}}
    return make_payload(CONVERTED_FORMAT, model, config, source={
        "file": os.path.basename(source.path), "sha256": file_sha256(source.path), "bn_layout": source.bn_layout,
        "arch_source": source.arch_source, "config_backbone": source.config_backbone, "abn_scale": source.abn_scale})
