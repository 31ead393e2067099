"""Validation metrics of the paper: boundary mask F-score and direction accuracy within the
predicted and within the ground-truth boundary.

All are pixel counts summed over the validation set (so they reduce exactly across DDP ranks):

* boundary: ``tp = pred & gt``, ``fp = pred & ~gt``, ``fn = ~pred & gt`` over pixels whose boundary
  target is not ignore; ``P = tp / (tp + fp)``, ``R = tp / (tp + fn)``, ``F = 2PR / (P + R)``
  (0 where undefined); ``pred`` is ``sigmoid(logit) > 0.5``;
* direction accuracy: ``argmax`` of the direction logits equals the target bin, among pixels with a
  defined target direction that are (a) predicted boundary (``dir_acc_pred``; the targets are the
  direction band's, ``<v>/direction_band``, so with format-3 shards every predicted pixel within
  3 gamma of a boundary counts; ``dir_pred_scored`` is the fraction of predicted boundary pixels
  that had a target), (b) ground-truth boundary (``dir_acc_gt``);
* ``boundary_f_all``: the F-score of the trivial predictor that marks every pixel boundary.

Refinement (what SegFix is for; :class:`RefinementScore`): each validation label map gets a fixed
coarse version (``segfix_train.coarse.block_majority``: each 8x8 tile takes its most frequent
label, a map not shifted against the label map), refined with the model's own offsets (boundary
``sigmoid > 0.5``, direction argmax, shift scale 2 as ``segfix refine``);
``segfix_data.metrics.SegmentationScore`` scores both against the label map. Reported:
``coarse_miou``, ``refined_miou``, ``delta_miou`` and the same for the boundary F-score at 1 and 3 true pixels (``*_f_1px``, ``*_f_3px``), fractions in [0, 1].
``--keep-best`` keeps the model with the best ``delta_miou`` as ``RUN_DIR/best.pt``
(:func:`keep_if_best`).
"""
from __future__ import annotations

import numpy as np
import torch

from segfix_data.ignore import IGNORE_INDEX
from segfix_data.targets.direction import DIRECTION_IGNORE

from .coarse import block_majority

COUNTS = ("tp", "fp", "fn", "dir_ok_pred", "dir_n_pred", "dir_ok_gt", "dir_n_gt", "valid")


def count(boundary_logits: torch.Tensor, direction_logits: torch.Tensor, boundary_target: torch.Tensor,
          direction_target: torch.Tensor) -> torch.Tensor:
    """float64 ``(8,)`` counts in the order of ``COUNTS`` for one batch (logits ``(N, 1|m, H, W)``,
    targets ``(N, H, W)``)."""
    pred = boundary_logits[:, 0] > 0
    bt = boundary_target.long()
    dt = direction_target.long()
    valid = bt != IGNORE_INDEX
    gt = (bt == 1) & valid
    pred = pred & valid
    hit = direction_logits.argmax(1) == dt
    dvalid = dt != DIRECTION_IGNORE
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
            "dir_acc_pred": _div(okp, np_), "dir_pred_scored": _div(np_, tp + fp), "dir_acc_gt": _div(okg, ng),
            "boundary_pixels": tp + fn, "valid_pixels": valid}


def trivial_f(boundary_pixels: float, valid_pixels: float) -> float:
    """F-score of predicting every valid pixel as boundary: ``2p / (1 + p)``, ``p`` the boundary
    fraction."""
    p = _div(boundary_pixels, valid_pixels)
    return _div(2 * p, 1 + p)


#: Offset scale of the refinement (paper scheme (i), ``segfix refine``'s default for label maps).
REFINE_SCALE = 2
#: Boundary F tolerances in true pixels (``SegmentationScore`` reads thresholds >= 1 as pixels).
F_PIXELS = (1, 3)
#: Which gain ``--keep-best`` maximises.
BEST_KEY = "delta_miou"


def refine_with_logits(label: np.ndarray, boundary_logits: torch.Tensor, direction_logits: torch.Tensor,
                       scale: int = REFINE_SCALE) -> np.ndarray:
    """Refine ``label`` (H, W) with the offsets of one image's logits (``(1, 1|m, H, W)`` or
    ``(1|m, H, W)``): boundary where ``sigmoid > 0.5``, direction the argmax (``predict.probs_to_maps``)."""
    from segfix_data.refine import refine_labels
    from .predict import probs_to_maps

    bl = boundary_logits.reshape(-1, *boundary_logits.shape[-2:])[0].float()
    dl = direction_logits.reshape(-1, *direction_logits.shape[-2:]).float()
    boundary, direction = probs_to_maps(torch.sigmoid(bl), dl)
    return refine_labels(label, boundary, direction, dl.shape[0], scale=scale)


def num_classes_of(ds, max_images: int | None = None) -> int:
    """Classes to score: the build's ``class_names``, else one more than the largest train id in
    the samples' ``class_pixels`` (sets without them: in the first ``max_images`` label maps)."""
    names = ds.params.get("class_names")
    if names:
        return len(names)
    ids = [int(k) for s in ds.samples for k in (s.get("class_pixels") or {})]
    if not ids:
        n = len(ds.samples) if max_images is None else min(max_images, len(ds.samples))
        for i in range(n):
            v = ds.read(i, fields=("label",))["label"]
            ids.append(int(v[v < IGNORE_INDEX].max()) if (v < IGNORE_INDEX).any() else 0)
    return max(ids, default=0) + 1


class RefinementScore:
    """Coarse and refined scores over the validation frames of this rank; ``state`` / ``load``
    move the sums through one all-reduce (float64)."""

    _FIELDS = ("conf", "f_sum", "f_present_sum", "present")

    def __init__(self, num_classes: int):
        from segfix_data.metrics import SegmentationScore

        self.scores = [SegmentationScore(num_classes, thresholds=F_PIXELS) for _ in range(2)]

    def update(self, label: np.ndarray, boundary_logits: torch.Tensor, direction_logits: torch.Tensor) -> None:
        """One frame: ``label`` uint8 (H, W) train ids (255 ignore), the model's logits for it."""
        coarse = block_majority(label)
        self.scores[0].update(coarse, label)
        self.scores[1].update(refine_with_logits(coarse, boundary_logits, direction_logits), label)

    def state(self) -> torch.Tensor:
        return torch.from_numpy(np.concatenate(
            [np.asarray(getattr(s, f), np.float64).ravel() for s in self.scores for f in self._FIELDS]
            + [np.array([s.num_images], np.float64) for s in self.scores]))

    def load(self, t: torch.Tensor) -> "RefinementScore":
        v, i = t.numpy(), 0
        for s in self.scores:
            for f in self._FIELDS:
                a = getattr(s, f)
                a[...] = v[i: i + a.size].reshape(a.shape)
                i += a.size
        for s in self.scores:
            s.num_images = int(v[i])
            i += 1
        return self

    def result(self) -> dict[str, float]:
        (c, r) = (s.result() for s in self.scores)
        out = {"coarse_miou": c["miou"] or 0.0, "refined_miou": r["miou"] or 0.0}
        for px in F_PIXELS:
            out[f"coarse_f_{px}px"] = c["boundary_f"][str(px)]
            out[f"refined_f_{px}px"] = r["boundary_f"][str(px)]
        for k in ["miou"] + [f"f_{px}px" for px in F_PIXELS]:
            out[f"delta_{k}"] = out[f"refined_{k}"] - out[f"coarse_{k}"]
        return out


def keep_if_best(run_dir: str, model, cfg, step: int, metrics: dict) -> str | None:
    """Save ``RUN_DIR/best.pt`` (a ``checkpoint.BEST_FORMAT`` payload with its digest,
    ``checkpoint.save_best``) when ``metrics[BEST_KEY]`` beats the best so far; returns a line to
    print, or None."""
    from . import checkpoint as ckpt

    def payload() -> dict:
        return ckpt.make_payload(ckpt.BEST_FORMAT, model, cfg.to_dict(), step=step, val=dict(metrics))

    if not ckpt.save_best(run_dir, step, BEST_KEY, float(metrics[BEST_KEY]), payload):
        return None
    return f"kept {ckpt.best_path(run_dir)}: {BEST_KEY} {metrics[BEST_KEY]:+.4f} at iter {step}"
