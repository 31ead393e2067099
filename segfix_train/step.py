"""One training step on the device: the forward pass whose loss sees fp32 full-resolution logits
(``TrainForward``) and the optimiser step with gradient accumulation, DDP no-sync and, under fp16,
a GradScaler (``TrainStep``). The precision comes from ``segfix_train.precision``."""
from __future__ import annotations

import contextlib

import torch

from .data import device_batch
from .losses import segfix_loss
from .precision import Precision


class TrainForward(torch.nn.Module):
    """The training forward pass: the network at its own stride under ``precision``'s autocast,
    then its logits cast to float32 *before* the bilinear upsampling to the input size, so the loss
    sees fp32 full-resolution logits rather than bf16/fp16-rounded ones. DDP wraps this module (its
    parameters are the model's).

    Returns: float32 ``(N, 1, H, W)`` boundary logits and ``(N, m, H, W)`` direction logits, as
    ``SegFixModel.forward`` (a two-logit mask head becomes the logit difference)."""

    def __init__(self, model: torch.nn.Module, precision: Precision):
        super().__init__()
        self.model, self.precision = model, precision

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with self.precision.autocast():
            m, d = self.model.forward_raw(x)
        return self.model.to_input_size(m.float(), d.float(), x.shape[-2:])


class TrainStep:
    """One optimiser step: ``accum`` micro-batches forward + backward (DDP gradient sync on the last
    only), SGD step, schedule step. Returns the summed (loss, boundary, direction) of the
    micro-batches as a float64 ``(3,)`` tensor on the device (no host synchronisation, except the
    GradScaler's inf check under fp16).

    Args:
        net: a ``TrainForward``, or a DDP-wrapped one; its precision decides the GradScaler (fp16).
        opt, sched: the optimiser and the lr schedule of the model's parameters.
        device: where the batches go; ``channels_last``: give the network channels-last input.
        world: the number of ranks (DDP skips the gradient sync of all but the last micro-batch).
        loss_args: keyword arguments of ``losses.segfix_loss`` (``pixels``, ``boundary_weight``,
            ``direction_weight``; its defaults where absent).
    """

    def __init__(self, net: torch.nn.Module, opt: torch.optim.Optimizer, sched, *, device: torch.device,
                 channels_last: bool, world: int = 1, loss_args: dict | None = None):
        forward = getattr(net, "module", net)
        if not isinstance(forward, TrainForward):
            raise TypeError(f"TrainStep trains a TrainForward (or DDP of one), got {type(forward).__name__}")
        self.net, self.opt, self.sched = net, opt, sched
        self.device, self.channels_last, self.world = device, channels_last, world
        self.num_directions = forward.model.num_directions
        self.loss_args = dict(loss_args or {})
        self.scaler = torch.amp.GradScaler(device.type) if forward.precision.needs_grad_scaler else None

    def __call__(self, micro_batches: list[dict]) -> torch.Tensor:
        dev = self.device
        sums = torch.zeros(3, dtype=torch.float64, device=dev)
        n = len(micro_batches)
        for a, b in enumerate(micro_batches):
            x, bt, dt = device_batch(b, dev, self.num_directions, self.channels_last)
            sync = self.net.no_sync() if self.world > 1 and a < n - 1 else contextlib.nullcontext()
            with sync:
                bl, dl = self.net(x)
                losses = segfix_loss(bl, dl, bt, dt, **self.loss_args)
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
