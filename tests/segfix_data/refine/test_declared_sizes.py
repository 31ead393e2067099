"""Offsets files are measured before anything is decompressed: every member's declared size (shape
times item size, members without ``.npy``, duplicates, a ``.mat``'s repeated variables, cells and
data elements), for label maps and instance lists alike; a malformed scalar is one line."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import main
from segfix_data.errors import InputError
from segfix_data.interop import load_openseg_offsets_mat
from segfix_data.refine.offsets import read_offsets
from tests.segfix_data.refine.test_directory import KEY, _frame, _write_png
from tests.support.bombs import offsets_members, write_mat, write_npz

FRAME = (12, 16)


def _refused_small(fn, match: str) -> None:
    """``fn`` raises InputError matching ``match`` with less than 2 MB traced (nothing inflated)."""
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match=match):
            fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, peak


def _with(members, **replace):
    return [(n, replace.get(n, v)) for n, v in members]


def test_members_without_npy_suffix_are_measured_too(tmp_path):
    """numpy reads ``boundary`` and ``boundary.npy`` alike: both names are measured (was: skipped)."""
    path = write_npz(tmp_path / "x.npz", [("boundary", ((4000, 4000), "uint8")), ("direction", ((4000, 4000), "uint8")),
                                          ("num_directions.npy", np.int64(8))])
    _refused_small(lambda: read_offsets(path, expect_shape=FRAME),
                   r"x\.npz: boundary declares shape \(4000, 4000\), but the frame is \(12, 16\)")


def test_item_size_counts_not_only_elements(tmp_path):
    """A map of the frame's shape but dtype V65536 declares 64 KiB per pixel (was: counted as pixels)."""
    members = _with(offsets_members(FRAME), **{"boundary.npy": (FRAME, "V65536")})
    path = write_npz(tmp_path / "v.npz", members)
    _refused_small(lambda: read_offsets(path, expect_shape=FRAME), r"v\.npz: boundary must be an integer .*V65536")


def test_other_members_are_bounded_by_a_map(tmp_path):
    members = offsets_members(FRAME) + [("extra.npy", ((2000, 2000), "float64"))]
    path = write_npz(tmp_path / "e.npz", members)
    _refused_small(lambda: read_offsets(path, expect_shape=FRAME), r"e\.npz: extra declares .*more than a map")


@pytest.mark.parametrize("names", [("boundary.npy", "boundary.npy"), ("boundary", "boundary.npy")])
def test_two_members_for_one_array_are_refused(tmp_path, names):
    """The header check and the reader could otherwise look at different members."""
    first, second = names
    members = [(first, ((4000, 4000), "uint8")), (second, np.zeros(FRAME, np.uint8))] + offsets_members(FRAME)[1:]
    path = write_npz(tmp_path / "d.npz", members)
    _refused_small(lambda: read_offsets(path, expect_shape=FRAME), r"d\.npz: two members for the array 'boundary'")


@pytest.mark.parametrize("name, value", [
    ("num_directions.npy", np.array([8, 8])), ("num_directions.npy", np.array("8")),
    ("num_directions.npy", np.float64(8.0)), ("format_version.npy", np.array("1")),
    ("format_version.npy", np.float64(1.5)), ("format_version.npy", np.float64(8.5)),
    ("format_version.npy", np.array([1, 1])), ("num_directions.npy", np.array([8], dtype=object)),
])
def test_malformed_scalars_are_one_line(tmp_path, name, value):
    """An array, a string or a fraction where one integer belongs (was: a traceback, or 8.5 read as 8)."""
    path = write_npz(tmp_path / "s.npz", _with(offsets_members(FRAME), **{name: value}))
    with pytest.raises(InputError, match=r"s\.npz: .*(must be one integer|Python objects)"):
        read_offsets(path, expect_shape=FRAME)
    _write_png(tmp_path / "pred" / f"{KEY}_leftImg8bit.png", _frame()[0])
    (tmp_path / "off").mkdir()
    path.rename(tmp_path / "off" / f"{KEY}_leftImg8bit.npz")
    r = CliRunner().invoke(main, ["refine", str(tmp_path / "pred"), str(tmp_path / "out"), "--offsets",
                                  str(tmp_path / "off")])
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert r.output.count("\n") == 1 and f"{KEY}_leftImg8bit.npz" in r.output


def test_valid_file_reads_the_same_with_and_without_a_frame(tmp_path):
    label, boundary, direction = _frame(2)
    members = [("boundary.npy", boundary), ("direction.npy", direction), ("num_directions.npy", np.int64(8))]
    path = write_npz(tmp_path / "ok.npz", members)
    for shape in (None, FRAME):
        got = read_offsets(path, expect_shape=shape)
        np.testing.assert_array_equal(got["boundary"], boundary)
        np.testing.assert_array_equal(got["direction"], direction)
        assert got["num_directions"] == 8 and got["boundary"].flags.writeable


# ------------------------------------------------------------------------------ the authors' .mat


def test_mat_repeated_variable_is_refused(tmp_path):
    """A huge ``mat`` then a right-sized one: the check saw one, loadmat read the other."""
    path = write_mat(tmp_path / "dup.mat", [("mat", (2000, 2000, 2), "double"), ("mat", (*FRAME, 2), "int16")])
    _refused_small(lambda: load_openseg_offsets_mat(path, expect_shape=FRAME), r"dup\.mat: two variables named 'mat'")


def test_mat_cell_array_is_refused(tmp_path):
    """A cell array of the frame's dims declares nothing of what its cells hold."""
    path = write_mat(tmp_path / "cell.mat", [("mat", (*FRAME, 2), ("cell", (1, 512), "double"))])
    _refused_small(lambda: load_openseg_offsets_mat(path, expect_shape=FRAME),
                   r"cell\.mat: variable 'mat' is a cell array, not a numeric array")


def test_mat_data_element_larger_than_its_dims_is_refused(tmp_path):
    """scipy allocates what the data element declares before it checks the dims."""
    path = write_mat(tmp_path / "lie.mat", [("mat", (*FRAME, 2), "int16", 16 << 20)])
    _refused_small(lambda: load_openseg_offsets_mat(path, expect_shape=FRAME),
                   r"lie\.mat: mat declares shape \(12, 16, 2\) .*a data element of 16,777,216")


def test_mat_right_sized_reads(tmp_path):
    path = write_mat(tmp_path / "ok.mat", [("mat", (*FRAME, 2), "int16")])
    assert load_openseg_offsets_mat(path, expect_shape=FRAME).shape == (*FRAME, 2)


# ------------------------------------------------------------------------------ instance lists


@pytest.mark.parametrize("kind", ["npz", "mat"])
def test_instance_list_offsets_are_measured_against_the_masks(tmp_path, kind):
    """Instance lists passed no frame size, so their offsets went unchecked (was: 1.4 GB read)."""
    label, _, _ = _frame(3)
    pred = tmp_path / "pred"
    _write_png(pred / "masks" / f"{KEY}_0.png", (label == 26).astype(np.uint8) * 255)
    (pred / f"{KEY}_pred.txt").write_text(f"masks/{KEY}_0.png 26 0.9\n")
    off = tmp_path / "off"
    if kind == "npz":
        write_npz(off / f"{KEY}_leftImg8bit.npz", _with(offsets_members(FRAME), **{"boundary.npy": ((4000, 4000), "uint8")}))
        want = "boundary declares shape (4000, 4000), but the frame is (12, 16)"
    else:
        write_mat(off / f"{KEY}_leftImg8bit.mat", [("mat", (2000, 2000, 2), "int16")])
        want = "mat declares shape (2000, 2000, 2)"
    r = CliRunner().invoke(main, ["refine", str(pred), str(tmp_path / "out"), "--offsets", str(off)])
    assert r.exit_code == 2 and want in r.output and r.output.count("\n") == 1, r.output
    assert not (tmp_path / "out").exists()
