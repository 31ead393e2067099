"""Round trips and input checks of segfix_data.refine.offsets."""
import numpy as np
import pytest

from segfix_data.refine.offsets import read_offsets, write_offsets


@pytest.mark.parametrize("m", [4, 8, 16])
def test_round_trip_preserves_arrays(tmp_path, m):
    rng = np.random.default_rng(m)
    boundary = (rng.random((17, 23)) < 0.3).astype(np.uint8)
    direction = np.where(boundary == 1, rng.integers(0, m, boundary.shape), 255).astype(np.uint8)
    path = write_offsets(tmp_path / "sub" / "frame_a", boundary, direction, m)
    assert path.name == "frame_a.npz"
    got = read_offsets(path)
    assert got["num_directions"] == m
    assert got["boundary"].dtype == np.uint8 and got["direction"].dtype == np.uint8
    np.testing.assert_array_equal(got["boundary"], boundary)
    np.testing.assert_array_equal(got["direction"], direction)
    # no temporary file left behind
    assert sorted(p.name for p in path.parent.iterdir()) == ["frame_a.npz"]


def test_rejects_bad_inputs(tmp_path):
    b = np.zeros((4, 5), np.uint8)
    with pytest.raises(ValueError, match="shape"):
        write_offsets(tmp_path / "x.npz", b, np.zeros((5, 4), np.uint8), 8)
    with pytest.raises(ValueError, match="bins 0..7"):
        write_offsets(tmp_path / "x.npz", b, np.full((4, 5), 8, np.uint8), 8)
    with pytest.raises(ValueError, match="0 and 1"):
        write_offsets(tmp_path / "x.npz", b + 2, b, 8)
    with pytest.raises(ValueError, match="num_directions"):
        write_offsets(tmp_path / "x.npz", b, b, 6)
    assert not list(tmp_path.iterdir())


def test_read_names_file_on_garbage(tmp_path):
    p = tmp_path / "bad.npz"
    p.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="bad.npz"):
        read_offsets(p)
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="other.npz.*missing"):
        read_offsets(tmp_path / "other.npz")


def test_npz_bomb_is_refused_from_its_declared_shape_before_decompressing(tmp_path):
    import tracemalloc

    from segfix_data.refine.offsets import npz_declared_shapes

    big = tmp_path / "big.npz"  # 4000 x 4000 x 2 maps: 32 MB inflated from a ~60 KB file
    write_offsets(big, np.zeros((4000, 4000), np.uint8), np.full((4000, 4000), 255, np.uint8), 8)
    assert big.stat().st_size < 200_000
    assert npz_declared_shapes(big) == {"boundary": (4000, 4000), "direction": (4000, 4000),
                                        "num_directions": (), "format_version": ()}
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"big\.npz: boundary declares shape \(4000, 4000\), but the "
                                             r"frame is \(8, 8\)"):
            read_offsets(big, expect_shape=(8, 8))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000  # nothing near the 16 MB of one map was allocated
    small = write_offsets(tmp_path / "ok.npz", np.zeros((8, 8), np.uint8), np.full((8, 8), 255, np.uint8), 8)
    assert read_offsets(small, expect_shape=(8, 8))["boundary"].shape == (8, 8)
