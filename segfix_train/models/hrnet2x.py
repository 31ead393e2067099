"""``hrnet2x20``: the paper's HRNet-2x as the authors built it (openseg.pytorch ``HighResolutionNext``
with their ``hrnet2x20`` configuration), so that their ImageNet and SegFix weights load key for key.

Layout (module names are those of their ``state_dict``):

* stem: ``conv1`` (3x3, stride 2, 64 channels) + ``bn1`` + ReLU; there is no ``conv2``/``layer1``;
* ``transition0``: 64 -> 128 channels at stride 2 (3x3 conv) and 64 -> 256 at stride 4 (stride-2
  3x3 conv), each with BN + ReLU;
* ``stage1``: one two-branch module of bottleneck blocks (4 per branch, 32 and 64 inner planes,
  128 and 256 channels), with fusion;
* ``transition1``: 128 -> 20 and 256 -> 40 (3x3 convs) and a new stride-8 branch 256 -> 80;
* ``stage2`` (1 module, 3 branches), ``stage3`` (4 modules, 4 branches), ``stage4`` (3 modules,
  5 branches) of basic blocks (4 per branch); branch widths 20, 40, 80, 160, 320 at strides
  2, 4, 8, 16, 32 (620 channels when concatenated at stride 2).

The backbone has 47,085,184 parameters (the paper's Table 2 gives 47.3 M for the SegFix model).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .hrnet import STEM_CHANNELS, HighResolutionModule, _apply_transition, _conv3x3, _transition

#: The authors' ``hrnet2x20``: stage1 bottleneck widths, then the basic-block branch widths.
HRNET2X20 = dict(stage1_channels=(128, 256), channels=(20, 40, 80, 160, 320), blocks=4,
                 modules=(1, 1, 4, 3))


class HighResolutionNext(nn.Module):
    """The authors' HRNet-2x backbone.

    Args:
        stage1_channels: the two bottleneck branches of ``stage1`` (``4 x`` inner planes).
        channels: the five basic-block branch widths of the last stage.
        blocks: residual blocks per branch in every module.
        modules: number of modules in stages 1, 2, 3 and 4.
        align_corners: of the bilinear upsampling in the fusion units (``True`` in the authors'
            network).

    Input: float ``(N, 3, H, W)``. Output: list of 5 feature maps, highest resolution first,
    ``(N, channels[b], ceil(H / s_b), ceil(W / s_b))`` with ``s_b = 2 * 2**b``. ``spec``: the
    ``create_backbone`` name and overrides that rebuild it.
    """

    def __init__(self, stage1_channels=HRNET2X20["stage1_channels"], channels=HRNET2X20["channels"],
                 blocks: int = HRNET2X20["blocks"], modules=HRNET2X20["modules"], align_corners: bool = False):
        super().__init__()
        stage1_channels = tuple(int(c) for c in stage1_channels)
        channels = tuple(int(c) for c in channels)
        if len(stage1_channels) != 2 or len(channels) != 5 or len(modules) != 4:
            raise ValueError(f"expected 2 stage-1 widths, 5 branch widths and 4 module counts, got "
                             f"{stage1_channels!r}, {channels!r}, {modules!r}")
        self.out_channels = channels
        self.stride = 2
        cfg = dict(stage1_channels=stage1_channels, channels=channels, blocks=int(blocks),
                   modules=tuple(int(m) for m in modules))
        #: ``create_backbone`` arguments that rebuild this network (``align_corners`` aside).
        self.spec = {"name": "hrnet2x20", **{k: v for k, v in cfg.items() if v != HRNET2X20[k]}}
        self.align_corners = bool(align_corners)
        self.conv1 = _conv3x3(3, STEM_CHANNELS, stride=2)
        self.bn1 = nn.BatchNorm2d(STEM_CHANNELS)
        self.transition0 = _transition([STEM_CHANNELS], stage1_channels)
        self.stage1 = nn.Sequential(*[
            HighResolutionModule(stage1_channels, blocks, block="bottleneck", align_corners=align_corners)
            for _ in range(modules[0])])
        pre = list(stage1_channels)
        for s in range(3):
            cur = channels[: 3 + s]
            setattr(self, f"transition{s + 1}", _transition(pre, cur))
            setattr(self, f"stage{s + 2}", nn.Sequential(*[
                HighResolutionModule(cur, blocks, align_corners=align_corners) for _ in range(modules[s + 1])]))
            pre = list(cur)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = F.relu(self.bn1(self.conv1(x)), inplace=True)
        ys = self.stage1(_apply_transition(self.transition0, [x]))
        for s in range(3):
            ys = _apply_transition(getattr(self, f"transition{s + 1}"), ys)
            ys = getattr(self, f"stage{s + 2}")(ys)
        return ys
