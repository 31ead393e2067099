"""Label-id tables and conversions for the supported datasets.

All functions take and return numpy arrays; none does I/O.

* Cityscapes ``labelIds`` (0..33, -1) -> 19 train ids through the official table, else ignore.
* Cityscapes ``instanceIds`` (``class_id * 1000 + k`` for a thing instance, the plain class id for
  stuff and crowd regions) -> a segment map for :func:`segfix_data.instance_targets`.
* ADE20K annotations: 0 is ignore, ``1..150 -> 0..149``.
* GTA5 labels are in Cityscapes ``labelIds``.
* PASCAL VOC: palette PNGs whose indices are the 21 train ids (0 background .. 20), 255 ignore.
* mmsegmentation trees: ids are train ids already; ``reduce_zero_label`` maps 0 -> 255, k -> k-1.
"""
from __future__ import annotations

import numpy as np
from segfix_data.errors import InputError
from segfix_data.ignore import IGNORE_INDEX

#: Cityscapes labelIds of the 19 evaluated classes, in train-id order.
CITYSCAPES_EVAL_IDS = (7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33)

CITYSCAPES_CLASS_NAMES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle",
)

#: Cityscapes labelIds of the classes that have instances (``hasInstances`` in the official table).
CITYSCAPES_THING_IDS = (24, 25, 26, 27, 28, 29, 30, 31, 32, 33)

ADE20K_NUM_CLASSES = 150
#: ADE20K (SceneParsing, ``objectInfo150``) class names in train-id order (annotation id - 1), each
#: the first of the class's names (``wall``, ``building``, ``sky``, ...).
ADE20K_CLASS_NAMES = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass",
    "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair",
    "car", "water", "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field",
    "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion",
    "base", "box", "column", "signboard", "chest of drawers", "counter", "sand", "sink", "skyscraper",
    "fireplace", "refrigerator", "grandstand", "path", "stairs", "runway", "case", "pool table",
    "pillow", "screen door", "stairway", "river", "bridge", "bookcase", "blind", "coffee table",
    "toilet", "flower", "book", "hill", "bench", "countertop", "stove", "palm", "kitchen island",
    "computer", "swivel chair", "boat", "bar", "arcade machine", "hovel", "bus", "towel", "light",
    "truck", "tower", "chandelier", "awning", "streetlight", "booth", "television receiver",
    "airplane", "dirt track", "apparel", "pole", "land", "bannister", "escalator", "ottoman",
    "bottle", "buffet", "poster", "stage", "van", "ship", "fountain", "conveyer belt", "canopy",
    "washer", "plaything", "swimming pool", "stool", "barrel", "basket", "waterfall", "tent", "bag",
    "minibike", "cradle", "oven", "ball", "food", "step", "tank", "trade name", "microwave", "pot",
    "animal", "bicycle", "lake", "dishwasher", "screen", "blanket", "sculpture", "hood", "sconce",
    "vase", "traffic light", "tray", "ashcan", "fan", "pier", "crt screen", "plate", "monitor",
    "bulletin board", "shower", "radiator", "glass", "clock", "flag",
)

#: PASCAL VOC 2012 class names in index order (index 0 = background).
VOC_CLASS_NAMES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)


def _check_integer_map(label: np.ndarray, name: str = "label") -> np.ndarray:
    label = np.asarray(label)
    if label.ndim != 2:
        raise InputError(f"{name} must be a 2-D (H, W) array, got shape {label.shape}")
    if not np.issubdtype(label.dtype, np.integer):
        raise InputError(f"{name} must have an integer dtype, got {label.dtype}")
    return label


def _lookup(values: np.ndarray, table: np.ndarray, default: int) -> np.ndarray:
    """Map ``values`` through ``table`` (index = value); values outside the table get ``default``."""
    out = np.full(values.shape, default, dtype=np.uint8)
    inside = (values >= 0) & (values < table.size)
    out[inside] = table[values[inside]]
    return out


def cityscapes_label_to_train_id_table() -> np.ndarray:
    """uint8 table of length 256: labelId -> train id (255 for every non-evaluated id)."""
    table = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    table[list(CITYSCAPES_EVAL_IDS)] = np.arange(len(CITYSCAPES_EVAL_IDS), dtype=np.uint8)
    return table


def cityscapes_train_id_to_label_table() -> np.ndarray:
    """uint8 table of length 256: train id -> labelId (ignore 255 -> 0, 'unlabeled')."""
    table = np.zeros(256, dtype=np.uint8)
    table[: len(CITYSCAPES_EVAL_IDS)] = CITYSCAPES_EVAL_IDS
    return table


def cityscapes_label_ids_to_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Cityscapes ``labelIds`` (HxW integer) -> train ids (HxW uint8, 0..18 and 255)."""
    label_ids = _check_integer_map(label_ids, "labelIds")
    return _lookup(label_ids.astype(np.int64), cityscapes_label_to_train_id_table(), IGNORE_INDEX)


def cityscapes_train_ids_to_label_ids(train_ids: np.ndarray) -> np.ndarray:
    """Train ids (HxW integer, 0..18 and 255) -> Cityscapes ``labelIds`` (HxW uint8)."""
    train_ids = _check_integer_map(train_ids, "trainIds")
    return _lookup(train_ids.astype(np.int64), cityscapes_train_id_to_label_table(), 0)


def gta5_label_ids_to_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """GTA5 labels use Cityscapes ``labelIds``: same conversion."""
    return cityscapes_label_ids_to_train_ids(label_ids)


def ade20k_to_train_ids(annotation: np.ndarray) -> np.ndarray:
    """ADE20K annotation (HxW integer, 0 = ignore, 1..150) -> train ids (HxW uint8, 0..149, 255)."""
    annotation = _check_integer_map(annotation, "annotation")
    table = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    table[1 : ADE20K_NUM_CLASSES + 1] = np.arange(ADE20K_NUM_CLASSES, dtype=np.uint8)
    return _lookup(annotation.astype(np.int64), table, IGNORE_INDEX)


def cityscapes_instance_ids_to_segments(instance_ids: np.ndarray) -> tuple[np.ndarray, int]:
    """Cityscapes ``instanceIds`` -> a segment map for :func:`segfix_data.instance_targets`.

    Every thing instance (``id >= 1000`` of an evaluated class) is its own segment, every
    evaluated stuff class (and every evaluated thing class's crowd region, stored as the plain
    class id) is one segment, and everything else is ignore.

    Returns:
        ``(segments, ignore_index)``: int32 HxW segment map (raw instance ids kept as segment ids)
        and the value that marks ignored pixels (-1).
    """
    instance_ids = _check_integer_map(instance_ids, "instanceIds").astype(np.int64)
    class_ids = np.where(instance_ids >= 1000, instance_ids // 1000, instance_ids)
    evaluated = np.isin(class_ids, CITYSCAPES_EVAL_IDS)
    segments = np.where(evaluated, instance_ids, -1).astype(np.int32)
    return segments, -1


def cityscapes_instance_ids_to_openseg_segments(instance_ids: np.ndarray) -> np.ndarray:
    """The authors' instance generator's segment map (targets.md section 6).

    Raw ids below 256 that are not among the 19 evaluated ids become 255; every remaining value
    (255 included, and ids >= 1000 even of non-evaluated classes) is its own segment.

    Returns:
        int32 HxW segment map.
    """
    instance_ids = _check_integer_map(instance_ids, "instanceIds").astype(np.int64)
    small_not_eval = (instance_ids < 256) & ~np.isin(instance_ids, CITYSCAPES_EVAL_IDS)
    return np.where(small_not_eval, IGNORE_INDEX, instance_ids).astype(np.int32)


def cityscapes_instance_ids_to_train_ids(instance_ids: np.ndarray) -> np.ndarray:
    """Cityscapes ``instanceIds`` -> semantic train ids (HxW uint8)."""
    instance_ids = _check_integer_map(instance_ids, "instanceIds").astype(np.int64)
    class_ids = np.where(instance_ids >= 1000, instance_ids // 1000, instance_ids)
    return _lookup(class_ids, cityscapes_label_to_train_id_table(), IGNORE_INDEX)


def voc_to_train_ids(indices: np.ndarray) -> np.ndarray:
    """PASCAL VOC palette indices (HxW integer, 0..20 and 255) -> train ids (HxW uint8).

    The indices are the train ids, so this only narrows the dtype; values outside 0..20 become 255
    (:func:`segfix_data.datasets.io.read_label` refuses a file holding any besides 255 first).
    """
    indices = _check_integer_map(indices, "VOC label").astype(np.int64)
    return np.where((indices >= 0) & (indices < len(VOC_CLASS_NAMES)), indices, IGNORE_INDEX).astype(np.uint8)


def reduce_zero_label(ids: np.ndarray) -> np.ndarray:
    """mmsegmentation's ``reduce_zero_label``: 0 -> 255 (ignore), k -> k-1, 255 stays 255 (HxW uint8)."""
    ids = _check_integer_map(ids, "label").astype(np.int64)
    out = np.where(ids == 0, IGNORE_INDEX, ids - 1)
    out[ids == IGNORE_INDEX] = IGNORE_INDEX
    return out.astype(np.uint8)


def read_class_names(path) -> tuple[str, ...]:
    """Class names from a small text file: one name per line, in train-id order (blank lines and
    lines starting with ``#`` are skipped). Raises ValueError naming the file."""
    try:
        with open(path, encoding="utf-8") as f:
            names = tuple(line.strip() for line in f if line.strip() and not line.lstrip().startswith("#"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the class names ({exc}); expected a text file with "
                         "one class name per line") from None
    if not names:
        raise InputError(f"{path}: no class names; write one name per line, in train-id order")
    if len(names) > 255:
        raise InputError(f"{path}: {len(names)} class names; at most 255 (255 is ignore)")
    return names
