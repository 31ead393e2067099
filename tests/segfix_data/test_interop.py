"""The authors' .mat files: round trips, the on-disk keys, and clear errors for bad files."""
import numpy as np
import pytest
import scipy.io
from hypothesis import given, settings
from hypothesis import strategies as st

from segfix_data.interop import (
    load_openseg_offsets_mat, load_openseg_targets_mat, save_openseg_offsets_mat,
    save_openseg_targets_mat,
)


@settings(max_examples=20, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_targets_round_trip(tmp_path_factory, h, w, seed):
    rng = np.random.default_rng(seed)
    depth = rng.integers(0, 251, (h, w), dtype=np.uint8)
    dir_deg = rng.integers(0, 181, (h, w), dtype=np.uint8)
    path = tmp_path_factory.mktemp("t") / "sub" / "a_gtFine_labelIds.mat"
    assert save_openseg_targets_mat(path, depth, dir_deg) == path
    out = load_openseg_targets_mat(path)
    assert out["depth"].dtype == np.uint8 and out["dir_deg"].dtype == np.uint8
    np.testing.assert_array_equal(out["depth"], depth)
    np.testing.assert_array_equal(out["dir_deg"], dir_deg)
    assert out["deg_reduce"] == 2
    assert [p.name for p in path.parent.iterdir()] == [path.name], "no temporary file left"


def test_targets_file_has_the_authors_keys(tmp_path):
    depth = np.full((20, 30), 250, np.uint8)
    depth[5:8] = 3
    path = save_openseg_targets_mat(tmp_path / "x.mat", depth, np.full((20, 30), 90, np.uint8))
    raw = scipy.io.loadmat(path)
    assert {"depth", "dir_deg", "deg_reduce"} <= set(raw)
    assert raw["depth"].dtype == np.uint8 and raw["depth"].shape == (20, 30)
    assert int(raw["deg_reduce"].ravel()[0]) == 2
    assert path.stat().st_size < depth.nbytes, "compressed"


@settings(max_examples=20, deadline=None)
@given(h=st.integers(1, 10), w=st.integers(1, 10), seed=st.integers(0, 2**16))
def test_offsets_round_trip(tmp_path_factory, h, w, seed):
    off = np.random.default_rng(seed).integers(-2, 3, (h, w, 2)).astype(np.int64)
    path = save_openseg_offsets_mat(tmp_path_factory.mktemp("o") / "o.mat", off)
    out = load_openseg_offsets_mat(path)
    assert out.dtype == np.int16 and out.shape == (h, w, 2)
    np.testing.assert_array_equal(out, off)


def test_offsets_as_matlab_doubles_are_read(tmp_path):
    off = np.zeros((3, 4, 2), np.float64)
    off[1, 2] = (-1, 1)
    scipy.io.savemat(tmp_path / "d.mat", {"mat": off})
    out = load_openseg_offsets_mat(tmp_path / "d.mat")
    assert out.dtype == np.int16 and tuple(out[1, 2]) == (-1, 1)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.mat"):
        load_openseg_targets_mat(tmp_path / "nope.mat")


@pytest.mark.parametrize("content", [b"", b"not a mat file at all" * 10, b"MATLAB 5.0 MAT-file" + b"\x00" * 40])
def test_corrupt_file_names_the_file(tmp_path, content):
    bad = tmp_path / "bad.mat"
    bad.write_bytes(content)
    with pytest.raises(ValueError, match="bad.mat"):
        load_openseg_targets_mat(bad)
    with pytest.raises(ValueError, match="bad.mat"):
        load_openseg_offsets_mat(bad)


def test_truncated_file(tmp_path):
    path = save_openseg_targets_mat(tmp_path / "t.mat", np.arange(400, dtype=np.uint8).reshape(20, 20) % 250,
                                    np.zeros((20, 20), np.uint8))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="t.mat.*damaged"):
        load_openseg_targets_mat(path)


def test_missing_key_and_wrong_shape(tmp_path):
    scipy.io.savemat(tmp_path / "k.mat", {"depth": np.zeros((4, 4), np.uint8), "deg_reduce": 2})
    with pytest.raises(ValueError, match=r"k.mat.*dir_deg"):
        load_openseg_targets_mat(tmp_path / "k.mat")
    scipy.io.savemat(tmp_path / "s.mat", {"depth": np.zeros((4, 4), np.uint8),
                                          "dir_deg": np.zeros((4, 5), np.uint8), "deg_reduce": 2})
    with pytest.raises(ValueError, match=r"s.mat.*shape"):
        load_openseg_targets_mat(tmp_path / "s.mat")
    scipy.io.savemat(tmp_path / "o.mat", {"mat": np.zeros((4, 4, 3), np.int16)})
    with pytest.raises(ValueError, match=r"o.mat.*\(H, W, 2\)"):
        load_openseg_offsets_mat(tmp_path / "o.mat")
    scipy.io.savemat(tmp_path / "v.mat", {"depth": np.zeros((4, 4), np.uint8),
                                          "dir_deg": np.full((4, 4), 200, np.uint8), "deg_reduce": 2})
    with pytest.raises(ValueError, match=r"v.mat.*0..180"):
        load_openseg_targets_mat(tmp_path / "v.mat")


def test_bad_inputs_to_save(tmp_path):
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        save_openseg_targets_mat(tmp_path / "a.mat", np.zeros(5, np.uint8), np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match="same"):
        save_openseg_targets_mat(tmp_path / "a.mat", np.zeros((2, 3), np.uint8), np.zeros((3, 2), np.uint8))
    with pytest.raises(ValueError, match="0..180"):
        save_openseg_targets_mat(tmp_path / "a.mat", np.zeros((2, 3), np.uint8), np.full((2, 3), 181))
    with pytest.raises(ValueError, match=r"\(H, W, 2\)"):
        save_openseg_offsets_mat(tmp_path / "a.mat", np.zeros((2, 3, 2), np.float32))
    assert not (tmp_path / "a.mat").exists()


# --- declared sizes: a zlib-bomb offsets .mat is refused before it inflates


def test_declared_shapes_are_read_from_the_headers(tmp_path):
    import scipy.io

    from segfix_data.interop import mat_declared_shapes

    path = tmp_path / "v.mat"
    scipy.io.savemat(path, {"mat": np.zeros((5, 7, 2), np.int16), "b": np.ones((3, 4)), "c": np.uint8(1)},
                     do_compression=True)
    assert mat_declared_shapes(path) == {"mat": (5, 7, 2), "b": (3, 4), "c": (1, 1)}
    scipy.io.savemat(path, {"mat": np.zeros((5, 7, 2), np.int16)}, do_compression=False)
    assert mat_declared_shapes(path) == {"mat": (5, 7, 2)}


def test_zlib_bomb_offsets_mat_is_refused_before_decompressing(tmp_path):
    import tracemalloc

    import scipy.io

    from segfix_data.interop import load_openseg_offsets_mat

    path = tmp_path / "bomb.mat"  # 2000 x 2000 x 2 int16: 16 MB inflated from ~16 KB
    scipy.io.savemat(path, {"mat": np.zeros((2000, 2000, 2), np.int16)}, do_compression=True)
    assert path.stat().st_size < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"bomb\.mat: mat declares shape \(2000, 2000, 2\).*\(8, 8, 2\)"):
            load_openseg_offsets_mat(path, expect_shape=(8, 8))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000  # the declared size alone refuses it: nothing near 16 MB was allocated
    scipy.io.savemat(path, {"mat": np.zeros((8, 8, 2), np.int16)}, do_compression=True)
    assert load_openseg_offsets_mat(path, expect_shape=(8, 8)).shape == (8, 8, 2)
