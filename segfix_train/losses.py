"""SegFix training losses: class-balanced boundary BCE and class-balanced direction cross-entropy.

Class balancing follows the authors' ``SegFixLoss``: within the pixels a loss covers, class ``c``
gets the weight ``w_c = 1 - n_c / N`` (``n_c`` its pixel count in the batch, ``N`` all counted
pixels) and the loss is the weighted mean ``sum(w_t * l) / sum(w_t)``.

Where the authors' loss turns NaN this one stays finite:

* no counted pixel at all (e.g. no boundary pixel in the batch for the direction loss): the term
  is ``0`` and every parameter still receives a (zero) gradient, as DDP needs;
* a single class present (its weight is ``0``, so ``sum(w_t) = 0``): unit weights are used.

Ignore: boundary targets equal to 255 (``segfix_data.ignore.IGNORE_INDEX``) and direction targets
equal to 255 (``segfix_data.targets.direction.DIRECTION_IGNORE``) are left out.

The direction loss covers the pixels whose direction target is defined and that are selected
by ``pixels`` (:data:`DIRECTION_PIXELS`, ``segfix train --direction-pixels``):

* ``"predicted"`` (the default): the pixels the boundary branch predicts as boundary
  (``sigmoid(logit) > 0.5``, not ignore) -- the paper's Sec. 3.2 ("we mask the direction map D by the (binarized) boundary
  map B") and the authors' loss. With format-3 shards the direction targets cover a band wider
  than the ground-truth boundary (``segfix-gt build --direction-band``), so predicted pixels outside
  the ground-truth band are supervised too; with older shards only those inside it are.
* ``"gt"``: the ground-truth boundary band (``boundary target == 1``), whatever is predicted.
* ``"both"``: the union of the two.

The direction targets passed in are those of the direction band (``<v>/direction_band``); on
ground-truth boundary pixels they equal the boundary's directions.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from segfix_data.ignore import IGNORE_INDEX
from segfix_data.targets.direction import DIRECTION_IGNORE

from .config import DIRECTION_PIXELS  # ``--direction-pixels`` modes: which pixels (module docstring)


_EPS = 1e-12


def _balanced_mean(per_pixel: torch.Tensor, classes: torch.Tensor, covered: torch.Tensor,
                   num_classes: int) -> torch.Tensor:
    """Class-balanced mean of ``per_pixel`` over the ``covered`` pixels.

    Args:
        per_pixel: float ``(...)`` loss per pixel (any value where not covered).
        classes: int64 ``(...)`` class per pixel, in ``0..num_classes-1`` (any value where not covered).
        covered: float ``(...)`` 1 where the pixel counts, 0 elsewhere.

    Dense and free of host synchronisation (no boolean indexing, no data-dependent branch):
    ``w_c = 1 - n_c / N``; ``sum(w * l) / sum(w)``; unit weights when ``sum(w) = 0`` (one class);
    0 when ``N = 0``. Every division has a positive denominator, so values and gradients are finite.
    """
    per_pixel = torch.where(covered > 0, per_pixel, torch.zeros_like(per_pixel))
    counts = torch.zeros(num_classes, dtype=per_pixel.dtype, device=per_pixel.device)
    counts.scatter_add_(0, classes.reshape(-1), covered.reshape(-1))
    n = counts.sum()
    weights = 1.0 - counts / n.clamp_min(_EPS)
    w = weights[classes] * covered
    denom = w.sum()
    balanced = (w * per_pixel).sum() / denom.clamp_min(_EPS)
    plain = (covered * per_pixel).sum() / n.clamp_min(1.0)
    return torch.where(denom > _EPS, balanced, plain)


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
    covered = (t != IGNORE_INDEX).float()
    cls = (t == 1).long()
    per_pixel = F.binary_cross_entropy_with_logits(x, cls.float(), reduction="none")
    return _balanced_mean(per_pixel, cls, covered, 2)


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
    defined = t != DIRECTION_IGNORE
    if not t.is_cuda and bool(((t < 0) | (t >= m))[defined].any()):  # on CUDA: no host sync
        raise ValueError(f"direction targets must be in 0..{m - 1} or 255")
    covered = (mask & defined).float()
    cls = torch.where(defined, t, torch.zeros_like(t))
    per_pixel = F.cross_entropy(logits.float(), cls, reduction="none")
    return _balanced_mean(per_pixel, cls, covered, m)


def direction_pixels_mask(boundary_logits: torch.Tensor, boundary_target: torch.Tensor,
                          pixels: str) -> torch.Tensor:
    """bool ``(N, H, W)``: the pixels whose direction the loss covers in mode ``pixels``
    (:data:`DIRECTION_PIXELS`); ``boundary_logits`` float ``(N, 1, H, W)``, ``boundary_target``
    ``(N, H, W)`` 0/1/255. No gradient flows through the predicted mask."""
    if pixels not in DIRECTION_PIXELS:
        raise ValueError(f"direction pixels must be one of {DIRECTION_PIXELS}, got {pixels!r}")
    gt = boundary_target == 1
    if pixels == "gt":
        return gt
    with torch.no_grad():
        pred = (boundary_logits[:, 0] > 0) & (boundary_target != IGNORE_INDEX)
    return pred if pixels == "predicted" else pred | gt


def band_note(params: list[dict], pixels: str) -> str | None:
    """One warning line when mode ``pixels`` uses predicted pixels but some shard set (its build
    ``params``) has no direction band (format < 3 or ``--direction-band 0``), else None."""
    if pixels == "gt" or all(float(p.get("direction_band") or 0) > 0 for p in params):
        return None
    return (f"warning: --direction-pixels {pixels}: these shards carry direction targets on the "
            "ground-truth boundary only, so predicted boundary pixels outside it get no direction "
            "loss; rebuild them with this segfix (format 3, --direction-band) for the paper's supervision")


def segfix_loss(boundary_logits: torch.Tensor, direction_logits: torch.Tensor,
                boundary_target: torch.Tensor, direction_target: torch.Tensor, *,
                pixels: str = "predicted", boundary_weight: float = 1.0,
                direction_weight: float = 1.0) -> dict[str, torch.Tensor]:
    """Total SegFix loss (paper: both weights 1); ``direction_target`` holds the direction band's
    bins (255 none), ``pixels`` picks the pixels of the direction loss (:data:`DIRECTION_PIXELS`).

    Returns:
        dict with scalar tensors ``loss`` (weighted sum), ``boundary`` and ``direction``.
    """
    sel = direction_pixels_mask(boundary_logits, boundary_target, pixels)
    lb = boundary_loss(boundary_logits, boundary_target)
    ld = direction_loss(direction_logits, direction_target, sel)
    return {"loss": boundary_weight * lb + direction_weight * ld, "boundary": lb, "direction": ld}
