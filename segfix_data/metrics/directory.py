"""Score a directory of predictions against a dataset's ground truth (``segfix eval``).

Ground truth per layout (``--layout``), converted to train ids (255 = ignore):

==============  ===========================================================  =================
layout          ground-truth files under GT_DIR                              classes
==============  ===========================================================  =================
``cityscapes``  ``gtFine/<split>/<city>/*_gtFine_labelIds.png`` (GT_DIR may     19 (labelIds
                be the ``gtFine`` directory itself); default split ``val``       table)
``gta5``        ``labels/*.png`` (Cityscapes labelIds); one split              19
``ade20k``      ``[ADEChallengeData2016/]annotations/<split>/*.png`` (0 =       150
                ignore, 1..150); default split ``validation``
``folder``      every ``*.png`` (``*<seg_suffix>``) below ``GT_DIR/<split>``     ``num_classes``
                (no split: below GT_DIR), train ids with 255 = ignore
``voc``         the frames of ``ImageSets/Segmentation/<split>.txt`` (or a      21 (VOC names)
                list file), palette ``SegmentationClass/*.png``; default ``val``
``mmseg``       ``ann_dir/<split>/**/*<seg_suffix>`` (or a list file), train     ``class_names``
                ids (``reduce_zero_label``: 0 ignore, k -> k-1); default ``val`` or ``num_classes``
==============  ===========================================================  =================

GT_DIR is always the dataset root (the folder ``segfix-gt build`` reads). For ``voc`` and ``mmseg``
the ground-truth frames come from :func:`segfix_data.datasets.find_frames` (no image is read), keyed
by the label's name without ``seg_suffix``; predictions of these layouts are train ids.

A split that is not on disk is an error listing the splits found (never a fallback to other
files); ``train`` / ``val`` and ``training`` / ``validation`` are aliases when only one of the pair
exists (:func:`segfix_data.datasets.layouts.normalise_split`).

Predictions are found recursively under PRED_DIR (PNG or ``.npy``) and matched to ground-truth
frames by Cityscapes frame key (``city_seq_frame``) or by file stem; every ground-truth frame
needs a prediction (as the official evaluator demands). Prediction ids are read in ``id_space``:
``labelIds`` (default: raw dataset ids, as the Cityscapes evaluator expects; ADE20K 1..150) or
``trainIds`` (0..K-1). Ids of no evaluated class count as wrong.

Prediction ids are checked so that a wrong ``--id-space`` cannot silently score near zero
(:func:`check_prediction_ids`): an id that is impossible in the declared space is an error naming
the file, the ids and the option to use; and a file in which most pixels with ground truth carry
ids that no evaluated class has (trainIds read as Cityscapes labelIds land on ``unlabeled`` ..
``traffic light``'s labelIds 0..6, mostly ignored) stops the run with the same advice, unless
``allow_ignored_ids`` insists. A file whose prediction is the ground-truth id plus (or minus)
one on most pixels (raw ADE20K ids 1..150 against ``reduce_zero_label`` ground truth, which scores
mIoU ~3 and a high boundary F) stops the run naming ``pred_reduce_zero_label`` (or
``reduce_zero_label``), the same escape applying. And where the layout has two id spaces, a file
that agrees with the ground truth on most pixels read in the other space and on far fewer read in
the declared one (Cityscapes labelIds that are all <= 18 pass every range test as trainIds, and
trainIds pass as labelIds when most of their classes land on evaluated labelIds) stops the run
naming the other ``--id-space``, the same escape applying.

Boundary tolerances are fractions of the image diagonal (the paper's 0.0003 / 0.0006 / 0.0009:
1 / 2 / 3 px at 2048 x 1024, but all 1 px below about 1700 px of diagonal) or, ``>= 1``, pixels
(``segfix eval --px 1,2,3``); the result states the radius used per image size.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
from PIL import Image

from segfix_data.datasets import labels as _labels
from segfix_data.datasets import split_list_file
from segfix_data.datasets.layouts import (EVAL_SPLITS, available_splits, check_root, cityscapes_label_root,
                                          normalise_split)
from .boundary import BOUNDARY_THRESHOLDS, boundary_radius
from .ids import (ID_SPACES, IGNORED_SHARE_LIMIT, SHIFTED_SHARE_LIMIT, check_prediction_ids,  # noqa: F401
                  gt_to_train_ids, id_table, pred_to_train_ids)
from .score import SegmentationScore
from segfix_data.datasets.io import frame_key, is_grey_rgb
from segfix_data.errors import InputError
from segfix_data.datasets.npy import read_id_map
from segfix_data.datasets.pixels import check_pixels

LAYOUTS = ("cityscapes", "ade20k", "gta5", "folder", "voc", "mmseg")
_PRED_SUFFIXES = (".png", ".npy")
_LOSSY_SUFFIXES = (".jpg", ".jpeg")


def read_ids(path: str | os.PathLike) -> np.ndarray:
    """A map of integer ids from a PNG (grey / palette / 16-bit) or ``.npy`` file (sizes checked from
    the header before decoding: ``--max-image-pixels``, :func:`segfix_data.datasets.npy.read_id_map`)."""
    path = Path(path)
    if path.suffix == ".npy":
        arr = read_id_map(path)  # header checked first: empty, truncated, object, huge files refused
    else:
        check_pixels(path)  # a decompression bomb is refused before decoding
        try:
            with Image.open(path) as im:
                if im.mode not in ("L", "P", "I;16", "I;16B", "I;16L", "I"):
                    if is_grey_rgb(im):
                        raise InputError(f"{path}: PNG mode {im.mode} with three equal channels (ids saved "
                                         "as colour); save ids, not colours: convert it to single-channel, "
                                         "Image.open(path).convert('L').save(path)")
                    raise InputError(f"{path}: PNG mode {im.mode} is not a map of ids; save ids, not colours")
                arr = np.array(im)
        except ValueError:
            raise
        except Exception as exc:
            raise InputError(f"{path}: cannot read the PNG ({exc})") from exc
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"{path}: expected a 2-D integer id map, got shape {arr.shape} dtype {arr.dtype}")
    return arr


def num_classes_of(layout: str, num_classes: int | None = None, class_names=None) -> int:
    if class_names and layout not in ("cityscapes", "gta5", "ade20k", "voc"):
        if num_classes and int(num_classes) != len(class_names):
            raise InputError(f"--num-classes {num_classes} differs from the {len(class_names)} names of "
                             "--class-names; give one of them")
        return len(class_names)
    if layout == "voc":
        return len(_labels.VOC_CLASS_NAMES)
    if layout == "mmseg":
        if not num_classes:
            raise InputError("layout 'mmseg' needs --class-names FILE (one name per line) or --num-classes")
        return int(num_classes)
    if layout in ("cityscapes", "gta5"):
        return len(_labels.CITYSCAPES_EVAL_IDS)
    if layout == "ade20k":
        return _labels.ADE20K_NUM_CLASSES
    if layout == "folder":
        return int(num_classes or 19)
    raise InputError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")


def class_names_of(layout: str, num_classes: int, class_names=None) -> list[str]:
    if layout == "voc":
        return list(_labels.VOC_CLASS_NAMES)
    if class_names and len(class_names) == num_classes:
        return list(class_names)
    if layout in ("cityscapes", "gta5") or (layout == "folder" and num_classes == 19):
        return list(_labels.CITYSCAPES_CLASS_NAMES)
    if layout == "ade20k" and num_classes == len(_labels.ADE20K_CLASS_NAMES):
        return list(_labels.ADE20K_CLASS_NAMES)
    return [str(c) for c in range(num_classes)]


def resolve_eval_split(gt_dir: str | os.PathLike, layout: str, split: str | None,
                       label_glob: str | None = None) -> str | None:
    """The split to score: ``split`` (or the layout's default, :data:`EVAL_SPLITS`) as named on
    disk; a voc / mmseg split list file is kept. Raises ``LayoutError`` (a ``ValueError``) listing
    the splits found when it is absent, and names the dataset root when ``gt_dir`` is one level off
    it (:func:`~segfix_data.datasets.layouts.check_root`)."""
    if layout not in LAYOUTS:
        raise InputError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    split = EVAL_SPLITS[layout] if split is None else split
    if layout == "folder" and label_glob:  # the glob says where a split is ({split})
        return split
    if layout != "cityscapes" or cityscapes_label_root(gt_dir) != Path(gt_dir):  # (gtFine itself is accepted)
        check_root(layout, gt_dir)
    if split is None or layout == "gta5" or split_list_file(split) is not None:
        return split if layout != "gta5" else None
    where = {"cityscapes": f"{cityscapes_label_root(gt_dir)}/<split>",
             "ade20k": f"{gt_dir} (annotations/<split>)", "folder": f"{gt_dir}/<split>",
             "voc": f"{gt_dir} (ImageSets/Segmentation/<split>.txt)",
             "mmseg": f"{gt_dir} (ann_dir/<split>)"}[layout]
    return normalise_split(split, available_splits(layout, gt_dir), where)


def _frames_ground_truth(root: Path, layout: str, split: str, img_suffix, seg_suffix,
                         label_glob: str | None = None) -> dict[str, Path]:
    """voc / mmseg / folder with ``label_glob``: frame key -> label file of the layout's frames
    (labels only, no image read), keyed as ``segfix-gt build`` names them (``Frame.stem``)."""
    from segfix_data.datasets import find_frames

    frames, _ = find_frames(layout, root, split or "", img_suffix=img_suffix, seg_suffix=seg_suffix,
                            image_glob=label_glob, label_glob=label_glob, images=False)
    out: dict[str, Path] = {}
    for f in frames:
        key = frame_key(f.stem)
        if key in out:
            raise InputError(f"{root}: two ground-truth files for frame {key!r}: {out[key]} and {f.label}")
        out[key] = Path(f.label)
    return out


def find_ground_truth(gt_dir: str | os.PathLike, layout: str, split: str | None, *,
                      img_suffix: str | None = None, seg_suffix: str | None = None,
                      label_glob: str | None = None) -> dict[str, Path]:
    """Frame key -> ground-truth file of one split (see the module table; ``split`` as resolved
    by :func:`resolve_eval_split`).

    ``img_suffix`` / ``seg_suffix``: mmseg pairing; ``seg_suffix`` also filters the folder layout's
    files and is cut off their names (``s0_mask.png`` is frame ``s0``). ``label_glob``: folder
    layout, the labels as ``segfix-gt build --label-glob`` finds them (``{split}`` replaced).
    """
    root = Path(gt_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: ground-truth directory not found")
    split = resolve_eval_split(root, layout, split, label_glob)
    if layout in ("voc", "mmseg") or (layout == "folder" and label_glob):
        return _frames_ground_truth(root, layout, split, img_suffix, seg_suffix, label_glob)
    if layout == "cityscapes":
        files = sorted((cityscapes_label_root(root) / split).glob("*/*_gtFine_labelIds.png"))
        where = "gtFine/<split>/<city>/*_gtFine_labelIds.png"
    elif layout == "gta5":
        files = sorted((root / "labels").glob("*.png"))
        where = "labels/*.png"
    elif layout == "ade20k":
        base = root / "ADEChallengeData2016" if (root / "ADEChallengeData2016").is_dir() else root
        files = sorted((base / "annotations" / split).glob("*.png"))
        where = f"annotations/{split}/*.png"
    else:
        files = sorted((root / split if split else root).rglob(f"*{seg_suffix or '.png'}"))
        where = f"*{seg_suffix or '.png'}"
    if not files:
        raise InputError(f"{root}: no ground truth found ({where}) for layout {layout!r}, split {split!r}")
    out: dict[str, Path] = {}
    for f in files:
        key = frame_key(f, (seg_suffix,) if layout == "folder" and seg_suffix else ())
        if key in out:
            raise InputError(f"{root}: two ground-truth files for frame {key!r}: {out[key]} and {f}")
        out[key] = f
    return out


def suffixes_of(img_suffix: str | None, seg_suffix: str | None) -> tuple[str, ...]:
    """The layout suffixes given (for :func:`find_predictions`)."""
    return tuple(s for s in (img_suffix, seg_suffix) if s)


def find_predictions(pred_dir: str | os.PathLike, suffixes=()) -> dict[str, Path]:
    """Frame key -> prediction file (PNG or ``.npy``, searched recursively).

    ``suffixes``: the layout's ``img_suffix`` / ``seg_suffix``; a prediction named after its image
    or label (``s0_rgb.png``) is frame ``s0`` as one named by the key (``s0.png``), see
    :func:`segfix_data.datasets.io.frame_key`."""
    root = Path(pred_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: prediction directory not found")
    out: dict[str, Path] = {}
    for f in sorted(root.rglob("*")):
        if f.suffix not in _PRED_SUFFIXES or not f.is_file():
            continue
        key = frame_key(f, suffixes)
        if key in out:
            raise InputError(f"{root}: two predictions for frame {key!r}: {out[key]} and {f}; keep one")
        out[key] = f
    return out


def radii_by_size(thresholds, sizes) -> dict[str, dict[str, int]]:
    """``{threshold key: {"HxW": radius in pixels}}`` for every image size (H, W) scored."""
    from .score import _tkey

    return {_tkey(t): {f"{h}x{w}": boundary_radius(t, (h, w)) for h, w in sorted(sizes)} for t in thresholds}


@dataclasses.dataclass(frozen=True, eq=False)
class EvalOptions:
    """How ``segfix eval`` reads a split and scores it: one set of options for
    :func:`evaluate_directory` and :func:`~segfix_data.metrics.plots.plot_directory`.

    Attributes (the ground truth, as ``segfix-gt build`` reads the dataset; see the module doc):
        layout: one of :data:`LAYOUTS`.
        split: the split to score; None = the layout's default (``val``, ``validation``; every
            file for gta5/folder); :func:`resolve_eval_split` names it as on disk.
        num_classes: mmseg / folder: the number of classes (folder default 19).
        class_names: names of the train ids (their count is the number of classes for
            mmseg/folder).
        img_suffix, seg_suffix: mmseg pairing; ``seg_suffix`` also filters the folder layout's files
            and both are cut off prediction names.
        label_glob, image_glob: folder: the build's globs (``{split}`` replaced); scoring reads no
            image, the plots draw on them.
        reduce_zero_label: mmseg, folder: ground-truth 0 is ignore and k is class k-1.
        class_map: folder: the table of :func:`segfix_data.datasets.io.load_class_map`.

    Attributes (the predictions):
        id_space: ``labelIds`` (raw dataset ids) or ``trainIds`` (:data:`ID_SPACES`).
        pred_reduce_zero_label: the predictions are raw ids too (0 = ignore, k is class k-1).
        allow_ignored_ids: score files whose ids are mostly of no evaluated class (see the
            module doc) instead of stopping.

    Attributes (the scores):
        thresholds: boundary tolerances as fractions of the image diagonal (< 1) or pixels (>= 1).
        boundary: also compute the boundary F-score.
        regions: a :class:`~.region_score.RegionMetrics`: also Boundary IoU / trimap IoU (their
            keys in :meth:`~.region_score.RegionScore.result`); None: neither.
    """

    layout: str = "cityscapes"
    split: str | None = None
    num_classes: int | None = None
    class_names: tuple | None = None
    img_suffix: str | None = None
    seg_suffix: str | None = None
    label_glob: str | None = None
    image_glob: str | None = None
    reduce_zero_label: bool = False
    class_map: np.ndarray | None = None
    id_space: str = "labelIds"
    pred_reduce_zero_label: bool = False
    allow_ignored_ids: bool = False
    thresholds: tuple = BOUNDARY_THRESHOLDS
    boundary: bool = True
    regions: object = None

    @classmethod
    def of(cls, options: "EvalOptions | None" = None, **fields) -> "EvalOptions":
        """``options`` (None: the defaults) with ``fields`` replaced; an unknown field is a TypeError."""
        return dataclasses.replace(options or cls(), **fields)

    def resolved(self, gt_dir: str | os.PathLike) -> "EvalOptions":
        """These options with the split named as on disk under ``gt_dir`` (:func:`resolve_eval_split`)."""
        return dataclasses.replace(self, split=resolve_eval_split(gt_dir, self.layout, self.split, self.label_glob))

    def num_classes_scored(self) -> int:
        """The number of classes scored (:func:`num_classes_of`)."""
        return num_classes_of(self.layout, self.num_classes, self.class_names)

    def ground_truth(self, gt_dir: str | os.PathLike) -> dict[str, Path]:
        """Frame key -> ground-truth file of the split (:func:`find_ground_truth`)."""
        return find_ground_truth(gt_dir, self.layout, self.split, img_suffix=self.img_suffix,
                                 seg_suffix=self.seg_suffix, label_glob=self.label_glob)

    def predictions(self, pred_dir: str | os.PathLike) -> dict[str, Path]:
        """Frame key -> prediction file under ``pred_dir`` (:func:`find_predictions`)."""
        return find_predictions(pred_dir, suffixes_of(self.img_suffix, self.seg_suffix))

    def read_gt(self, path: str | os.PathLike, num_classes: int) -> np.ndarray:
        """A ground-truth file as train ids (255 = ignore; :func:`gt_to_train_ids`)."""
        return gt_to_train_ids(read_ids(path), self.layout, num_classes,
                               reduce_zero_label=self.reduce_zero_label, class_map=self.class_map)


def evaluate_directory(gt_dir: str | os.PathLike, pred_dir: str | os.PathLike,
                       options: EvalOptions | None = None, *, progress=None, **fields) -> dict:
    """mIoU and boundary F of every ground-truth frame's prediction.

    The steps: the split's ground-truth frames are found and each matched to its prediction
    (:func:`check_predictions_found`); every pair is read as train ids, the prediction's ids
    checked (:func:`read_prediction`), and scored; the result names what was scored
    (:func:`_describe`).

    Args:
        gt_dir, pred_dir: directories (see the module doc).
        options: how to read and score them (:class:`EvalOptions`); ``fields`` replace single
            options (``layout="ade20k"``, ``split="validation"``, ``boundary=False``...).
        progress: optional callable ``progress(n)`` called after each frame.

    Returns:
        :meth:`SegmentationScore.result`'s dict plus ``layout``, ``split`` (as on disk; None =
        every file), ``id_space``, ``thresholds``, ``threshold_unit`` (``"diagonal"`` or
        ``"px"``), ``image_sizes`` (``"HxW"`` strings) and ``boundary_radius_px``
        (``{threshold: {"HxW": pixels}}``).
    """
    opts = EvalOptions.of(options, **fields)
    k = opts.num_classes_scored()
    opts = opts.resolved(gt_dir)
    gts, preds = opts.ground_truth(gt_dir), opts.predictions(pred_dir)
    check_predictions_found(pred_dir, gts, preds)
    unit = threshold_unit(opts.thresholds)
    score = SegmentationScore(k, opts.thresholds, boundary=opts.boundary, regions=opts.regions)
    sizes = set()
    for key, gpath in gts.items():
        gt = opts.read_gt(gpath, k)
        score.update(read_prediction(preds[key], gt, gpath, opts, k), gt)
        sizes.add(gt.shape)
        if progress:
            progress(1)
    return _describe(score.result(class_names_of(opts.layout, k, opts.class_names)), opts, unit, sizes)


def check_predictions_found(pred_dir, gts: dict, preds: dict) -> None:
    """Every ground-truth frame needs a prediction: an InputError names the frames without one
    (and the JPEG files that would have been theirs: JPEG changes ids near every edge)."""
    missing = sorted(set(gts) - set(preds))
    lossy = sorted(p for p in Path(pred_dir).rglob("*") if p.suffix.lower() in _LOSSY_SUFFIXES
                   and frame_key(p) in missing)
    if lossy:
        raise InputError(f"{pred_dir}: JPEG predictions for {len(lossy)} of {len(gts)} frames (e.g. {lossy[0]}); "
                         "JPEG is lossy and changes ids near every edge: save the label maps as PNG (or .npy)")
    if missing:
        extra = sorted(set(preds) - set(gts))
        found = f"; found predictions of frames {', '.join(extra[:3])}" if extra else ""
        raise InputError(f"{pred_dir}: no prediction for {len(missing)} of {len(gts)} frames "
                         f"(e.g. {', '.join(missing[:3])}{found}); predictions are matched by frame key: "
                         "the Cityscapes city_seq_frame, the name without --img-suffix/--seg-suffix "
                         "(pass the dataset's suffixes), or the file stem")


def threshold_unit(thresholds) -> str:
    """``"px"`` when every boundary tolerance is in pixels (>= 1), ``"diagonal"`` when every one is
    a fraction of the diagonal (< 1); a mix is an InputError."""
    units = {float(t) >= 1 for t in thresholds}
    if len(units) > 1:
        raise InputError(f"thresholds {list(thresholds)} mix diagonal fractions (< 1) and pixels (>= 1); "
                         "use one or the other (--px for pixels)")
    return "px" if units == {True} else "diagonal"


def read_prediction(path: Path, gt: np.ndarray, gt_path: Path, opts: EvalOptions, num_classes: int) -> np.ndarray:
    """A prediction file as train ids, refused (InputError naming it) when its size differs from
    the ground truth ``gt`` or its ids do not fit ``opts.id_space`` (:func:`check_prediction_ids`)."""
    raw = read_ids(path)
    if opts.pred_reduce_zero_label:
        raw = _labels.reduce_zero_label(raw).astype(np.int64)
    if raw.shape != gt.shape:
        raise InputError(f"{path}: prediction size {raw.shape} differs from the ground truth "
                         f"{gt.shape} ({gt_path}); predict at full resolution")
    check_prediction_ids(path, raw, gt, opts.layout, opts.id_space, num_classes, opts.allow_ignored_ids,
                         "pred" if opts.pred_reduce_zero_label else opts.reduce_zero_label)
    return pred_to_train_ids(raw, opts.layout, opts.id_space, num_classes)


def _describe(res: dict, opts: EvalOptions, unit: str, sizes: set) -> dict:
    """The scores ``res`` with what was scored: layout, split, id space, thresholds and their
    unit, the image sizes and, with the boundary F, its radius in pixels per size."""
    res.update(layout=opts.layout, split=opts.split, id_space=opts.id_space,
               thresholds=[float(t) for t in opts.thresholds], threshold_unit=unit,
               image_sizes=[f"{h}x{w}" for h, w in sorted(sizes)])
    if opts.boundary:
        res["boundary_radius_px"] = radii_by_size(opts.thresholds, sizes)
    return res
