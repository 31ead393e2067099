"""The SegFix network: an HRNet backbone, its branches concatenated at the highest resolution,
and two heads (boundary and direction), plus loading of ImageNet-pretrained backbone weights.

Two head layouts (``head``):

* ``"segfix"`` (ours, the default for new training): each head is
  ``1x1 conv -> BN -> ReLU (256) -> 1x1 conv with bias``; the boundary head has **one** logit
  (binary cross-entropy, as the paper states), the direction head ``m``;
* ``"openseg"`` (the authors' ``SegFix_HRNet``): ``mask_head`` and ``dir_head`` are
  ``1x1 conv (no bias) -> BN + activation (256) -> 1x1 conv (no bias)`` with **two** mask logits
  (softmax) and ``m`` direction logits; the activation is a leaky ReLU (slope 0.01) in their
  released checkpoints (``bn_type`` ``inplace_abn``) and a ReLU with torch BN. The two softmax
  logits are the same model as one logit ``l1 - l0``, which is what ``forward`` returns.

``align_corners`` chooses the bilinear upsampling everywhere in the network (branch fusion, the
concatenation of branches, and the upsampling of the heads' outputs in ``forward``): ``False``
(ours: the pixel-centre convention of every other resampling in this project) or ``True`` (the
authors'; on identical weights the choice alone changes about a third of the predicted offsets, so
their weights need theirs). A model's ``spec`` records all of these choices; checkpoints store it
so that they always rebuild the same network.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from segfix_data.errors import InputError

from .hrnet import MODEL_CONFIGS, create_hrnetv2
from .hrnet2x import HighResolutionNext

HEAD_CHANNELS = 256
HEADS = ("segfix", "openseg")
HEAD_ACTIVATIONS = ("relu", "leaky_relu")
LEAKY_SLOPE = 0.01

#: Backbone names accepted by ``create_model``.
BACKBONES = (*MODEL_CONFIGS, "hrnet2x20")

#: Key prefixes of the official classification checkpoints that are not part of the backbone.
CLASSIFIER_PREFIXES = ("incre_modules.", "downsamp_modules.", "final_layer.", "classifier.")

_REMOVED = {"hrnet2x": "'hrnet2x' (our stem-branch approximation of HRNet-2x) was removed; use "
                       "'hrnet2x20', the authors' HRNet-2x, which has ImageNet and SegFix weights"}


def create_backbone(name: str, **overrides) -> nn.Module:
    """Build a backbone by name (``BACKBONES``); ``overrides`` replace its table entries (e.g.
    ``blocks=1, modules=(1, 1, 1)`` for a tiny test network) or set ``align_corners``."""
    if name in _REMOVED:
        raise InputError(_REMOVED[name])
    if name == "hrnet2x20":
        return HighResolutionNext(**overrides)
    if name not in MODEL_CONFIGS:
        raise InputError(f"unknown model {name!r}; choose one of {list(BACKBONES)}")
    return create_hrnetv2(name, **overrides)


def _head(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, HEAD_CHANNELS, 1, bias=False),
        nn.BatchNorm2d(HEAD_CHANNELS),
        nn.ReLU(inplace=True),
        nn.Conv2d(HEAD_CHANNELS, cout, 1, bias=True),
    )


def _openseg_head(cin: int, cout: int, act: str) -> nn.Sequential:
    """The authors' head: ``0`` conv, ``1`` BN, ``2`` activation, ``3`` conv (their files number
    the last conv ``2``: BN and activation are one module there; the importer renames)."""
    if act not in HEAD_ACTIVATIONS:
        raise InputError(f"head activation must be one of {HEAD_ACTIVATIONS}, got {act!r}")
    return nn.Sequential(
        nn.Conv2d(cin, HEAD_CHANNELS, 1, bias=False),
        nn.BatchNorm2d(HEAD_CHANNELS),
        nn.ReLU() if act == "relu" else nn.LeakyReLU(LEAKY_SLOPE),
        nn.Conv2d(HEAD_CHANNELS, cout, 1, bias=False),
    )


class SegFixModel(nn.Module):
    """Boundary and direction prediction from an image.

    Args:
        backbone: an HRNet backbone (``out_channels`` lists its branch widths, ``stride`` the
            first branch's stride).
        num_directions: ``m``, the number of direction bins (4, 8 or 16).
        head: ``"segfix"`` (ours) or ``"openseg"`` (the authors'); see the module docstring.
        head_act: activation of the ``openseg`` head: ``"relu"`` or ``"leaky_relu"``.
        align_corners: of every bilinear upsampling after the backbone (the backbone has its own).

    Input: float ``(N, 3, H, W)`` normalised image.
    Output of ``forward``: ``(boundary, direction)``: float ``(N, 1, H, W)`` boundary logits and
    float ``(N, m, H, W)`` direction logits. ``forward_raw`` gives the heads' outputs at the
    network's stride.

    Example:
        >>> model = create_model("hrnet_w18", blocks=1, modules=(1, 1, 1)).eval()
        >>> [t.shape[1] for t in model(torch.zeros(1, 3, 64, 64))]
        [1, 8]
    """

    def __init__(self, backbone: nn.Module, num_directions: int = 8, head: str = "segfix",
                 head_act: str = "relu", align_corners: bool = False):
        super().__init__()
        if num_directions not in (4, 8, 16):
            raise InputError(f"num_directions must be 4, 8 or 16, got {num_directions!r}")
        if head not in HEADS:
            raise InputError(f"head must be one of {HEADS}, got {head!r}")
        if head == "segfix" and head_act != "relu":
            raise InputError(f"the 'segfix' head uses a ReLU, got head_act={head_act!r}")
        self.backbone = backbone
        self.num_directions = int(num_directions)
        self.head = head
        self.head_act = head_act
        self.align_corners = bool(align_corners)
        cin = sum(backbone.out_channels)
        if head == "segfix":
            self.boundary_head = _head(cin, 1)
            self.direction_head = _head(cin, self.num_directions)
        else:
            self.mask_head = _openseg_head(cin, 2, head_act)
            self.dir_head = _openseg_head(cin, self.num_directions, head_act)
        self.spec: dict = {}  # filled by create_model

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Concatenated branch features at the highest branch resolution, ``(N, C, H/s, W/s)``."""
        ys = self.backbone(x)
        size = ys[0].shape[-2:]
        ups = [ys[0]] + [F.interpolate(y, size=size, mode="bilinear", align_corners=self.align_corners)
                         for y in ys[1:]]
        return torch.cat(ups, dim=1)

    def forward_raw(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The heads' outputs at the network's stride ``s`` (4, or 2 for ``hrnet2x20``): float
        ``(N, K, ceil(H/s), ceil(W/s))`` mask logits (``K = 1`` for the ``segfix`` head, ``2``
        for ``openseg``) and float ``(N, m, ceil(H/s), ceil(W/s))`` direction logits."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected an image batch of shape (N, 3, H, W), got {tuple(x.shape)}")
        f = self.features(x)
        if self.head == "segfix":
            return self.boundary_head(f), self.direction_head(f)
        return self.mask_head(f), self.dir_head(f)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        m, d = self.forward_raw(x)
        if m.shape[1] == 2:
            m = m[:, 1:2] - m[:, 0:1]  # softmax(l)[1] == sigmoid(l1 - l0)
        size = x.shape[-2:]
        b = F.interpolate(m, size=size, mode="bilinear", align_corners=self.align_corners)
        d = F.interpolate(d, size=size, mode="bilinear", align_corners=self.align_corners)
        return b, d


def boundary_probability(mask_logits: torch.Tensor) -> torch.Tensor:
    """Boundary probability ``(N, 1, h, w)`` from ``forward_raw``'s mask logits: the softmax's
    boundary channel for two logits, the sigmoid for one."""
    if mask_logits.shape[1] == 2:
        return torch.softmax(mask_logits, dim=1)[:, 1:2]
    return torch.sigmoid(mask_logits)


@dataclass
class LoadReport:
    """What ``load_pretrained`` did: keys loaded, backbone keys the file lacked (``missing``), file
    keys that fit nowhere (``unexpected``), classification-head keys skipped, shape mismatches
    (also listed as missing, since they were not loaded)."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    classifier: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"loaded {len(self.loaded)} tensors; missing {len(self.missing)}; unexpected "
                f"{len(self.unexpected)}; shape mismatches {len(self.mismatched)}; classification-head "
                f"keys skipped {len(self.classifier)}")


def _backbone_state_dict(path: str, obj: object | None = None) -> dict[str, torch.Tensor]:
    if obj is None:
        from .openseg_import import load_weights_file

        obj = load_weights_file(path)
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise InputError(f"{path!r} does not hold a state dict (got {type(obj).__name__})")
    out = {}
    for k, v in obj.items():
        for prefix in ("module.", "backbone."):
            if k.startswith(prefix):
                k = k[len(prefix):]
        out[k] = v
    return out


def load_pretrained(model: SegFixModel, path: str, obj: object | None = None) -> LoadReport:
    """Load backbone weights from an official ``hrnetv2_w*_imagenet_pretrained.pth``, the
    authors' ``hr_rnet_bt_w20_imagenet_pretrained.pth`` for ``hrnet2x20`` (or any state dict with
    the same key layout, optionally prefixed ``module.`` / ``backbone.``); ``obj``: the file's
    content when already loaded.

    Keys are matched by name and shape; ``num_batches_tracked`` buffers absent from older files are
    not counted as missing. Returns a ``LoadReport``; never downloads.
    """
    src = _backbone_state_dict(path, obj)
    own = model.backbone.state_dict()
    report = LoadReport()
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
    model.backbone.load_state_dict(to_load, strict=False)
    return report


def create_model(name: str, num_directions: int = 8, pretrained: str | None = None, *,
                 head: str = "segfix", head_act: str = "relu", align_corners: bool = False,
                 **backbone_overrides) -> SegFixModel:
    """Build a SegFix model by backbone name (``hrnet_w18``, ``hrnet_w32``, ``hrnet_w48``,
    ``hrnet2x20``).

    Args:
        num_directions: ``m`` (4, 8 or 16).
        pretrained: a local weights file: an ImageNet backbone file (see ``load_pretrained``; the
            report is stored as ``model.pretrained_report``), or one of the authors' SegFix
            checkpoints (``segfix_train.models.openseg_import``), whose architecture then replaces
            ``head``, ``head_act`` and ``align_corners`` and whose weights are loaded strictly.
        head, head_act, align_corners: see ``SegFixModel``; the defaults are ours.
        backbone_overrides: e.g. ``blocks=1, modules=(1, 1, 1)`` for a tiny test network.

    ``model.spec`` holds everything needed to build the same network again
    (``create_model(**model.spec)``).
    """
    obj = None
    if pretrained:
        from .openseg_import import (build_openseg_model, is_openseg_segfix, load_weights_file,
                                     read_openseg_checkpoint)

        obj = load_weights_file(pretrained)
        if is_openseg_segfix(obj):
            ck = read_openseg_checkpoint(pretrained, obj)
            if ck.spec["name"] != name:
                raise InputError(f"{pretrained!r} holds the authors' {ck.spec['name']} SegFix model, not "
                                 f"{name}; pass --model {ck.spec['name']}")
            model = build_openseg_model(ck, num_directions).train()
            model.pretrained_report = LoadReport(loaded=sorted(ck.state_dict))
            return model
    backbone = create_backbone(name, align_corners=align_corners, **backbone_overrides)
    model = SegFixModel(backbone, num_directions=num_directions, head=head, head_act=head_act,
                        align_corners=align_corners)
    model.spec = dict(name=name, num_directions=int(num_directions), head=head, head_act=head_act,
                      align_corners=bool(align_corners), **backbone_overrides)
    model.pretrained_report = load_pretrained(model, pretrained, obj) if pretrained else None
    return model
