"""Generated data: Cityscapes-like street scenes and a small example dataset on disk.

* :mod:`.street`: :func:`synthetic_cityscapes_frame` (image, labelIds, instanceIds arrays).
* :mod:`.example`: :func:`write_example_dataset` (the Cityscapes layout, for ``segfix-gt example``).
* ``_scene`` and ``_canvas`` are the drawing internals.
"""
from ._scene import (  # noqa: F401  (label ids, for tests and users)
    BICYCLE, BUILDING, BUS, CAR, DYNAMIC, EGO, FENCE, GROUND, LIGHT, MIN_INSTANCES, MOTORCYCLE,
    OUT_OF_ROI, PARKING, PERSON, POLE, RIDER, ROAD, SIDEWALK, SIGN, SKY, STATIC, TERRAIN, TRUCK,
    UNLABELED, VEGETATION, WALL,
)
from .example import TRAIN_CITIES, VAL_CITIES, example_frame_paths, write_example_dataset
from .street import SyntheticFrame, synthetic_cityscapes_frame

__all__ = ["SyntheticFrame", "synthetic_cityscapes_frame", "write_example_dataset",
           "example_frame_paths", "TRAIN_CITIES", "VAL_CITIES"]
