"""``direction_band``: the band's directions from the same pass as the targets at gamma.

The reference is the definition: the targets at gamma without a band, and the ``direction`` of
the targets at gamma = band (a pixel's direction does not depend on gamma).
"""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from segfix_data import instance_targets, semantic_targets
from segfix_data.targets import min_distance_bound
from tests.segfix_data.targets.test_targets import blocky

#: Widths whose comparison ``d <= gamma`` a float32 distance would get wrong: sqrt(26) - 1 ulp
#: rounds to float32(sqrt(26)), which a float32 test counts as <= gamma.
GAMMAS = [1.0, 2.5, 5.0, math.nextafter(math.sqrt(26.0), 0.0), math.sqrt(2.0)]


def _same(a, b, name):
    if a.dtype == np.float32:
        a, b = a.view(np.uint32), b.view(np.uint32)
    assert np.array_equal(a, b), name


@given(st.integers(0, 2**31 - 1), st.integers(2, 36), st.integers(2, 36), st.integers(1, 5),
       st.sampled_from([3, 5, 9]), st.sampled_from(GAMMAS), st.sampled_from([0.0, 0.7, 3.0, 10.0]),
       st.booleans(), st.booleans(), st.booleans())
def test_one_pass_band_equals_the_two_passes_bit_for_bit(seed, h, w, n_labels, ksize, gamma, extra,
                                                          border, bounded, instance):
    label = blocky(seed, h, w, n_labels, block=2, ignore=255)
    band = gamma + extra
    make = instance_targets if instance else semantic_targets
    kw = dict(ignore_index=255, ksize=ksize, border_is_boundary=border)
    narrow = make(label, gamma=gamma, distance_bound=min_distance_bound(gamma, ksize) if bounded else None, **kw)
    wide_bound = min_distance_bound(band, ksize) if bounded else None
    wide = make(label, gamma=band, distance_bound=wide_bound, **kw)
    one = make(label, gamma=gamma, direction_band=band, distance_bound=wide_bound, **kw)
    for name in ("boundary", "direction", "gradient"):
        _same(getattr(one, name), getattr(narrow, name), name)
    _same(one.band_direction, wide.direction, "band_direction")
    _same(one.distance, wide.distance, "distance")  # the same EDT (same bound) as the wide pass
    assert one.params["direction_band"] == band and narrow.band_direction is None
    # band pixels off the boundary: valid, within the band, beyond gamma
    off = (one.band_direction != 255) & (one.boundary == 0)
    assert (label[off] != 255).all() and (one.direction[off] == 255).all()


def test_band_pixels_are_those_within_the_band_hand_case():
    label = np.zeros((4, 12), np.uint8)
    label[:, 6:] = 1  # distances 6 5 4 3 2 1 | 1 2 3 4 5 6 along a row
    t = semantic_targets(label, gamma=2, direction_band=4, ksize=3)
    assert t.boundary[1].tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0]
    assert (t.band_direction[1] != 255).tolist() == [False, False] + [True] * 8 + [False, False]
    assert t.band_direction[1, 2] == t.band_direction[1, 5] == 0      # left: into label 0
    assert t.band_direction[1, 6] == t.band_direction[1, 9] == 4      # right: into label 1
    assert (t.direction[1] != 255).tolist() == [False] * 4 + [True] * 4 + [False] * 4


def test_band_below_gamma_openseg_and_too_small_bounds_are_refused():
    label = blocky(0, 20, 20, 3)
    with pytest.raises(ValueError, match="direction_band 4 is below gamma"):
        semantic_targets(label, direction_band=4)
    with pytest.raises(ValueError, match="paper preset only"):
        semantic_targets(label, preset="openseg", direction_band=15)
    with pytest.raises(ValueError, match="paper preset only"):
        instance_targets(label, preset="openseg", direction_band=15)
    need = min_distance_bound(15, 9)  # 15 + 4 sqrt 2: what the band's directions read
    with pytest.raises(ValueError, match="distance_bound 11 is below 20.657 pixels = direction_band"):
        semantic_targets(label, direction_band=15, distance_bound=11)
    assert semantic_targets(label, direction_band=15, distance_bound=need).params["distance_bound"] == need
