"""Validation metrics of the paper: boundary mask F-score and direction accuracy within the
predicted and within the ground-truth boundary.

All are pixel counts summed over the validation set (so they reduce exactly across DDP ranks):

* boundary: ``tp = pred & gt``, ``fp = pred & ~gt``, ``fn = ~pred & gt`` over pixels whose boundary
  target is not ignore; ``P = tp / (tp + fp)``, ``R = tp / (tp + fn)``, ``F = 2PR / (P + R)``
  (0 where undefined); ``pred`` is ``sigmoid(logit) > 0.5``;
* direction accuracy: ``argmax`` of the direction logits equals the target bin, among pixels with a
  defined target direction that are (a) predicted boundary, (b) ground-truth boundary;
* ``boundary_f_all``: the F-score of the trivial predictor that marks every pixel boundary.
"""
from __future__ import annotations

import torch

COUNTS = ("tp", "fp", "fn", "dir_ok_pred", "dir_n_pred", "dir_ok_gt", "dir_n_gt", "valid")


def count(boundary_logits: torch.Tensor, direction_logits: torch.Tensor, boundary_target: torch.Tensor,
          direction_target: torch.Tensor) -> torch.Tensor:
    """float64 ``(8,)`` counts in the order of ``COUNTS`` for one batch (logits ``(N, 1|m, H, W)``,
    targets ``(N, H, W)``)."""
    pred = boundary_logits[:, 0] > 0
    bt = boundary_target.long()
    dt = direction_target.long()
    valid = bt != 255
    gt = (bt == 1) & valid
    pred = pred & valid
    hit = direction_logits.argmax(1) == dt
    dvalid = dt != 255
    c = [
        (pred & gt).sum(), (pred & ~gt).sum(), (~pred & gt & valid).sum(),
        (hit & pred & dvalid).sum(), (pred & dvalid).sum(),
        (hit & gt & dvalid).sum(), (gt & dvalid).sum(), valid.sum(),
    ]
    return torch.stack([x.to(torch.float64) for x in c]).cpu()


def _div(a: float, b: float) -> float:
    return float(a / b) if b > 0 else 0.0


def summarise(c: torch.Tensor) -> dict[str, float]:
    """Metrics from summed counts."""
    tp, fp, fn, okp, np_, okg, ng, valid = (float(x) for x in c)
    p, r = _div(tp, tp + fp), _div(tp, tp + fn)
    f = _div(2 * p * r, p + r)
    return {"boundary_f": f, "boundary_precision": p, "boundary_recall": r,
            "boundary_f_all": trivial_f(tp + fn, valid),
            "dir_acc_pred": _div(okp, np_), "dir_acc_gt": _div(okg, ng),
            "boundary_pixels": tp + fn, "valid_pixels": valid}


def trivial_f(boundary_pixels: float, valid_pixels: float) -> float:
    """F-score of predicting every valid pixel as boundary: ``2p / (1 + p)``, ``p`` the boundary
    fraction."""
    p = _div(boundary_pixels, valid_pixels)
    return _div(2 * p, 1 + p)
