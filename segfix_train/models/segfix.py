"""The SegFix network: an HRNet backbone, its branches concatenated at the highest resolution,
and two heads (boundary and direction), plus loading of ImageNet-pretrained backbone weights.

Design choices (paper section 3.2):

* every backbone output is upsampled bilinearly (``align_corners=False``) to the size of the
  highest-resolution branch (stride 4, or 2 for HRNet-2x) and concatenated;
* each head is ``1x1 conv -> BN -> ReLU`` (256 channels) ``-> 1x1 conv``;
* the boundary head has **one** logit per pixel (binary cross-entropy, as the paper states; the
  authors' code uses two softmax logits, which is the same model: ``sigmoid(l1 - l0)``);
* the direction head has ``m`` logits (``num_directions``);
* both are upsampled bilinearly to the input size.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .hrnet import MODEL_CONFIGS, create_backbone

HEAD_CHANNELS = 256

#: Key prefixes of the official classification checkpoints that are not part of the backbone.
CLASSIFIER_PREFIXES = ("incre_modules.", "downsamp_modules.", "final_layer.", "classifier.")


def _head(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, HEAD_CHANNELS, 1, bias=False),
        nn.BatchNorm2d(HEAD_CHANNELS),
        nn.ReLU(inplace=True),
        nn.Conv2d(HEAD_CHANNELS, cout, 1, bias=True),
    )


class SegFixModel(nn.Module):
    """Boundary and direction prediction from an image.

    Args:
        backbone: a ``HighResolutionNet`` (``out_channels`` lists its branch widths).
        num_directions: ``m``, the number of direction bins (4, 8 or 16).

    Input: float ``(N, 3, H, W)`` normalised image.
    Output: ``(boundary, direction)``: float ``(N, 1, H, W)`` boundary logits and float
    ``(N, m, H, W)`` direction logits.
    """

    def __init__(self, backbone: nn.Module, num_directions: int = 8):
        super().__init__()
        if num_directions not in (4, 8, 16):
            raise ValueError(f"num_directions must be 4, 8 or 16, got {num_directions!r}")
        self.backbone = backbone
        self.num_directions = int(num_directions)
        cin = sum(backbone.out_channels)
        self.boundary_head = _head(cin, 1)
        self.direction_head = _head(cin, self.num_directions)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Concatenated branch features at the highest branch resolution, ``(N, C, H/s, W/s)``."""
        ys = self.backbone(x)
        size = ys[0].shape[-2:]
        ups = [ys[0]] + [F.interpolate(y, size=size, mode="bilinear", align_corners=False) for y in ys[1:]]
        return torch.cat(ups, dim=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected an image batch of shape (N, 3, H, W), got {tuple(x.shape)}")
        f = self.features(x)
        size = x.shape[-2:]
        b = F.interpolate(self.boundary_head(f), size=size, mode="bilinear", align_corners=False)
        d = F.interpolate(self.direction_head(f), size=size, mode="bilinear", align_corners=False)
        return b, d


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


def _read_state_dict(path: str) -> dict[str, torch.Tensor]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"pretrained weights {path!r} not found; pass the path of a local "
                                f"hrnetv2_w*_imagenet_pretrained.pth file (nothing is downloaded)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 -- report the file and the fix
        raise ValueError(f"cannot read pretrained weights {path!r} ({e}); expected a PyTorch state "
                         f"dict saved with torch.save") from e
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise ValueError(f"{path!r} does not hold a state dict (got {type(obj).__name__})")
    out = {}
    for k, v in obj.items():
        for prefix in ("module.", "backbone."):
            if k.startswith(prefix):
                k = k[len(prefix):]
        out[k] = v
    return out


def load_pretrained(model: SegFixModel, path: str) -> LoadReport:
    """Load backbone weights from an official ``hrnetv2_w*_imagenet_pretrained.pth`` (or any state
    dict with the same key layout, optionally prefixed ``module.`` / ``backbone.``).

    Keys are matched by name and shape; ``num_batches_tracked`` buffers absent from older files are
    not counted as missing. Returns a ``LoadReport``; never downloads.
    """
    src = _read_state_dict(path)
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


def create_model(name: str, num_directions: int = 8, pretrained: str | None = None,
                 **backbone_overrides) -> SegFixModel:
    """Build a SegFix model by backbone name (``hrnet_w18``, ``hrnet_w32``, ``hrnet_w48``,
    ``hrnet2x``); ``pretrained`` is a local backbone weights file (see ``load_pretrained``; the
    report is stored as ``model.pretrained_report``)."""
    if name not in MODEL_CONFIGS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODEL_CONFIGS)}")
    model = SegFixModel(create_backbone(name, **backbone_overrides), num_directions=num_directions)
    model.pretrained_report = load_pretrained(model, pretrained) if pretrained else None
    return model
