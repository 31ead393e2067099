"""One training step on the device: the precision choice (``amp_choice``), the forward pass whose
loss sees fp32 full-resolution logits (``TrainForward``) and the optimiser step with gradient
accumulation, DDP no-sync and, under fp16, a GradScaler (``TrainStep``)."""
from __future__ import annotations

import contextlib

import torch

from .config import TrainConfig
from .data import device_batch
from .losses import segfix_loss


def bf16_native(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 natively (CUDA compute capability >= 8: Ampere and later;
    older GPUs such as the paper's V100 emulate it, slowly). CPU: True (autocast supports it)."""
    if device.type != "cuda":
        return True
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # older torch without the keyword
        return torch.cuda.get_device_capability(device)[0] >= 8


def amp_choice(amp: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype for ``--amp`` on ``device``: ``auto`` is off on the CPU and, on CUDA, bf16
    where native (``bf16_native``), else fp16 (trained with a GradScaler); ``bf16`` / ``fp16`` as
    asked; ``off``: None."""
    if amp == "off" or (amp == "auto" and device.type != "cuda"):
        return None
    if amp == "auto":
        return torch.bfloat16 if bf16_native(device) else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[amp]


def amp_name(dtype: torch.dtype | None) -> str:
    return {None: "off", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


class TrainForward(torch.nn.Module):
    """The training forward pass: the network at its own stride under autocast (``amp_dtype``, or
    fp32 when None), then its logits cast to float32 *before* the bilinear upsampling to the input
    size, so the loss sees fp32 full-resolution logits rather than bf16/fp16-rounded ones.
    DDP wraps this module (its parameters are the model's).

    Returns: float32 ``(N, 1, H, W)`` boundary logits and ``(N, m, H, W)`` direction logits, as
    ``SegFixModel.forward`` (a two-logit mask head becomes the logit difference)."""

    def __init__(self, model: torch.nn.Module, amp_dtype: torch.dtype | None):
        super().__init__()
        self.model, self.amp_dtype = model, amp_dtype

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ac = torch.autocast(x.device.type, dtype=self.amp_dtype) if self.amp_dtype else contextlib.nullcontext()
        with ac:
            m, d = self.model.forward_raw(x)
        return self.model.to_input_size(m.float(), d.float(), x.shape[-2:])


class TrainStep:
    """One optimiser step: ``accum`` micro-batches forward + backward (DDP gradient sync on the last
    only), SGD step, schedule step. Returns the summed (loss, boundary, direction) of the
    micro-batches as a float64 ``(3,)`` tensor on the device (no host synchronisation, except the
    GradScaler's inf check under fp16).

    ``net``: the model, a ``TrainForward`` or a DDP-wrapped ``TrainForward``. ``amp``: autocast
    dtype (``True`` means bf16, ``False`` / None off); fp16 trains with a ``GradScaler``."""

    def __init__(self, net, opt, sched, cfg: TrainConfig, device: torch.device, use_cl: bool,
                 amp, world: int):
        dtype = torch.bfloat16 if amp is True else (amp or None)
        if not isinstance(getattr(net, "module", net), TrainForward):
            net = TrainForward(net, dtype)
        self.net, self.opt, self.sched, self.cfg = net, opt, sched, cfg
        self.device, self.use_cl, self.world = device, use_cl, world
        self.num_directions = getattr(net, "module", net).model.num_directions
        self.autocast = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype else contextlib.nullcontext
        self.scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None

    def __call__(self, micro_batches: list[dict]) -> torch.Tensor:
        cfg, dev = self.cfg, self.device
        sums = torch.zeros(3, dtype=torch.float64, device=dev)
        n = len(micro_batches)
        for a, b in enumerate(micro_batches):
            x, bt, dt = device_batch(b, dev, self.num_directions, self.use_cl)
            sync = self.net.no_sync() if self.world > 1 and a < n - 1 else contextlib.nullcontext()
            with sync:
                bl, dl = self.net(x)
                losses = segfix_loss(bl, dl, bt, dt, pixels=cfg.direction_pixels,
                                     boundary_weight=cfg.boundary_weight, direction_weight=cfg.direction_weight)
                loss = losses["loss"] / n
                (self.scaler.scale(loss) if self.scaler else loss).backward()
            sums += torch.stack([losses[k].detach().double() for k in ("loss", "boundary", "direction")])
        if self.scaler:
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self.sched.step()
        return sums
