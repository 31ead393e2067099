"""Crop stream: determinism, mixing, rank split, window reads, flip geometry, normalisation."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from segfix_data.targets.direction import bin_offsets, flip_bins, flip_direction_map
from segfix_train.data import (IMAGENET_MEAN, IMAGENET_STD, AugmentConfig, CropStream, batch_allocation,
                               device_batch, make_loader, normalise, random_crop, to_model_input)

from tests.support.fakes import FakeShardSet, one_torch_thread  # noqa: F401


@pytest.fixture(scope="module")
def sets():
    return FakeShardSet(n=6, seed=1), FakeShardSet(n=4, h=48, w=80, seed=2)


def test_batch_allocation():
    assert batch_allocation(16, [1, 1]) == [8, 8]
    assert batch_allocation(5, [2, 1]) == [3, 2]
    assert batch_allocation(3, [1]) == [3]
    assert sum(batch_allocation(7, [0.3, 0.3, 0.4])) == 7
    with pytest.raises(ValueError, match="weights"):
        batch_allocation(4, [0, 0])


def test_stream_is_deterministic_and_worker_independent(sets):
    a = CropStream(sets, [1, 1], 4, seed=3, aug=AugmentConfig(crop=32))
    b = CropStream(sets, [1, 1], 4, seed=3, aug=AugmentConfig(crop=32))
    x0 = [a[i] for i in range(3)]
    x1 = list(make_loader(b, 0, 3, num_workers=2))
    for p, q in zip(x0, x1):
        for k in p:
            assert torch.equal(p[k], q[k])
    # resuming at batch 2 gives batch 2
    assert torch.equal(next(iter(make_loader(b, 2, 3)))["image"], x0[2]["image"])
    c = CropStream(sets, [1, 1], 4, seed=4, aug=AugmentConfig(crop=32))
    assert not torch.equal(c[0]["image"], x0[0]["image"])


def test_mixing_and_shapes(sets):
    s = CropStream(sets, [3, 1], 4, seed=0, aug=AugmentConfig(crop=40))
    item = s[5]
    assert item["image"].shape == (4, 40, 40, 3) and item["image"].dtype == torch.uint8
    assert item["brightness"].shape == (4,) and item["brightness"].abs().max() <= 10
    assert item["boundary"].shape == (4, 40, 40) and item["boundary"].dtype == torch.uint8
    assert item["set"].tolist() == [0, 0, 0, 1]
    # set 1 is 48 high: the crop is padded with ignore below row 48
    assert (item["boundary"][3, 48:] == 255).all() and (item["direction"][3, 48:] == 255).all()


def test_epoch_walks_every_image_once(sets):
    s = CropStream(sets[:1], [1], 2, seed=0, aug=AugmentConfig(crop=16))
    seen = [s._image(0, k) for k in range(6)]
    assert sorted(seen) == list(range(6))


@pytest.mark.parametrize("world", [2, 3, 4])
def test_ranks_sample_every_frame_equally_often(world):
    """5 images in shards of 2, 2 and 1 (whole shards per rank would give 2 ranks 4 and 1
    images): over any whole number of global epochs every frame is drawn the same number of
    times, and within one epoch the ranks draw disjoint frames."""
    ds = FakeShardSet(n=5, h=16, w=16, images_per_shard=2)
    streams = [CropStream([ds], [1], 1, seed=3, rank=r, world_size=world, aug=AugmentConfig(crop=8))
               for r in range(world)]
    draws = 5 * 4  # 4 global epochs: 20 draws per rank
    counts = np.zeros(5, int)
    for stream in streams:
        for c in range(draws):
            counts[stream._image(0, c)] += 1
    assert counts.tolist() == [world * 4] * 5
    first_epoch = [st._image(0, c) for c in range(5) for st in streams][:5]
    assert sorted(first_epoch) == list(range(5))


def test_one_rank_walk_is_unchanged_by_the_global_walk(sets):
    """world_size 1: the permutation seeded as before ([seed, 1, set, 0, epoch]) -- old runs resume."""
    s = CropStream(sets[:1], [1], 2, seed=5, aug=AugmentConfig(crop=16))
    expect = np.random.default_rng([5, 1, 0, 0, 1]).permutation(6)
    assert [s._image(0, 6 + k) for k in range(6)] == expect.tolist()


def test_only_the_window_is_read(sets):
    ds = FakeShardSet(n=1, h=64, w=64)
    rng = np.random.default_rng(0)
    img, b, d, delta, flip = random_crop(ds, 0, rng, AugmentConfig(crop=24, flip=False, brightness=0), 8)
    (_, (y0, x0, h, w)), = ds.reads
    assert (h, w) == (24, 24) and delta == 0 and not flip
    f = ds.frames[0]
    assert np.array_equal(b, f["semantic/boundary"][y0:y0 + 24, x0:x0 + 24])
    assert np.array_equal(d, f["semantic/direction_band"][y0:y0 + 24, x0:x0 + 24])  # the band (format 3)
    assert np.array_equal(img, f["image"][y0:y0 + 24, x0:x0 + 24])


def test_flip_mirrors_pixels_and_bins():
    ds = FakeShardSet(n=1, h=32, w=32)
    f = ds.frames[0]
    aug = AugmentConfig(crop=32, brightness=0)
    draws = [random_crop(ds, 0, np.random.default_rng(seed), aug, 8) for seed in range(12)]
    assert {d[4] for d in draws} == {True, False}
    table = flip_bins(8)
    src = f["semantic/direction_band"][:, ::-1]
    mirrored = np.where(src == 255, 255, table[np.minimum(src, 7)]).astype(np.uint8)
    for img, b, d, delta, flip in draws:
        assert np.array_equal(b, f["semantic/boundary"])  # as read: flipping is device_batch's job
        batch = {"image": torch.from_numpy(img)[None], "boundary": torch.from_numpy(b)[None],
                 "direction": torch.from_numpy(d)[None], "flip": torch.tensor([flip])}
        x, bt, dt = device_batch(batch, torch.device("cpu"), 8)
        if flip:
            assert np.array_equal(bt[0].numpy(), f["semantic/boundary"][:, ::-1])
            assert np.array_equal(dt[0].numpy(), mirrored)
            assert np.array_equal(dt[0].numpy(), flip_direction_map(f["semantic/direction_band"], 8))
            assert torch.allclose(x[0], torch.from_numpy(normalise(f["image"][:, ::-1])), atol=1e-6)
        else:
            assert np.array_equal(dt[0].numpy(), f["semantic/direction_band"])
            assert torch.allclose(x[0], torch.from_numpy(normalise(f["image"])), atol=1e-6)
        # applied in the worker instead (apply_flip=True), the result is the same
    img2, b2, d2, _, flip2 = random_crop(ds, 0, np.random.default_rng(0), aug, 8, apply_flip=True)
    _, bt0, dt0 = device_batch({"image": torch.from_numpy(draws[0][0])[None],
                                "boundary": torch.from_numpy(draws[0][1])[None],
                                "direction": torch.from_numpy(draws[0][2])[None],
                                "flip": torch.tensor([draws[0][4]])}, torch.device("cpu"), 8)
    assert np.array_equal(b2, bt0[0].numpy()) and np.array_equal(d2, dt0[0].numpy())


@settings(max_examples=20, deadline=None)
@given(st.sampled_from([4, 8, 16]), st.integers(0, 2**31 - 1))
def test_flip_is_an_involution_and_mirrors_offsets(m, seed):
    g = np.random.default_rng(seed)
    d = g.choice(list(range(m)) + [255], size=(5, 7)).astype(np.uint8)
    f = flip_direction_map(d, m)
    assert np.array_equal(flip_direction_map(f, m), d)
    off = bin_offsets(m)
    for y in range(5):
        for x in range(7):
            a, b = d[y, 6 - x], f[y, x]
            if a == 255:
                assert b == 255
            else:  # (dy, dx) -> (dy, -dx)
                assert tuple(off[b]) == (off[a][0], -off[a][1])


def test_brightness_draws_and_device_normalisation():
    ds = FakeShardSet(n=1, h=16, w=16)
    deltas = {random_crop(ds, 0, np.random.default_rng(seed), AugmentConfig(crop=16), 8)[3] for seed in range(200)}
    assert deltas == set(range(-10, 11))  # integers, uniform over [-10, 10]
    img = np.array([[[0, 128, 250]]], np.uint8)[None]  # (1, 1, 1, 3)
    x = to_model_input(torch.from_numpy(img), torch.tensor([10], dtype=torch.int16))
    expect = (np.minimum(img[0, 0, 0].astype(np.float32) + 10, 255) - IMAGENET_MEAN) / IMAGENET_STD
    assert x.shape == (1, 3, 1, 1) and np.allclose(x[0, :, 0, 0].numpy(), expect, atol=1e-6)
    ref = torch.from_numpy(normalise(ds.frames[0]["image"]))
    assert torch.allclose(to_model_input(torch.from_numpy(ds.frames[0]["image"])[None])[0], ref, atol=1e-6)


def test_random_scale_keeps_size_and_labels():
    # labels are resampled by nearest neighbour with half-pixel centres from the window that was
    # read (the image's), and padded with ignore: pinned pixel by pixel against that definition
    ds = FakeShardSet(n=1, h=64, w=64)
    c = 32
    for seed in range(6):
        ds.reads.clear()
        img, b, d, _, _ = random_crop(ds, 0, np.random.default_rng(seed), AugmentConfig(crop=c, scale=(0.5, 2.0)), 8)
        assert img.shape == (c, c, 3) and img.dtype == np.uint8 and b.shape == (c, c) and d.shape == (c, c)
        s = np.random.default_rng(seed).uniform(0.5, 2.0)  # random_crop's first draw
        (_, (y0, x0, ch, cw)), = ds.reads
        oh, ow = max(1, round(ch * s)), max(1, round(cw * s))
        iy = np.minimum((2 * np.arange(oh) + 1) * ch // (2 * oh), ch - 1)[:c]  # floor((i + 1/2) in / out)
        ix = np.minimum((2 * np.arange(ow) + 1) * cw // (2 * ow), cw - 1)[:c]
        f = ds.frames[0]
        for got, key, pad in ((b, "semantic/boundary", 255), (d, "semantic/direction_band", 255)):
            expect = np.full((c, c), pad, np.uint8)
            expect[:len(iy), :len(ix)] = f[key][y0:y0 + ch, x0:x0 + cw][iy][:, ix]
            np.testing.assert_array_equal(got, expect, err_msg=f"{key}, seed {seed}, scale {s:.3f}")


def test_normalise_checks_shape():
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        normalise(np.zeros((4, 4)))


@pytest.mark.parametrize("m", [8, 16])
def test_flipped_targets_equal_targets_of_the_flipped_scene(m):
    # flip geometry: mirroring the targets (pixels and bins) gives the targets of the mirrored labels
    from segfix_data.targets import semantic_targets
    from tests.support.fakes import scene

    for seed in range(3):
        _, lab = scene(seed, 48, 64)
        t = semantic_targets(lab, num_directions=m)
        tf = semantic_targets(np.ascontiguousarray(lab[:, ::-1]), num_directions=m)
        assert np.array_equal(tf.boundary, t.boundary[:, ::-1])
        assert np.array_equal(tf.direction, flip_direction_map(t.direction, m))
