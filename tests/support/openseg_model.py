"""The weights of ``shared/fixtures/openseg_model`` rebuilt from its recipe (its README), in the
authors' checkpoint layout (``inplace_abn``), and helpers to write them as the authors' files."""
from __future__ import annotations

import json
import math
import os

import numpy as np
import torch

from tests.support.paths import model_dir
ARCHS = {"hrnet18": "hrnet_w18", "hrnet2x20": "hrnet2x20"}


def fixture_path(name: str) -> str:
    return os.path.join(model_dir(), name)


def authors_state_dict(arch: str) -> dict[str, torch.Tensor]:
    """``{key: tensor}`` in the order of ``<arch>_keys.json``: BN tensors from ``<arch>_bn.npz``,
    conv weights ``N(0, 1) * sqrt(2 / fan_in)`` drawn with ``default_rng(position)``."""
    keys = json.load(open(fixture_path(f"{arch}_keys.json")))
    bn = np.load(fixture_path(f"{arch}_bn.npz"))
    sd = {}
    for i, (k, shape) in enumerate(keys):
        if k in bn.files:
            sd[k] = torch.from_numpy(bn[k].copy())
        else:
            _, c, kh, kw = shape
            w = np.random.default_rng(i).standard_normal(shape, dtype=np.float32)
            sd[k] = torch.from_numpy(w * np.float32(math.sqrt(2 / (c * kh * kw))))
    return sd


def to_torch_bn_layout(sd: dict) -> dict:
    """The same weights as a ``bn_type`` torchbn checkpoint: head BN + ReLU as ``Sequential``
    (``mask_head.1.0.*``) and ``num_batches_tracked`` on every BN."""
    out = {}
    for k, v in sd.items():
        for h in ("mask_head.1.", "dir_head.1."):
            if k.startswith(h):
                k = h + "0." + k[len(h):]
        out[k] = v
        if k.endswith(".running_var"):
            out[k[: -len("running_var")] + "num_batches_tracked"] = torch.tensor(7)
    return out
