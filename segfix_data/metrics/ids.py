"""Ids of label maps as the scores read them: the layouts' ground truth and the predictions of an
``--id-space`` converted to train ids, and the checks that stop a run whose predictions are in
the wrong id space (most pixels on ids no evaluated class has, or far better agreement with the
ground truth read in the other id space) or shifted by one (raw ADE20K ids 1..150 against
``reduce_zero_label`` ground truth). See :mod:`segfix_data.metrics.directory`.
"""
from __future__ import annotations

import numpy as np

from segfix_data.datasets import labels as _labels
from segfix_data.errors import InputError
from segfix_data.ignore import IGNORE_INDEX

ID_SPACES = ("labelIds", "trainIds")


def gt_to_train_ids(ids: np.ndarray, layout: str, num_classes: int, *,
                    reduce_zero_label: bool = False, class_map: np.ndarray | None = None) -> np.ndarray:
    """Ground-truth raw ids -> train ids (uint8, 255 = ignore); ``reduce_zero_label`` (mmseg,
    folder): 0 is ignore and k is class k-1; ``class_map`` (folder): the table of
    :func:`segfix_data.datasets.io.load_class_map` (raw ids not in it are ignored)."""
    if class_map is not None and layout == "folder":
        inside = (ids >= 0) & (ids < class_map.size)
        mapped = np.where(inside, class_map[np.where(inside, ids, 0)], -1).astype(np.int64)
        return np.where((mapped >= 0) & (mapped < num_classes), mapped, IGNORE_INDEX)
    if reduce_zero_label:
        ids = _labels.reduce_zero_label(ids).astype(np.int64)
    if layout in ("cityscapes", "gta5"):
        return _labels.cityscapes_label_ids_to_train_ids(ids)
    if layout == "ade20k":
        return _labels.ade20k_to_train_ids(ids)
    return np.where((ids >= 0) & (ids < num_classes), ids, IGNORE_INDEX).astype(np.int64)


def pred_to_train_ids(ids: np.ndarray, layout: str, id_space: str, num_classes: int) -> np.ndarray:
    """Prediction ids in ``id_space`` -> train ids (values outside ``0..K-1`` = no class)."""
    if id_space not in ID_SPACES:
        raise InputError(f"id_space must be one of {ID_SPACES}, got {id_space!r}")
    if id_space == "trainIds" or layout in ("folder", "voc", "mmseg"):
        return ids
    if layout in ("cityscapes", "gta5"):
        return _labels.cityscapes_label_ids_to_train_ids(ids)
    return _labels.ade20k_to_train_ids(ids)


def id_table(layout: str, id_space: str, num_classes: int) -> tuple[int, str]:
    """``(largest valid id, description)`` of predictions in ``id_space`` (255 is always allowed)."""
    if layout in ("cityscapes", "gta5"):
        return (33, "Cityscapes labelIds (0..33, 255)") if id_space == "labelIds" else \
            (18, "Cityscapes trainIds (0..18, 255)")
    if layout == "ade20k":
        return (150, "ADE20K labelIds (0..150)") if id_space == "labelIds" else \
            (149, "ADE20K trainIds (0..149, 255)")
    return num_classes - 1, f"train ids of {num_classes} classes (0..{num_classes - 1}, 255)"


def _impossible(ids: np.ndarray, hi: int) -> np.ndarray:
    u = np.unique(ids)
    return u[((u < 0) | (u > hi)) & (u != IGNORE_INDEX)]


#: A file is implausible when more than this share of its pixels with ground truth is predicted as
#: ids that no evaluated class has.
IGNORED_SHARE_LIMIT = 0.5


def _check_shifted_ids(path, pred: np.ndarray, gt: np.ndarray, reduce_zero_label: bool) -> None:
    """Raise when most pixels' prediction is the ground-truth id plus or minus one and few agree:
    the two sides use id spaces that differ by one (raw ids 1..K with 0 = background against train
    ids 0..K-1), which scores near-zero mIoU and a meaningless boundary F.

    Args:
        pred, gt: (N,) train ids of the pixels with ground truth.
    """
    same = float(np.mean(pred == gt))
    for d in (1, -1):
        share = float(np.mean(pred == gt + d))
        if share <= SHIFTED_SHARE_LIMIT or share <= 2 * same:
            continue
        if d == 1:
            fix = ("they look like raw ids 1..K (0 = background) while the ground truth is read as train "
                   "ids 0..K-1" + (" (--reduce-zero-label applies to the ground truth only)" if reduce_zero_label
                                   else "") + ": pass --pred-reduce-zero-label, or --layout ade20k "
                   "--id-space labelIds for ADE20K")
        else:
            fix = ("the ground truth looks like raw ids 1..K (0 = background) and the predictions like "
                   "train ids 0..K-1: " + ("drop --pred-reduce-zero-label" if reduce_zero_label == "pred"
                                           else "pass --reduce-zero-label"))
        raise InputError(f"{path}: {100 * share:.0f}% of the pixels with ground truth are predicted as the "
                         f"ground-truth id {d:+d} and only {100 * same:.0f}% as the same id; {fix} "
                         "(or --allow-ignored-ids to score them anyway)")


def _check_other_space(path, pred: np.ndarray, alt: np.ndarray, gt: np.ndarray, what: str, other: str) -> None:
    """Raise when the prediction agrees with the ground truth on most pixels read in the ``other``
    id space and on far fewer read as declared: Cityscapes labelIds that happen to be all <= 18
    pass every range test as trainIds (and trainIds pass as labelIds when most of their classes
    land on evaluated labelIds), yet score near zero.

    Args:
        pred, alt: (N,) train ids of the pixels with ground truth, read as declared / as ``other``.
        gt: (N,) ground-truth train ids of the same pixels.
    """
    same, agree = float(np.mean(pred == gt)), float(np.mean(alt == gt))
    if agree > OTHER_SPACE_SHARE_LIMIT and agree > 2 * same:
        raise InputError(f"{path}: read as {what} the prediction agrees with the ground truth on "
                         f"{100 * same:.0f}% of the pixels, read as {other} on {100 * agree:.0f}%; pass "
                         f"--id-space {other} (or --allow-ignored-ids to score them as given)")


#: A file that agrees with the ground truth on more than this share of its pixels read in the other
#: id space (and on more than twice as many as read in its own) is in the other id space.
OTHER_SPACE_SHARE_LIMIT = 0.5


#: A file whose prediction equals the ground-truth id + 1 (or - 1) on more than this share of the
#: pixels with ground truth (and on more than twice as many as the same id) has shifted ids.
SHIFTED_SHARE_LIMIT = 0.5


def check_prediction_ids(path, ids: np.ndarray, gt_train: np.ndarray, layout: str, id_space: str,
                         num_classes: int, allow_ignored_ids: bool = False,
                         reduce_zero_label: bool | str = False) -> None:
    """Raise ``ValueError`` when the ids of prediction ``path`` cannot be (or are unlikely to be)
    in ``id_space`` (see the module doc).

    Args:
        ids: (H, W) integer prediction as read.
        gt_train: (H, W) ground truth in train ids (255 = ignore).
        allow_ignored_ids: skip the plausibility tests (impossible ids are always an error).
        reduce_zero_label: how the ids were read, for the hint of the shifted-ids test: False,
            True (the ground truth's zero reduced) or ``"pred"`` (the predictions' too).
    """
    hi, what = id_table(layout, id_space, num_classes)
    other = "trainIds" if id_space == "labelIds" else "labelIds"
    has_other = layout in ("cityscapes", "gta5", "ade20k")
    bad = _impossible(ids, hi)
    if bad.size:
        shown = ", ".join(str(int(v)) for v in bad[:8]) + (" ..." if bad.size > 8 else "")
        fix = "check --layout and --num-classes / --class-names"
        if has_other and not _impossible(ids, id_table(layout, other, num_classes)[0]).size:
            fix = f"they fit {other}: pass --id-space {other}"
        flag = f" (--id-space {id_space})" if has_other else ""
        raise InputError(f"{path}: ids {shown} are impossible in {what}{flag}; {fix}")
    if allow_ignored_ids:
        return
    valid = gt_train != IGNORE_INDEX
    n = int(valid.sum())
    if n == 0:
        return
    mapped = pred_to_train_ids(ids, layout, id_space, num_classes)
    _check_shifted_ids(path, mapped[valid], gt_train[valid].astype(np.int64), reduce_zero_label)
    m = mapped[valid]
    no_class = (m < 0) | (m >= num_classes)
    share = float(no_class.sum()) / n
    if share <= IGNORED_SHARE_LIMIT:
        if has_other and not _impossible(ids, id_table(layout, other, num_classes)[0]).size:
            _check_other_space(path, m, pred_to_train_ids(ids, layout, other, num_classes)[valid],
                               gt_train[valid].astype(np.int64), what, other)
        return
    vals, counts = np.unique(ids[valid][no_class], return_counts=True)
    top = ", ".join(str(int(v)) for v in vals[np.argsort(-counts)][:5])
    fix = "check that PRED_DIR holds this model's label maps and --id-space"
    if has_other:
        alt = pred_to_train_ids(ids, layout, other, num_classes)[valid]
        if float(((alt < 0) | (alt >= num_classes)).sum()) / n <= IGNORED_SHARE_LIMIT:
            fix = f"they look like {other}: pass --id-space {other}"
    raise InputError(f"{path}: {100 * share:.0f}% of the pixels with ground truth carry ids that no "
                     f"evaluated class has in {what} (most often {top}); {fix}, or pass "
                     "--allow-ignored-ids to score them as wrong anyway")
