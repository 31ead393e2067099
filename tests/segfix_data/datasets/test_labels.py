import numpy as np
import pytest

from segfix_data.datasets.labels import (
    CITYSCAPES_EVAL_IDS, ade20k_to_train_ids, cityscapes_instance_ids_to_openseg_segments,
    cityscapes_instance_ids_to_segments, cityscapes_instance_ids_to_train_ids,
    cityscapes_label_ids_to_train_ids, cityscapes_train_ids_to_label_ids,
    gta5_label_ids_to_train_ids,
)


def test_cityscapes_label_ids_to_train_ids_table():
    ids = np.arange(-1, 40).reshape(1, -1)
    train = cityscapes_label_ids_to_train_ids(ids)[0]
    for label_id, t in zip(range(-1, 40), train):
        expected = CITYSCAPES_EVAL_IDS.index(label_id) if label_id in CITYSCAPES_EVAL_IDS else 255
        assert t == expected
    assert train.dtype == np.uint8
    assert np.array_equal(gta5_label_ids_to_train_ids(ids), cityscapes_label_ids_to_train_ids(ids))


def test_train_ids_round_trip_to_label_ids():
    train = np.arange(19, dtype=np.uint8).reshape(1, -1)
    back = cityscapes_train_ids_to_label_ids(train)
    assert back[0].tolist() == list(CITYSCAPES_EVAL_IDS)
    assert np.array_equal(cityscapes_label_ids_to_train_ids(back), train)
    assert cityscapes_train_ids_to_label_ids(np.array([[255]]))[0, 0] == 0


def test_ade20k():
    ann = np.array([[0, 1, 150, 151]])
    assert ade20k_to_train_ids(ann).tolist() == [[255, 0, 149, 255]]


def test_instance_segments():
    inst = np.array([[7, 26001, 26002, 26, 1, 29001, 24000]], np.int32)
    seg, ign = cityscapes_instance_ids_to_segments(inst)
    assert ign == -1
    # road, two cars, car crowd region, unlabeled -> ignore, caravan (not evaluated) -> ignore
    assert seg.tolist() == [[7, 26001, 26002, 26, -1, -1, 24000]]
    assert cityscapes_instance_ids_to_train_ids(inst).tolist() == [[0, 13, 13, 13, 255, 255, 11]]


def test_openseg_instance_segments_keep_their_quirks():
    inst = np.array([[7, 26001, 1, 5, 29001, 29]], np.int32)
    # ids < 256 not evaluated -> 255; ids >= 1000 kept even for non-evaluated classes
    assert cityscapes_instance_ids_to_openseg_segments(inst).tolist() == [
        [7, 26001, 255, 255, 29001, 255]]


def test_rejects_float_maps():
    with pytest.raises(ValueError, match="integer"):
        cityscapes_label_ids_to_train_ids(np.zeros((2, 2), np.float32))
