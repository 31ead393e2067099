"""Shard array encodings: tiles, the boundary/direction code, the derived distance."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segfix_data import semantic_targets
from segfix_data.shards import codec
from segfix_data.shards import codec as shards
from segfix_data.shards.codec import derive_distance
from tests.support.oracles import decode_boundary_direction_reference


def _label(rng, h, w, k=4):
    lab = rng.integers(0, k, (max(1, h // 8), max(1, w // 8))).repeat(8, 0).repeat(8, 1)[:h, :w]
    lab = np.pad(lab, ((0, h - lab.shape[0]), (0, w - lab.shape[1])), mode="edge").astype(np.uint8)
    lab[rng.random((h, w)) < 0.02] = 255
    return lab


def test_derived_distance_is_the_targets_distance():
    rng = np.random.default_rng(3)
    lab = _label(rng, 50, 70)
    t = semantic_targets(lab)
    np.testing.assert_array_equal(derive_distance(lab, ignore_index=255, cap=255.0), t.distance)
    # brute force on a tiny map: nearest other-label pixel centre
    small = lab[:9, :11]
    d = derive_distance(small, ignore_index=255, cap=255.0)
    ys, xs = np.mgrid[:9, :11]
    for y in range(9):
        for x in range(11):
            other = small != small[y, x]
            expect = np.sqrt(((ys - y) ** 2 + (xs - x) ** 2)[other].min()) if other.any() else 255.0
            expect = 0.0 if small[y, x] == 255 else min(expect, 255.0)
            assert d[y, x] == np.float32(expect)


@settings(max_examples=30, deadline=None)
@given(m=st.sampled_from([4, 8, 16]), seed=st.integers(0, 2**16))
def test_boundary_direction_code_round_trip(m, seed):
    rng = np.random.default_rng(seed)
    b = rng.choice(np.array([0, 1, 255], np.uint8), (7, 9))
    d = np.where(b == 1, rng.integers(0, m + 1, (7, 9)), 255).astype(np.uint8)
    d[d == m] = 255                                     # boundary pixels without a direction
    code = shards.encode_boundary_direction(b, d)
    np.testing.assert_array_equal(decode_boundary_direction_reference(code)[0], b)
    np.testing.assert_array_equal(decode_boundary_direction_reference(code)[1], d)
    b2, d2 = shards.decode_boundary_direction(code)
    np.testing.assert_array_equal(b2, b)
    np.testing.assert_array_equal(d2, d)
    bad = d.copy()
    bad[b == 0] = 3
    if (b == 0).any():
        with pytest.raises(ValueError, match="cannot share one array"):
            shards.encode_boundary_direction(b, bad)


def test_every_code_decodes_as_the_format_defines_it():
    code = np.arange(256, dtype=np.uint8).reshape(16, 16)
    b, d = shards.decode_boundary_direction(code)
    rb, rd = decode_boundary_direction_reference(code)
    np.testing.assert_array_equal(b, rb)
    np.testing.assert_array_equal(d, rd)


def test_encode_array_tiles_are_zlib_chunks():
    import zlib

    arr = np.arange(5 * 7, dtype=np.uint8).reshape(5, 7)
    enc = shards.encode_array(arr, tile=4, level=1)
    assert enc.chunks == (4, 4) and [o for o, _ in enc.blocks] == [(0, 0), (0, 4), (4, 0), (4, 4)]
    for _, data in enc.blocks:  # every stored chunk ends with its Fletcher-32 sum
        assert int.from_bytes(data[-4:], "little") == codec.fletcher32(data[:-4])
    last = np.frombuffer(zlib.decompress(enc.blocks[-1][1][:-4]), np.uint8).reshape(4, 4)
    expect = np.zeros((4, 4), np.uint8)
    expect[:1, :3] = arr[4:, 4:]                       # edge tile zero-padded, as HDF5 stores it
    np.testing.assert_array_equal(last, expect)
    raw = shards.encode_array(arr, tile=4, level=0, raw_tiles=True)
    assert raw.blocks[0][1][:-4] == arr[:4, :4].tobytes()
    flat = shards.encode_array(np.arange(9, dtype=np.uint8), level=0)
    assert flat.chunks is None and flat.blocks == [(None, bytes(range(9)))]
    with pytest.raises(ValueError, match="expects an"):
        shards.encode_array(np.zeros(4, np.uint8), level=1)


def _fletcher32_oracle(data: bytes) -> int:
    """HDF5's H5_checksum_fletcher32 written out plainly (big-endian 16-bit words, mod 65535)."""
    if len(data) % 2:
        data = data + b"\0"
    s1 = s2 = 0
    for k in range(0, len(data), 2):
        s1 = (s1 + (data[k] << 8 | data[k + 1])) % 65535
        s2 = (s2 + s1) % 65535
    # HDF5 folds with end-around carry, so a sum of 65535 stays 65535 instead of 0
    return (s2 << 16) | s1


def _hdf5_fletcher32_loop(data: bytes) -> int:
    """HDF5's H5_checksum_fletcher32 step by step: one word at a time, end-around-carry folds
    of both sums every 360 words and twice at the end (the serial form our kernel rearranges)."""
    s1 = s2 = 0
    words = [data[k] << 8 | data[k + 1] for k in range(0, len(data) - 1, 2)]
    if len(data) % 2:
        words.append(data[-1] << 8)
    fold = lambda x: (x & 0xFFFF) + (x >> 16)  # noqa: E731
    for start in range(0, len(words), 360):
        for w in words[start:start + 360]:
            s1 += w
            s2 += s1
        s1, s2 = fold(s1), fold(s2)
    s1, s2 = fold(fold(s1)), fold(fold(s2))
    return (s2 << 16) | s1


@pytest.mark.parametrize("n", [0, 1, 2, 3, 511, 512, 513, 719, 720, 721, 5000])
def test_fletcher32_matches_oracle_on_non_saturating_data(n):
    data = bytes(np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8))
    got = codec.fletcher32(data)
    want = _fletcher32_oracle(data)
    assert got % 65535 == want % 65535 and (got >> 16) % 65535 == (want >> 16) % 65535
    assert got == _hdf5_fletcher32_loop(data)


@settings(max_examples=200)
@given(st.integers(0, 3000), st.sampled_from(["random", "ff", "zero", "sparse", "ff-then-zero"]),
       st.integers(0, 2**32 - 1))
def test_fletcher32_equals_hdf5s_serial_loop_bit_for_bit(n, kind, seed):
    """Sizes around the 256-word blocks and HDF5's 360-word folds, and contents that make the
    sums hit multiples of 65535 (all 0xFF, all zero, sparse): where 0 and 65535 differ."""
    rng = np.random.default_rng(seed)
    data = {"random": rng.integers(0, 256, n), "ff": np.full(n, 255), "zero": np.zeros(n),
            "sparse": (rng.random(n) < 0.01) * 255,
            "ff-then-zero": np.r_[np.full(n // 2, 255), np.zeros(n - n // 2)]}[kind]
    data = bytes(np.asarray(data, dtype=np.uint8))
    assert codec.fletcher32(data) == _hdf5_fletcher32_loop(data)


@pytest.mark.parametrize("shape,chunks", [((37, 53), (16, 16)), ((20, 30, 3), (8, 8, 3)), ((1001,), (1001,)),
                                          ((128, 128, 3), (128, 128, 3))])
@pytest.mark.parametrize("fill", ["random", "ff", "zero"])
def test_fletcher32_equals_what_hdf5_stores(tmp_path, shape, chunks, fill):
    import h5py

    arr = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    if fill != "random":
        arr[:] = 255 if fill == "ff" else 0
    with h5py.File(tmp_path / "a.h5", "w") as f:
        ds = f.create_dataset("a", data=arr, chunks=chunks, fletcher32=True)
        _, stored = ds.id.read_direct_chunk((0,) * arr.ndim)
    assert codec.with_fletcher32(stored[:-4]) == stored
