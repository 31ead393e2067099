"""HRNetV2 backbones (W18, W32, W48), built by name from a plain table, and the building blocks
that ``hrnet2x20`` (the authors' HRNet-2x) shares with them.

The module names follow the official ImageNet classification checkpoints
(``hrnetv2_w{18,32,48}_imagenet_pretrained.pth`` of HRNet-Image-Classification), so their weights
load key for key: ``conv1``, ``bn1``, ``conv2``, ``bn2`` (stem, stride 4), ``layer1`` (four
bottlenecks, 256 channels), then ``transition{1,2,3}`` and ``stage{2,3,4}``, each stage a sequence of
multi-resolution modules with ``branches.<b>.<k>`` basic blocks and ``fuse_layers.<i>.<j>`` exchange
units. The classification head of those files (``incre_modules``, ``downsamp_modules``,
``final_layer``, ``classifier``) is not part of the backbone.

``align_corners`` chooses the bilinear upsampling of the fusion units (``False``: ours, the
pixel-centre convention that every other resampling in this project uses; ``True``: the authors'
openseg.pytorch network, needed to reproduce their trained models). Branch outputs are summed in
branch order (``j = 0, 1, ...``), as in the authors' code, so that the same weights give the same
floating-point sums.

Plain PyTorch layers only.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

#: name -> configuration. ``channels``: per-branch widths (the last stage has all branches);
#: ``blocks``: basic blocks per branch in every module; ``modules``: modules in stages 2, 3, 4;
MODEL_CONFIGS: dict[str, dict] = {
    "hrnet_w18": dict(channels=(18, 36, 72, 144), blocks=4, modules=(1, 4, 3)),
    "hrnet_w32": dict(channels=(32, 64, 128, 256), blocks=4, modules=(1, 4, 3)),
    "hrnet_w48": dict(channels=(48, 96, 192, 384), blocks=4, modules=(1, 4, 3)),
}

STEM_CHANNELS = 64


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 conv + BN with an identity shortcut; channels unchanged (``cin == cout``)."""

    expansion = 1

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = _conv3x3(channels, channels)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = _conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)), inplace=True)
        y = self.bn2(self.conv2(y))
        return F.relu(y + x, inplace=True)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 (x4 channels) with an optional projection shortcut ``downsample``."""

    expansion = 4

    def __init__(self, cin: int, planes: int):
        super().__init__()
        cout = planes * self.expansion
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.downsample = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout)) if cin != cout else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)), inplace=True)
        y = F.relu(self.bn2(self.conv2(y)), inplace=True)
        y = self.bn3(self.conv3(y))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(y + shortcut, inplace=True)


def _down_chain(cin: int, cout: int, steps: int, last_relu: bool) -> nn.Sequential:
    """``steps`` stride-2 3x3 conv + BN units; the channel change happens at the last unit."""
    units = []
    for k in range(steps):
        last = k == steps - 1
        c_out = cout if last else cin
        layers = [_conv3x3(cin, c_out, stride=2), nn.BatchNorm2d(c_out)]
        if not last or last_relu:
            layers.append(nn.ReLU(inplace=True))
        units.append(nn.Sequential(*layers))
    return nn.Sequential(*units)


class HighResolutionModule(nn.Module):
    """Parallel branches of residual blocks followed by the all-to-all fusion.

    Input and output: a list of ``len(channels)`` tensors ``(N, channels[b], H_b, W_b)`` where each
    branch has half the resolution of the previous one.

    Args:
        channels: width of each branch (unchanged by the module).
        blocks: residual blocks per branch.
        block: ``"basic"`` (two 3x3 convs) or ``"bottleneck"`` (1x1 -> 3x3 -> 1x1 with
            ``channels / 4`` inner planes; the authors' HRNet-2x first stage).
        align_corners: of the bilinear upsampling in the fusion.

    ``fuse_layers[i][j]`` maps branch ``j`` to branch ``i``: ``None`` for ``i == j``; 1x1 conv + BN
    then bilinear upsampling for ``j > i``; ``i - j`` stride-2 3x3 conv + BN units for ``j < i``.
    Output ``i`` is ``relu(sum_j fuse_layers[i][j](x_j))``, summed in the order ``j = 0, 1, ...``.
    """

    def __init__(self, channels: Sequence[int], blocks: int, block: str = "basic",
                 align_corners: bool = False):
        super().__init__()
        if block not in ("basic", "bottleneck"):
            raise ValueError(f"block must be 'basic' or 'bottleneck', got {block!r}")
        n = len(channels)
        self.align_corners = bool(align_corners)

        def make(c):
            return BasicBlock(c) if block == "basic" else Bottleneck(c, c // Bottleneck.expansion)

        self.branches = nn.ModuleList(
            nn.Sequential(*[make(c) for _ in range(blocks)]) for c in channels
        )
        fuse = []
        for i in range(n):
            row = []
            for j in range(n):
                if j > i:
                    row.append(nn.Sequential(nn.Conv2d(channels[j], channels[i], 1, bias=False),
                                             nn.BatchNorm2d(channels[i])))
                elif j == i:
                    row.append(None)
                else:
                    row.append(_down_chain(channels[j], channels[i], i - j, last_relu=False))
            fuse.append(nn.ModuleList(row))
        self.fuse_layers = nn.ModuleList(fuse)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        out = []
        for i, row in enumerate(self.fuse_layers):
            size = xs[i].shape[-2:]
            y = None
            for j, unit in enumerate(row):
                z = xs[j] if j == i else unit(xs[j])
                if j > i:
                    z = F.interpolate(z, size=size, mode="bilinear", align_corners=self.align_corners)
                y = z if y is None else y + z
            out.append(F.relu(y))
        return out


def _transition(pre: Sequence[int], cur: Sequence[int]) -> nn.ModuleList:
    """Branch adapters between stages: conv + BN + ReLU where a kept branch changes width (else
    ``None``), and a chain of stride-2 units from the lowest-resolution branch for each new one."""
    layers = []
    for i, c in enumerate(cur):
        if i < len(pre):
            layers.append(
                nn.Sequential(_conv3x3(pre[i], c), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
                if pre[i] != c else None
            )
        else:
            layers.append(_down_chain(pre[-1], c, i + 1 - len(pre), last_relu=True))
    return nn.ModuleList(layers)


def _apply_transition(transition: nn.ModuleList, ys: list[torch.Tensor]) -> list[torch.Tensor]:
    out = []
    for i, layer in enumerate(transition):
        if i < len(ys):
            out.append(ys[i] if layer is None else layer(ys[i]))
        else:
            out.append(layer(ys[-1]))
    return out


class HighResolutionNet(nn.Module):
    """HRNetV2 backbone.

    Args:
        channels: widths of the 4 branches of the last stage.
        blocks: basic blocks per branch in every module.
        modules: number of multi-resolution modules in stages 2, 3 and 4.
        align_corners: of the bilinear upsampling in the fusion units (see the module docstring).

    Input: float ``(N, 3, H, W)``. Output: list of 4 feature maps, highest resolution first,
    ``(N, channels[b], ceil(H / s_b), ceil(W / s_b))`` with ``s_b = 4 * 2**b``. ``out_channels``
    and ``stride`` give the widths and the first stride; ``spec`` the ``create_backbone`` name and
    overrides that rebuild it.

    Example:
        >>> net = create_hrnetv2("hrnet_w18")
        >>> [f.shape[1] for f in net(torch.zeros(1, 3, 64, 64))]
        [18, 36, 72, 144]
    """

    def __init__(self, channels: Sequence[int], blocks: int = 4, modules: Sequence[int] = (1, 4, 3),
                 align_corners: bool = False):
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if len(modules) != 3 or len(channels) != 4:
            raise ValueError(f"expected 3 stage module counts and 4 channels, "
                             f"got modules={modules!r}, channels={channels!r}")
        self.out_channels = channels
        self.stride = 4
        cfg = dict(channels=channels, blocks=int(blocks), modules=tuple(int(m) for m in modules))
        name = next((n for n, c in MODEL_CONFIGS.items() if c["channels"] == channels), "hrnet_w18")
        #: ``create_backbone`` arguments that rebuild this network (``align_corners`` aside): the
        #: table entry with these branch widths (else ``hrnet_w18``) and the settings that differ.
        self.spec = {"name": name, **{k: v for k, v in cfg.items() if v != MODEL_CONFIGS[name][k]}}
        self.align_corners = bool(align_corners)
        self.conv1 = _conv3x3(3, STEM_CHANNELS, stride=2)
        self.bn1 = nn.BatchNorm2d(STEM_CHANNELS)
        self.conv2 = _conv3x3(STEM_CHANNELS, STEM_CHANNELS, stride=2)
        self.bn2 = nn.BatchNorm2d(STEM_CHANNELS)
        self.layer1 = nn.Sequential(
            Bottleneck(STEM_CHANNELS, 64), *[Bottleneck(256, 64) for _ in range(3)]
        )
        pre = [256]
        for s, n_modules in enumerate(modules):
            cur = channels[: 2 + s]
            setattr(self, f"transition{s + 1}", _transition(pre, cur))
            setattr(self, f"stage{s + 2}", nn.Sequential(
                *[HighResolutionModule(cur, blocks, align_corners=align_corners) for _ in range(n_modules)]))
            pre = cur

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = F.relu(self.bn1(self.conv1(x)), inplace=True)
        x = F.relu(self.bn2(self.conv2(x)), inplace=True)
        ys = [self.layer1(x)]
        for s in range(3):
            ys = _apply_transition(getattr(self, f"transition{s + 1}"), ys)
            ys = getattr(self, f"stage{s + 2}")(ys)
        return ys


def create_hrnetv2(name: str, **overrides) -> HighResolutionNet:
    """Build an HRNetV2 backbone by name (see ``MODEL_CONFIGS``); ``overrides`` replace table
    entries (e.g. ``blocks=1, modules=(1, 1, 1)`` for a tiny test network) or add
    ``align_corners``."""
    cfg = {**MODEL_CONFIGS[name], **overrides}
    return HighResolutionNet(**cfg)
