"""SegFix training losses: class-balanced boundary BCE and class-balanced direction cross-entropy.

Class balancing follows the authors' ``SegFixLoss``: within the pixels a loss covers, class ``c``
gets the weight ``w_c = 1 - n_c / N`` (``n_c`` its pixel count in the batch, ``N`` all counted
pixels) and the loss is the weighted mean ``sum(w_t * l) / sum(w_t)``.

Where the authors' loss turns NaN this one stays finite:

* no counted pixel at all (e.g. no boundary pixel in the batch for the direction loss): the term
  is ``0`` (times the logits, so every parameter still receives a zero gradient, as DDP needs);
* a single class present (its weight is ``0``, so ``sum(w_t) = 0``): unit weights are used.

Ignore: boundary targets equal to 255 and direction targets equal to 255
(``segfix_data.direction.DIRECTION_IGNORE``) are left out.

The direction loss covers the pixels whose ground-truth direction is defined and that are
boundary pixels according to ``mask``: ``"gt"`` (the ground-truth boundary; the paper's reading)
or ``"pred"`` (the predicted boundary, ``sigmoid(logit) > 0.5``; the authors' code). Since our
direction targets are only defined on ground-truth boundary pixels, ``"pred"`` covers the
intersection of both boundaries.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE = 255
DIRECTION_MASKS = ("gt", "pred")


def _balanced_mean(per_pixel: torch.Tensor, classes: torch.Tensor, num_classes: int,
                   anchor: torch.Tensor) -> torch.Tensor:
    """Weighted mean of ``per_pixel`` (float, (P,)) with ``w_c = 1 - n_c / N`` over ``classes``
    (int64, (P,)); ``anchor`` keeps the graph alive when ``P == 0``."""
    if per_pixel.numel() == 0:
        return anchor.sum() * 0.0
    counts = torch.bincount(classes, minlength=num_classes).to(per_pixel.dtype)
    weights = 1.0 - counts / counts.sum()
    w = weights[classes]
    denom = w.sum()
    if denom <= 0:  # one class only: nothing to balance
        return per_pixel.mean()
    return (w * per_pixel).sum() / denom


def boundary_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Class-balanced binary cross-entropy.

    Args:
        logits: float ``(N, 1, H, W)`` boundary logits.
        target: integer ``(N, H, W)``: 1 boundary, 0 not, 255 ignore.

    Returns:
        scalar float32 tensor.
    """
    if logits.ndim != 4 or logits.shape[1] != 1 or target.shape != logits.shape[:1] + logits.shape[2:]:
        raise ValueError(f"expected logits (N, 1, H, W) and target (N, H, W), got "
                         f"{tuple(logits.shape)} and {tuple(target.shape)}")
    x = logits[:, 0].float()
    t = target.long()
    valid = t != IGNORE
    xv, tv = x[valid], t[valid]
    per_pixel = F.binary_cross_entropy_with_logits(xv, tv.float(), reduction="none")
    return _balanced_mean(per_pixel, tv, 2, x)


def direction_loss(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Class-balanced cross-entropy over direction bins on the pixels of ``mask``.

    Args:
        logits: float ``(N, m, H, W)`` direction logits.
        target: integer ``(N, H, W)`` bins ``0..m-1``, 255 where undefined.
        mask: bool ``(N, H, W)``, the boundary pixels the loss covers.

    Returns:
        scalar float32 tensor (0 when no pixel is covered).
    """
    if logits.ndim != 4 or target.shape != logits.shape[:1] + logits.shape[2:] or mask.shape != target.shape:
        raise ValueError(f"expected logits (N, m, H, W), target and mask (N, H, W), got "
                         f"{tuple(logits.shape)}, {tuple(target.shape)}, {tuple(mask.shape)}")
    m = logits.shape[1]
    t = target.long()
    sel = mask & (t != IGNORE)
    if bool(((t[sel] < 0) | (t[sel] >= m)).any()):
        raise ValueError(f"direction targets must be in 0..{m - 1} or 255")
    x = logits.float().permute(0, 2, 3, 1)[sel]  # (P, m)
    per_pixel = F.cross_entropy(x, t[sel], reduction="none") if x.shape[0] else x.sum(1)
    return _balanced_mean(per_pixel, t[sel], m, logits.float())


def segfix_loss(boundary_logits: torch.Tensor, direction_logits: torch.Tensor,
                boundary_target: torch.Tensor, direction_target: torch.Tensor, *,
                mask: str = "gt", boundary_weight: float = 1.0,
                direction_weight: float = 1.0) -> dict[str, torch.Tensor]:
    """Total SegFix loss (paper: both weights 1).

    Returns:
        dict with scalar tensors ``loss`` (weighted sum), ``boundary`` and ``direction``.
    """
    if mask not in DIRECTION_MASKS:
        raise ValueError(f"mask must be one of {DIRECTION_MASKS}, got {mask!r}")
    lb = boundary_loss(boundary_logits, boundary_target)
    if mask == "gt":
        sel = boundary_target == 1
    else:
        with torch.no_grad():
            sel = (boundary_logits[:, 0] > 0) & (boundary_target != IGNORE)
    ld = direction_loss(direction_logits, direction_target, sel)
    return {"loss": boundary_weight * lb + direction_weight * ld, "boundary": lb, "direction": ld}
