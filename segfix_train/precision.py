"""Mixed precision: the one AMP setting of training, prediction and the ``SegFix`` API.

Everywhere a caller chooses the precision it passes one of ``config.AMP_MODES``, the strings of
``segfix train --amp`` and ``segfix predict --amp`` (and ``TrainConfig.amp``):

* ``auto``: fp32 on the CPU; on CUDA bf16 where the GPU computes it natively (compute capability
  >= 8), else fp16 (trained with a ``GradScaler``);
* ``bf16`` / ``fp16``: autocast to that dtype (on the CPU too, where torch supports it);
* ``off``: fp32.

:func:`resolve_amp` turns the string into a :class:`Precision` for one device, once; the forward
passes, the training step and validation take that object.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from segfix_data.errors import InputError

from .config import AMP_MODES

_NAMES = {None: "off", torch.bfloat16: "bf16", torch.float16: "fp16"}


def bf16_native(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 natively (CUDA compute capability >= 8: Ampere and later;
    older GPUs such as the paper's V100 emulate it, slowly). CPU: True (autocast supports it)."""
    if device.type != "cuda":
        return True
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # older torch without the keyword
        return torch.cuda.get_device_capability(device)[0] >= 8


@dataclass(frozen=True)
class Precision:
    """An AMP setting resolved for one device type: the autocast ``dtype`` (None: fp32)."""

    device_type: str
    dtype: torch.dtype | None = None

    @property
    def name(self) -> str:
        """``"off"``, ``"bf16"`` or ``"fp16"`` (what logs and ``config.json`` record)."""
        return _NAMES[self.dtype]

    @property
    def needs_grad_scaler(self) -> bool:
        """fp16 gradients underflow without loss scaling; bf16 and fp32 need none."""
        return self.dtype == torch.float16

    def autocast(self):
        """A fresh context manager: ``torch.autocast`` to ``dtype``, or nothing under fp32."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)


def check_amp(amp: str) -> str:
    """``amp`` itself when it is one of :data:`AMP_MODES`; else ``InputError`` naming the choices."""
    if not isinstance(amp, str) or amp not in AMP_MODES:
        raise InputError(f"amp must be one of {'|'.join(AMP_MODES)}, got {amp!r}")
    return amp


def resolve_amp(amp: str, device: torch.device | str) -> Precision:
    """The :class:`Precision` of the AMP setting ``amp`` on ``device`` (module docstring)."""
    device = torch.device(device)
    check_amp(amp)
    if amp == "off" or (amp == "auto" and device.type != "cuda"):
        return Precision(device.type)
    if amp == "auto":
        return Precision(device.type, torch.bfloat16 if bf16_native(device) else torch.float16)
    return Precision(device.type, {"bf16": torch.bfloat16, "fp16": torch.float16}[amp])
