"""``create_model``: a SegFix network by backbone name, optionally with pretrained weights: an
ImageNet backbone file (``load_pretrained``) or one of the authors' SegFix checkpoints
(``openseg_import``), and :func:`model_from_weights`, the network of a checkpoint, built only once
its spec and weights passed their checks (``spec``).

Dependencies run one way: ``hrnet`` / ``hrnet2x`` <- ``segfix`` (the network) <- ``spec`` (a spec
read from a file, checked) <- ``openseg_import`` (the authors' checkpoints) <- ``factory`` (this
module); weights files are read with ``segfix_train.checkpoint.load_weights_file`` (tensors and
plain values only).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from segfix_data.errors import InputError
from ..checkpoint import CheckpointError, check_finite, load_weights_file
from .openseg_import import build_openseg_model, is_openseg_segfix, read_openseg_checkpoint
from .segfix import SegFixModel, build_model
from .spec import check_spec, check_weights_fit

#: Key prefixes of the official classification checkpoints that are not part of the backbone.
CLASSIFIER_PREFIXES = ("incre_modules.", "downsamp_modules.", "final_layer.", "classifier.")


class PretrainedError(CheckpointError):
    """A pretrained file that does not fit the backbone (loads nothing, or lacks backbone tensors
    and no partial load was allowed). The message names the file and the fix."""


@dataclass
class LoadReport:
    """What ``load_pretrained`` did: keys loaded, backbone keys the file lacked (``missing``), file
    keys that fit nowhere (``unexpected``), classification-head keys skipped, shape mismatches
    (also listed as missing, since they were not loaded); ``total``: the backbone's tensors
    (``num_batches_tracked`` buffers aside)."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    classifier: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    total: int | None = None

    def summary(self) -> str:
        """One line; the loaded count, like ``total``, leaves out ``num_batches_tracked`` buffers."""
        n = sum(1 for k in self.loaded if not k.endswith("num_batches_tracked"))
        of = f" of {self.total}" if self.total is not None else ""
        return (f"loaded {n}{of} tensors; missing {len(self.missing)}; unexpected "
                f"{len(self.unexpected)}; shape mismatches {len(self.mismatched)}; classification-head "
                f"keys skipped {len(self.classifier)}")


def _backbone_state_dict(path: str, obj: object | None = None) -> dict[str, torch.Tensor]:
    if obj is None:
        obj = load_weights_file(path)
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise PretrainedError(f"{path!r} does not hold a state dict (got {type(obj).__name__})")
    out = {}
    for k, v in obj.items():
        for prefix in ("module.", "backbone."):
            if k.startswith(prefix):
                k = k[len(prefix):]
        out[k] = v
    return out


def _shorten(keys: list[str], n: int = 5) -> str:
    return ", ".join(keys[:n]) + (f", ... ({len(keys)} in all)" if len(keys) > n else "")


def load_pretrained(model: SegFixModel, path: str, obj: object | None = None, *,
                    allow_partial: bool = False) -> LoadReport:
    """Load backbone weights from an official ``hrnetv2_w*_imagenet_pretrained.pth``, the
    authors' ``hr_rnet_bt_w20_imagenet_pretrained.pth`` for ``hrnet2x20`` (or any state dict with
    the same key layout, optionally prefixed ``module.`` / ``backbone.``); ``obj``: the file's
    content when already loaded.

    Keys are matched by name and shape; ``num_batches_tracked`` buffers absent from older files are
    not counted as missing. Returns a ``LoadReport`` (also stored as ``model.pretrained_report``);
    never downloads.

    Raises ``PretrainedError`` (a ``CheckpointError``) naming the file when it loads no backbone
    tensor (the wrong file: training would silently start from scratch), or when backbone tensors
    are missing or misshapen unless ``allow_partial`` (``segfix train --allow-partial-pretrained``).
    Nothing is loaded into the model when the file is refused.
    """
    src = _backbone_state_dict(path, obj)
    own = model.backbone.state_dict()
    report = LoadReport(total=sum(1 for k in own if not k.endswith("num_batches_tracked")))
    to_load = {}
    for k, v in src.items():
        if k.startswith(CLASSIFIER_PREFIXES):
            report.classifier.append(k)
        elif k not in own:
            report.unexpected.append(k)
        elif tuple(own[k].shape) != tuple(v.shape):
            report.mismatched.append(f"{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}")
        else:
            to_load[k] = v
    report.loaded = sorted(to_load)
    report.missing = sorted(k for k in own if k not in to_load and not k.endswith("num_batches_tracked"))
    name = model.spec["name"]
    if not report.loaded:
        raise PretrainedError(f"{path}: loads no tensor of the {name} backbone ({report.summary()}); pass "
                              f"the ImageNet backbone file of {name} (e.g. hrnetv2_w18_imagenet_pretrained.pth "
                              f"for hrnet_w18, hr_rnet_bt_w20_imagenet_pretrained.pth for hrnet2x20)")
    if report.missing and not allow_partial:
        detail = f"missing [{_shorten(report.missing)}]"
        if report.mismatched:
            detail += f"; shape mismatches [{_shorten(report.mismatched)}]"
        raise PretrainedError(f"{path}: lacks {len(report.missing)} of the {report.total} tensors of the {name} "
                              f"backbone ({detail}); pass the matching backbone file, or allow a partial "
                              f"load (segfix train --allow-partial-pretrained; allow_partial=True)")
    check_finite(path, to_load)
    model.backbone.load_state_dict(to_load, strict=False)
    model.pretrained_report = report
    return report


def model_from_weights(path: str, spec: object, weights: object) -> SegFixModel:
    """The ``SegFixModel`` of a checkpoint: ``spec`` (its ``model_spec``) and ``weights`` (its
    ``model`` state dict) as read from ``path``, in eval mode.

    Nothing is built until ``spec`` passed :func:`spec.check_spec` (a known architecture or a
    smaller variant of one) and ``weights`` has exactly the keys and shapes the spec implies
    (:func:`spec.check_weights_fit`, on a network of the ``meta`` device), so a small crafted file
    cannot make this allocate more than its own tensors. Raises :class:`CheckpointError` in one line
    naming ``path``."""
    try:
        spec = check_spec(spec)
    except InputError as e:
        raise CheckpointError(f"{path}: {e}; was it edited or written by another tool?") from None
    name, m = spec.get("name"), spec.get("num_directions", 8)
    try:
        check_weights_fit(spec, weights)
    except InputError as e:
        raise CheckpointError(f"{path}: its weights do not fit model {name!r} with {m} directions ({e}); "
                              "was it edited or written by another tool?") from None
    net = build_model(**spec)
    net.load_state_dict(weights)
    return net.eval()


def create_model(name: str, num_directions: int = 8, pretrained: str | None = None, *,
                 head: str = "segfix", head_act: str = "relu", align_corners: bool = False,
                 allow_partial: bool = False, **backbone_overrides) -> SegFixModel:
    """Build a SegFix model by backbone name (``hrnet_w18``, ``hrnet_w32``, ``hrnet_w48``,
    ``hrnet2x20``).

    Args:
        num_directions: ``m`` (4, 8 or 16).
        pretrained: a local weights file: an ImageNet backbone file (see ``load_pretrained``; the
            report is stored as ``model.pretrained_report``), or one of the authors' SegFix
            checkpoints (``segfix_train.models.openseg_import``), whose architecture then replaces
            ``head``, ``head_act`` and ``align_corners`` and whose weights are loaded strictly.
        head, head_act, align_corners: see ``SegFixModel``; the defaults are ours.
        allow_partial: accept an ImageNet backbone file that lacks some backbone tensors.
        backbone_overrides: e.g. ``blocks=1, modules=(1, 1, 1)`` for a tiny test network.

    ``model.spec`` holds everything needed to build the same network again
    (``create_model(**model.spec)``); ``model.pretrained_report`` is None without ``pretrained``.
    """
    obj = None
    if pretrained:
        obj = load_weights_file(pretrained)
        if is_openseg_segfix(obj):
            ck = read_openseg_checkpoint(pretrained, obj)
            if ck.spec["name"] != name:
                raise InputError(f"{pretrained!r} holds the authors' {ck.spec['name']} SegFix model, not "
                                 f"{name}; pass --model {ck.spec['name']}")
            model = build_openseg_model(ck, num_directions).train()
            model.pretrained_report = LoadReport(loaded=sorted(ck.state_dict), total=len(ck.state_dict))
            return model
    model = build_model(name, num_directions, head=head, head_act=head_act, align_corners=align_corners,
                        **backbone_overrides)
    if pretrained:
        load_pretrained(model, pretrained, obj, allow_partial=allow_partial)
    return model
