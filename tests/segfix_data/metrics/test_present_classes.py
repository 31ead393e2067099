"""``SegmentationScore`` takes the classes present in an image from its confusion matrix: the
same as the pixel-wise definition, ``present_classes``, for any maps (ignore and out-of-range
predictions included)."""
import numpy as np
from hypothesis import given, settings, strategies as st

from segfix_data.metrics.confusion import confusion_matrix
from segfix_data.metrics.score import present_classes, present_from_confusion


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6), st.integers(1, 9), st.integers(1, 9), st.integers(0, 2**32 - 1))
def test_present_from_confusion_is_present_classes(k, h, w, seed):
    g = np.random.default_rng(seed)
    values = np.array(list(range(k + 2)) + [255], np.uint8)  # classes, out of range, ignore
    pred, gt = g.choice(values, (h, w)), g.choice(values, (h, w))
    np.testing.assert_array_equal(present_from_confusion(confusion_matrix(pred, gt, k)),
                                  present_classes(pred, gt, k))
