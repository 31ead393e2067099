"""``.npy`` label maps are read from a checked header: an empty, truncated, object-dtype or
huge-shape file is one line naming it (refine and eval), never a traceback or gigabytes."""
from __future__ import annotations

import io
import tracemalloc

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cli.main import main
from segfix_data.datasets.npy import read_id_map, read_npy_data, read_npy_header
from segfix_data.errors import InputError
from segfix_data.refine.offsets import write_offsets
from tests.support.build_data import write_cityscapes


def _npy(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def _huge() -> bytes:
    """A header declaring a 100000 x 100000 int64 map (80 GB) and no data."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<i8", "fortran_order": False, "shape": (100000, 100000)})
    return buf.getvalue()


GOOD = _npy(np.arange(32 * 64, dtype=np.int32).reshape(32, 64) % 30)
BAD = {  # kind: (file bytes, what the message says)
    "empty": (b"", "an empty file"),
    "truncated data": (GOOD[:-100], "truncated .npy file"),
    "truncated header": (GOOD[:20], "not a readable .npy array"),
    "object dtype": (_npy(np.array([[1, None]], dtype=object)), "Python objects"),
    "huge shape": (_huge(), "declares 100000x100000"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_npy_is_an_input_error_naming_the_file(tmp_path, kind):
    data, says = BAD[kind]
    p = tmp_path / "m.npy"
    p.write_bytes(data)
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match=r"m\.npy: .*" + says.replace(".", r"\.")):
            read_id_map(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


@pytest.mark.parametrize("arr", [np.zeros((3, 4), np.float32), np.zeros((2, 3, 4), np.uint8), np.zeros(5, np.int64),
                                 np.zeros((3, 4), bool)])
def test_not_a_2d_integer_map_is_refused(tmp_path, arr):
    p = tmp_path / "x.npy"
    np.save(p, arr)
    with pytest.raises(InputError, match=r"x\.npy: a label map must be a 2-D integer array"):
        read_id_map(p)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.uint8, ">u2", np.int32, np.int64])
def test_round_trip_equals_numpy(tmp_path, order, dtype):
    arr = np.asarray(np.random.default_rng(0).integers(0, 200, (7, 9)), dtype=dtype, order=order)
    p = tmp_path / "ok.npy"
    np.save(p, arr)
    got = read_id_map(p)
    np.testing.assert_array_equal(got, np.load(p))
    assert got.dtype == np.load(p).dtype and got.flags.writeable
    with open(p, "rb") as f:  # header then exactly the data, from one open file
        h = read_npy_header(f, p)
        assert (h.shape, h.nbytes) == ((7, 9), 63 * h.dtype.itemsize)
        np.testing.assert_array_equal(read_npy_data(f, h, p), arr)


# ------------------------------------------------------------------------------ refine and eval

KEY = "aachen_000000_000019"


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("npy")
    data = write_cityscapes(root / "data", {"val": 1}, height=32, width=64)
    write_offsets(root / "off" / f"{KEY}_leftImg8bit.npz", np.zeros((32, 64), np.uint8),
                  np.full((32, 64), 255, np.uint8), 8)
    ids = np.array(Image.open(data / "gtFine" / "val" / "aachen" / f"{KEY}_gtFine_labelIds.png"))
    return root, ids


@pytest.mark.parametrize("command", ["refine", "eval"])
@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_npy_prediction_is_one_line(tree, tmp_path, command, kind):
    root, _ = tree
    pred = tmp_path / "pred"
    pred.mkdir()
    (pred / f"{KEY}_leftImg8bit.npy").write_bytes(BAD[kind][0])
    args = (["refine", str(pred), str(tmp_path / "out"), "--offsets", str(root / "off")] if command == "refine"
            else ["eval", str(root / "data"), str(pred), "--no-boundary"])
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and "Traceback" not in r.output and "internal error" not in r.output, r.output
    assert r.output.count("\n") == 1 and f"{KEY}_leftImg8bit.npy" in r.output and BAD[kind][1] in r.output


def test_good_npy_prediction_scores(tree, tmp_path):
    root, ids = tree
    pred = tmp_path / "pred"
    pred.mkdir()
    np.save(pred / f"{KEY}_leftImg8bit.npy", ids.astype(np.int32))
    r = CliRunner().invoke(main, ["eval", str(root / "data"), str(pred), "--no-boundary"])
    assert r.exit_code == 0, r.output
