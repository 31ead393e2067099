import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from tests.support.code_edges import assert_openseg_codes_equal, code_edge_pixels
from tests.support.paths import parity_dir
from tests.support.oracles import (
    brute_force_sqdist, openseg_instance_reference, openseg_reference, per_label_gradient,
)
from segfix_data import instance_targets, semantic_targets
from segfix_data.targets.core import encode_dir_deg
from segfix_data.targets.direction import DIRECTION_IGNORE, angle_to_bin, bin_edges
from segfix_data.datasets.labels import (
    ade20k_to_train_ids, cityscapes_instance_ids_to_openseg_segments,
    cityscapes_label_ids_to_train_ids,
)


def blocky(seed, h, w, n_labels, block=3, ignore=None):
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, n_labels, (h // block + 1, w // block + 1))
    label = np.repeat(np.repeat(coarse, block, 0), block, 1)[:h, :w].astype(np.int32)
    if ignore is not None:
        label[rng.random(label.shape) < 0.05] = ignore
    return label


@given(st.integers(0, 2**31 - 1), st.integers(2, 24), st.integers(2, 24),
       st.integers(1, 5), st.sampled_from([3, 5, 9]), st.sampled_from([4, 8, 16]))
def test_paper_targets_match_brute_force_definitions(seed, h, w, n_labels, ksize, m):
    label = blocky(seed, h, w, n_labels, ignore=255)
    gamma = 2.5
    t = semantic_targets(label, ksize=ksize, num_directions=m, gamma=gamma)
    valid = label != 255
    sq = brute_force_sqdist(label)
    dist = np.where(sq < 0, 255.0, np.sqrt(sq.clip(0)))
    # distance: exact (float32 of the exact value), 0 on ignore
    assert np.array_equal(t.distance, np.where(valid, dist, 0).astype(np.float32))
    # boundary: d <= gamma on valid pixels, 255 on ignore
    expected_b = np.where(valid, (dist <= gamma).astype(np.uint8), 255)
    assert np.array_equal(t.boundary, expected_b)
    # direction: the per-label filter, binned, on boundary pixels
    g = per_label_gradient(label, np.where(valid, dist, 0.0), ksize)
    on = expected_b == 1
    assert np.allclose(t.gradient[:, on], g[:, on], atol=1e-4)
    theta = np.degrees(np.arctan2(g[0], g[1]))
    defined = np.hypot(g[0], g[1]) > 1e-6
    expected_dir = np.where(on & defined, angle_to_bin(np.where(theta == -180, 180, theta), m),
                            DIRECTION_IGNORE)
    # an angle within 1e-6 degrees of a bin edge may fall either side of it
    edges = np.concatenate([bin_edges(m), [-180.0, 180.0]])
    near_edge = np.min(np.abs(theta[..., None] - edges), axis=-1) < 1e-6
    near_zero = np.hypot(g[0], g[1]) < 1e-6
    settled = ~(near_edge | near_zero)
    assert np.array_equal(t.direction[settled], expected_dir[settled])
    assert np.all((t.direction == DIRECTION_IGNORE) | on)


def test_hand_computed_two_halves():
    label = np.zeros((12, 8), np.uint8)
    label[:, 4:] = 1
    t = semantic_targets(label, gamma=1)
    assert t.distance[0].tolist() == [4, 3, 2, 1, 1, 2, 3, 4]
    assert t.boundary[0].tolist() == [0, 0, 0, 1, 1, 0, 0, 0]
    # rows 4..7 see the whole 9x9 window: left of the edge the interior is to the left
    # (bin 0, 180 degrees), right of it to the right (bin 4)
    assert t.direction[4:8, 3].tolist() == [0] * 4 and t.direction[4:8, 4].tolist() == [4] * 4
    # in the top row the window is cut by the image border: the interior also lies below
    assert t.direction[0, 3] == 7 and t.direction[0, 4] == 5
    assert (t.direction[:, [0, 1, 2, 5, 6, 7]] == DIRECTION_IGNORE).all()
    assert t.distance.dtype == np.float32 and t.boundary.dtype == np.uint8


def test_vertical_and_diagonal_directions():
    label = np.zeros((8, 16), np.uint8)
    label[4:] = 1
    t = semantic_targets(label, gamma=1)
    assert (t.direction[3, 4:12] == 2).all() and (t.direction[4, 4:12] == 6).all()  # up, down
    corner = np.zeros((12, 12), np.uint8)
    corner[6:, 6:] = 1
    t = semantic_targets(corner, gamma=1)
    assert t.direction[6, 6] == 5  # interior of the lower-right square: down-right


def test_symmetric_pixel_has_undefined_direction():
    label = np.zeros((7, 7), np.uint8)
    label[3, 3] = 1  # a lone pixel: no same-label tap, zero gradient
    t = semantic_targets(label)
    assert t.boundary[3, 3] == 1 and t.direction[3, 3] == DIRECTION_IGNORE
    assert t.gradient[:, 3, 3].tolist() == [0.0, 0.0]


def test_symmetric_windows_give_exact_zero_components():
    label = np.zeros((9, 15), np.uint8)
    label[:, 7:] = 1  # up-down symmetric everywhere away from the top and bottom rows
    t = semantic_targets(label, gamma=3)
    inner = t.gradient[0, 4]  # middle row: gy must be exactly +0.0, not rounding noise
    assert (inner == 0).all() and not np.signbit(inner).any()


def test_one_label_map_saturates_and_has_no_boundary():
    t = semantic_targets(np.full((5, 6), 2, np.uint8))
    assert (t.distance == 255).all() and (t.boundary == 0).all()
    assert (t.direction == DIRECTION_IGNORE).all()
    t = semantic_targets(np.full((5, 6), 2, np.uint8), border_is_boundary=True, gamma=1)
    assert (t.boundary[0] == 1).all() and t.direction[0, 3] == 6  # down, into the image


def test_ignore_pixels_are_ignore_everywhere():
    label = blocky(3, 20, 30, 3, ignore=255)
    t = semantic_targets(label)
    ign = label == 255
    assert (t.distance[ign] == 0).all() and (t.boundary[ign] == 255).all()
    assert (t.direction[ign] == DIRECTION_IGNORE).all()
    assert (t.distance[~ign] >= 1).all()
    none = semantic_targets(label, ignore_index=None)
    assert (none.boundary != 255).all()


def test_labels_above_255_and_non_contiguous_ids():
    a = blocky(5, 30, 40, 4)
    ids = np.array([3, 1000, 65537, 9])
    t1 = semantic_targets(a, ignore_index=None)
    t2 = semantic_targets(ids[a], ignore_index=None)
    for f in ("distance", "boundary", "direction"):
        assert np.array_equal(getattr(t1, f), getattr(t2, f))


def test_instances_of_one_class_are_separated():
    seg = np.zeros((10, 20), np.int32)
    seg[2:8, 2:10] = 26001
    seg[2:8, 10:18] = 26002  # touching, same class
    inst = instance_targets(seg)
    sem = semantic_targets((seg // 1000).astype(np.uint8), ignore_index=None)
    assert inst.boundary[5, 9] == 1 and inst.boundary[5, 10] == 1
    assert sem.boundary[5, 9] == 0 or sem.distance[5, 9] > inst.distance[5, 9]
    assert inst.direction[5, 9] == 0 and inst.direction[5, 10] == 4


def test_instance_ignore_index_may_be_negative():
    seg = np.full((6, 6), -1, np.int32)
    seg[1:5, 1:5] = 7
    t = instance_targets(seg, ignore_index=-1)
    assert (t.boundary[seg == -1] == 255).all() and (t.boundary[seg == 7] == 1).all()
    with pytest.raises(ValueError, match="negative"):
        instance_targets(seg)


@pytest.mark.parametrize("bad,match", [
    (np.zeros(5, np.uint8), "2-D"),
    (np.zeros((2, 3, 3), np.uint8), "2-D"),
    (np.zeros((4, 4), np.float32), "integer"),
    (np.full((4, 4), -3, np.int16), "negative"),
    (np.zeros((0, 4), np.uint8), "empty"),
])
def test_rejects_bad_label_maps(bad, match):
    with pytest.raises(ValueError, match=match):
        semantic_targets(bad)


@pytest.mark.parametrize("kwargs,match", [
    (dict(preset="nope"), "preset"), (dict(ksize=4), "ksize"), (dict(num_directions=6), "4, 8"),
    (dict(gamma=0), "gamma"), (dict(colour="red"), "unknown target parameter"),
])
def test_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        semantic_targets(np.zeros((4, 4), np.uint8), **kwargs)


# --- openseg preset ---------------------------------------------------------------------------

def _png(name):
    return np.array(Image.open(os.path.join(parity_dir(), name)))


# The authors' script run on two kinds of processor (AVX-512 and AVX2 only): both files must pass.
# Their semantic and ADE20K scripts take float32 arctan2, so the two differ by one 2-degree code on
# 0.16-0.27% of pixels, every one in the code-edge class (tests/support/code_edges.py).
AUTHORS_RUNS = ["openseg", "openseg_x86v3"]


@pytest.mark.parametrize("run", AUTHORS_RUNS)
@pytest.mark.parametrize("stem", ["cityscapes_a", "cityscapes_b"])
def test_openseg_matches_the_authors_cityscapes_files_off_the_code_edge_class(stem, run):
    ref = np.load(os.path.join(parity_dir(), f"{stem}_{run}.npz"))
    train_ids = cityscapes_label_ids_to_train_ids(_png(f"{stem}_labelIds.png"))
    t = semantic_targets(train_ids, preset="openseg")
    got = t.to_openseg()
    assert got["deg_reduce"] == 2
    assert_openseg_codes_equal(got["depth"], got["dir_deg"], ref["depth"], ref["dir_deg"], t.gradient,
                               valid=train_ids != 255)
    segments = cityscapes_instance_ids_to_openseg_segments(_png(f"{stem}_instanceIds.png"))
    ti = instance_targets(segments, ignore_index=255, preset="openseg")
    got = ti.to_openseg()
    counts = assert_openseg_codes_equal(got["depth"], got["dir_deg"], ref["inst_depth"], ref["inst_dir_deg"],
                                        ti.gradient, valid=segments != 255)
    assert counts["differ"] == 0  # the instance script works in float64: equal on every processor


@pytest.mark.parametrize("run", AUTHORS_RUNS)
def test_openseg_matches_the_authors_ade20k_file_off_the_code_edge_class(run):
    ref = np.load(os.path.join(parity_dir(), f"ade20k_a_{run}.npz"))
    train_ids = ade20k_to_train_ids(_png("ade20k_a_annotation.png"))
    t = semantic_targets(train_ids, preset="openseg")
    got = t.to_openseg()
    assert_openseg_codes_equal(got["depth"], got["dir_deg"], ref["depth"], ref["dir_deg"], t.gradient,
                               valid=train_ids != 255)


def test_the_two_authors_runs_differ_only_on_the_code_edge_class():
    """The tolerance is no wider than the authors' own spread: their two runs differ on some pixels
    (so an exact comparison would fail one of them), all of them code-edge pixels."""
    for stem in ("cityscapes_a", "cityscapes_b", "ade20k_a"):
        a = np.load(os.path.join(parity_dir(), f"{stem}_openseg.npz"))
        b = np.load(os.path.join(parity_dir(), f"{stem}_openseg_x86v3.npz"))
        label = (_png(f"{stem}_labelIds.png") if stem != "ade20k_a" else _png("ade20k_a_annotation.png"))
        ids = cityscapes_label_ids_to_train_ids(label) if stem != "ade20k_a" else ade20k_to_train_ids(label)
        gradient = semantic_targets(ids, preset="openseg").gradient
        counts = assert_openseg_codes_equal(a["depth"], a["dir_deg"], b["depth"], b["dir_deg"], gradient,
                                            valid=ids != 255)
        assert counts["differ"] > 0, stem


def test_code_edge_comparison_refuses_a_code_off_the_class_and_a_two_code_step():
    gy = np.array([[1e-6, 3.0, 0.0]], np.float32)
    gx = np.array([[-4.0, 5.0, -2.0]], np.float32)  # near 180 deg; 31 deg; exactly 180 deg
    assert code_edge_pixels(gy, gx).tolist() == [[True, False, False]]
    gy, gx = np.tile(gy, (10, 10)), np.tile(gx, (10, 10))  # 300 pixels: one may differ (<= 1%)
    depth = np.ones(gy.shape, np.uint8)
    codes = encode_dir_deg(gy, gx)
    assert codes[0].tolist()[1:3] == [105, 180]

    def step(y, x, by):
        moved = codes.copy()
        moved[y, x] -= by
        return moved

    assert_openseg_codes_equal(depth, codes, depth, step(0, 0, 1), np.stack([gy, gx]))
    for bad in (step(0, 1, 1), step(0, 2, 1), step(0, 0, 2)):  # off the class (31 deg; exactly 180 deg); 2 codes
        with pytest.raises(AssertionError, match="dir_deg"):
            assert_openseg_codes_equal(depth, codes, depth, bad, np.stack([gy, gx]))
    too_many = step(0, 0, 1)
    too_many[1:5, 0] -= 1  # five code-edge pixels of 300 (> 1%)
    with pytest.raises(AssertionError, match="more than rounding"):
        assert_openseg_codes_equal(depth, codes, depth, too_many, np.stack([gy, gx]))


@given(st.integers(0, 2**31 - 1), st.integers(8, 40), st.integers(8, 40), st.integers(1, 6))
def test_openseg_matches_a_plain_per_class_implementation(seed, h, w, n_labels):
    label = blocky(seed, h, w, n_labels, block=4, ignore=255).astype(np.uint8)
    depth, dir_deg = openseg_reference(label, min_pixels=20)
    got = semantic_targets(label, preset="openseg", min_class_pixels=20).to_openseg()
    assert np.array_equal(got["depth"], depth)
    assert np.array_equal(got["dir_deg"], dir_deg)


@given(st.integers(0, 2**31 - 1), st.integers(8, 30), st.integers(8, 30))
def test_openseg_instances_match_a_plain_per_segment_implementation(seed, h, w):
    seg = blocky(seed, h, w, 5, block=3) * 1000 + 26000
    got = instance_targets(seg, preset="openseg").to_openseg()
    depth, dir_deg = openseg_instance_reference(seg)
    assert np.array_equal(got["depth"], depth)
    assert np.array_equal(got["dir_deg"], dir_deg)


@pytest.mark.parametrize("shape", [(1, 1), (5, 1), (1, 7), (30, 40), (120, 3)])
def test_openseg_single_label_map_follows_scipy(shape):
    # scipy's EDT of an all-True mask measures to a phantom pixel at (-1, 0); the authors'
    # generator stores that, so the openseg preset does too (the paper preset saturates instead)
    label = np.full(shape, 4, np.uint8)
    depth, dir_deg = openseg_reference(label, min_pixels=1)
    got = semantic_targets(label, preset="openseg", min_class_pixels=1).to_openseg()
    assert np.array_equal(got["depth"], depth) and np.array_equal(got["dir_deg"], dir_deg)
    segments = instance_targets(label.astype(np.int32), preset="openseg").to_openseg()
    ref = openseg_instance_reference(label.astype(np.int32))
    assert np.array_equal(segments["depth"], ref[0]) and np.array_equal(segments["dir_deg"], ref[1])
    assert (semantic_targets(label).distance == 255).all()


def test_openseg_small_classes_become_boundary_pointing_right():
    # the authors' fault 4, kept for bit compatibility in the openseg preset only
    label = np.zeros((30, 30), np.uint8)
    label[10:15, 10:15] = 1  # 25 pixels < 100: skipped
    t = semantic_targets(label, preset="openseg")
    assert (t.to_openseg()["depth"][10:15, 10:15] == 0).all()
    assert (t.boundary[10:15, 10:15] == 1).all() and (t.direction[10:15, 10:15] == 4).all()
    paper = semantic_targets(label)
    assert paper.direction[10, 12] == 6  # top row of the small square: down, into it


# ------------------------------------------------------------------------- distance_bound (capped)


@given(st.integers(0, 2**31 - 1), st.integers(2, 40), st.integers(2, 40), st.integers(1, 5),
       st.sampled_from([3, 5, 9]), st.sampled_from([1.0, 2.5, 5.0]), st.booleans(),
       st.sampled_from([0.0, 0.5, 30.0]))
def test_distance_bound_keeps_boundary_direction_gradient_bit_for_bit(seed, h, w, n_labels, ksize,
                                                                      gamma, border, extra):
    from segfix_data.targets import min_distance_bound

    label = blocky(seed, h, w, n_labels, block=2, ignore=255)
    kw = dict(ksize=ksize, gamma=gamma, border_is_boundary=border)
    bound = min_distance_bound(gamma, ksize) + extra
    full = semantic_targets(label, **kw)
    capped = semantic_targets(label, distance_bound=bound, **kw)
    assert np.array_equal(capped.boundary, full.boundary)
    assert np.array_equal(capped.direction, full.direction)
    assert np.array_equal(capped.gradient.view(np.uint32), full.gradient.view(np.uint32))
    assert np.array_equal(capped.distance, np.minimum(full.distance, np.float32(bound)))
    assert capped.params["distance_bound"] == bound and "distance_bound" not in full.params
    ti = instance_targets(label, ignore_index=255, distance_bound=bound, **kw)
    assert np.array_equal(ti.direction, instance_targets(label, ignore_index=255, **kw).direction)


def test_distance_bound_below_what_the_targets_read_is_refused():
    label = blocky(0, 20, 20, 3)
    with pytest.raises(ValueError, match="distance_bound .* below 10.657"):
        semantic_targets(label, distance_bound=10.0)
    with pytest.raises(ValueError, match="paper preset only"):
        semantic_targets(label, preset="openseg", distance_bound=50.0)
