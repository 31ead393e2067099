"""The SegFix network: an HRNet backbone, its branches concatenated at the highest resolution,
and two heads (boundary and direction); ``build_model`` builds it from its ``spec``
(``factory.create_model`` adds pretrained weights).

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
    ``spec``: the ``build_model`` arguments that rebuild this network (set here, so that a model
    built directly saves a checkpoint ``predict.load_model`` can rebuild); ``pretrained_report``:
    what ``load_pretrained`` loaded (None until then).

    Output of ``forward``: ``(boundary, direction)``: float ``(N, 1, H, W)`` boundary logits and
    float ``(N, m, H, W)`` direction logits. ``forward_raw`` gives the heads' outputs at the
    network's stride.

    Example:
        >>> model = build_model("hrnet_w18", blocks=1, modules=(1, 1, 1)).eval()
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
        backbone_spec = getattr(backbone, "spec", None)
        if not isinstance(backbone_spec, dict) or "name" not in backbone_spec:
            raise InputError("the backbone has no spec (name and overrides) to rebuild it from a "
                             "checkpoint; build it with create_backbone")
        if bool(getattr(backbone, "align_corners", align_corners)) != bool(align_corners):
            raise InputError(f"the backbone was built with align_corners={backbone.align_corners} and the "
                             f"model with {bool(align_corners)}: a checkpoint records one choice for both")
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
        #: ``build_model`` / ``create_model`` arguments that rebuild this network (checkpoints store it).
        self.spec: dict = dict(name=backbone_spec["name"], num_directions=self.num_directions, head=head,
                               head_act=head_act, align_corners=self.align_corners,
                               **{k: v for k, v in backbone_spec.items() if k != "name"})
        #: What ``load_pretrained`` loaded into this model (a ``LoadReport``), or None.
        self.pretrained_report = None

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
        return self.to_input_size(*self.forward_raw(x), x.shape[-2:])

    def to_input_size(self, m: torch.Tensor, d: torch.Tensor, size) -> tuple[torch.Tensor, torch.Tensor]:
        """``forward_raw``'s logits as ``forward`` returns them: ``(N, 1, H, W)`` boundary logits
        (a two-logit mask head becomes the logit difference, since softmax(l)[1] equals
        sigmoid(l1 - l0)) and ``(N, m, H, W)`` direction logits, bilinearly upsampled to ``size``
        (H, W) in the dtype they come in."""
        if m.shape[1] == 2:
            m = m[:, 1:2] - m[:, 0:1]
        b = F.interpolate(m, size=size, mode="bilinear", align_corners=self.align_corners)
        d = F.interpolate(d, size=size, mode="bilinear", align_corners=self.align_corners)
        return b, d


def boundary_probability(mask_logits: torch.Tensor) -> torch.Tensor:
    """Boundary probability ``(N, 1, h, w)`` from ``forward_raw``'s mask logits: the softmax's
    boundary channel for two logits, the sigmoid for one."""
    if mask_logits.shape[1] == 2:
        return torch.softmax(mask_logits, dim=1)[:, 1:2]
    return torch.sigmoid(mask_logits)


def build_model(name: str, num_directions: int = 8, *, head: str = "segfix", head_act: str = "relu",
                align_corners: bool = False, **backbone_overrides) -> SegFixModel:
    """A freshly initialised ``SegFixModel`` from its ``spec`` (``build_model(**model.spec)``
    rebuilds ``model``'s network); ``create_model`` adds pretrained weights."""
    backbone = create_backbone(name, align_corners=align_corners, **backbone_overrides)
    return SegFixModel(backbone, num_directions=num_directions, head=head, head_act=head_act,
                       align_corners=align_corners)
