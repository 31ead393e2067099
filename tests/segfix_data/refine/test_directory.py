"""segfix refine: offset sources, file formats, instance results, CLI round trips."""
import json

import numpy as np
import pytest
import scipy.io
from click.testing import CliRunner
from PIL import Image

from cli.main import main
from segfix_data.refine.offsets import write_offsets
from segfix_data.refine import refine_labels, refine_labels_with_offsets, refine_masks
from segfix_data.datasets.io import frame_key
from segfix_data.refine.directory import OffsetsSource, offsets_from_openseg

KEY = "frankfurt_000000_000294"
H, W = 12, 16


def _frame(seed=0):
    rng = np.random.default_rng(seed)
    label = np.kron(rng.choice([7, 8, 11, 26], (3, 4)), np.ones((4, 4), int)).astype(np.uint8)
    boundary = (rng.random((H, W)) < 0.5).astype(np.uint8)
    direction = np.where(boundary == 1, rng.integers(0, 8, (H, W)), 255).astype(np.uint8)
    return label, boundary, direction


def test_frame_key():
    assert frame_key("a/frankfurt_000000_000294_leftImg8bit.png") == KEY
    assert frame_key("frankfurt_000000_000294_gtFine_labelIds.png") == KEY
    assert frame_key("bad_honnef_000001_000002.npz") == "bad_honnef_000001_000002"
    assert frame_key("ADE_val_00000001.png") == "ADE_val_00000001"


def test_openseg_mat_offsets_read_correctly(tmp_path):
    # the authors' files: key "mat", H x W x 2, (dy, dx) in {-1, 0, 1}
    mat = np.zeros((3, 4, 2), np.int16)
    mat[1, 1] = (0, 1)    # right
    mat[1, 2] = (-1, -1)  # up-left
    mat[2, 3] = (1, 0)    # down (clamped)
    scipy.io.savemat(tmp_path / f"{KEY}_leftImg8bit.mat", {"mat": mat})
    src = OffsetsSource(tmp_path)
    assert src.kind == "mat" and src.keys == {KEY}
    fo = src.get(KEY)
    assert fo.num_directions == 8
    np.testing.assert_array_equal(fo.boundary, [[0, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1]])
    np.testing.assert_array_equal(fo.direction[1, 1:3], [4, 1])
    assert fo.direction[2, 3] == 6 and fo.direction[0, 0] == 255
    label = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = refine_labels(label, fo.boundary, fo.direction, 8, scale=1)
    assert out[1, 1] == label[1, 2] and out[1, 2] == label[0, 1] and out[2, 3] == label[2, 3]
    for s in (1, 2):
        np.testing.assert_array_equal(refine_labels(label, fo.boundary, fo.direction, 8, scale=s),
                                      refine_labels_with_offsets(label, mat * s))


def test_openseg_offsets_rejects_large_values():
    with pytest.raises(ValueError, match="-1, 0, 1"):
        offsets_from_openseg(np.full((2, 2, 2), 2))


def _write_png(path, arr, mode="L", palette=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(arr)
    if mode == "P":
        im = Image.frombuffer("P", (arr.shape[1], arr.shape[0]), arr.tobytes(), "raw", "P", 0, 1)
        im.putpalette(palette)
    im.save(path)


def test_cli_refine_label_maps_predict_offsets(tmp_path):
    label, boundary, direction = _frame()
    write_offsets(tmp_path / "off" / f"{KEY}_leftImg8bit.npz", boundary, direction, 8)
    key2 = "ulm_000001_000002"
    label2, b2, d2 = _frame(1)
    write_offsets(tmp_path / "off" / f"{key2}_leftImg8bit.npz", b2, d2, 8)
    palette = list(np.random.default_rng(0).integers(0, 256, 768))
    _write_png(tmp_path / "pred" / "frankfurt" / f"{KEY}_leftImg8bit.png", label)
    _write_png(tmp_path / "pred" / "ulm" / f"{key2}_pred.png", label2, "P", palette)
    np.save(tmp_path / "pred" / f"{key2}.npy", label2.astype(np.int32))
    res = CliRunner().invoke(main, ["refine", str(tmp_path / "pred"), str(tmp_path / "out"),
                                    "--offsets", str(tmp_path / "off"), "--iterations", "2"])
    assert res.exit_code == 0, res.output
    out1 = Image.open(tmp_path / "out" / "frankfurt" / f"{KEY}_leftImg8bit.png")
    assert out1.mode == "L"
    np.testing.assert_array_equal(np.array(out1), refine_labels(label, boundary, direction, 8, scale=2, iterations=2))
    out2 = Image.open(tmp_path / "out" / "ulm" / f"{key2}_pred.png")
    assert out2.mode == "P" and out2.getpalette() == [int(v) for v in palette]
    expected2 = refine_labels(label2, b2, d2, 8, scale=2, iterations=2)
    np.testing.assert_array_equal(np.array(out2), expected2)
    out3 = np.load(tmp_path / "out" / f"{key2}.npy")
    assert out3.dtype == np.int32
    np.testing.assert_array_equal(out3, expected2)
    log = json.loads((tmp_path / "out" / "refine_log.json").read_text())
    assert log["label_maps"] == 3 and log["source_kind"] == "predict"
    # the values actually used, not the options as given (no --scale: 2 for label maps, 1 for masks)
    assert log["params"]["scale"] == 2 and log["params"]["scale_instance_masks"] == 1


def test_cli_refine_missing_offsets_and_id_space(tmp_path):
    label, boundary, direction = _frame()
    write_offsets(tmp_path / "off" / "other_000000_000001.npz", boundary, direction, 8)
    _write_png(tmp_path / "pred" / f"{KEY}_leftImg8bit.png", label)
    res = CliRunner().invoke(main, ["refine", str(tmp_path / "pred"), str(tmp_path / "out"),
                                    "--offsets", str(tmp_path / "off")])
    assert res.exit_code == 2 and "no offsets for frame" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(main, ["refine", str(tmp_path / "pred"), str(tmp_path / "out"),
                                    "--offsets", str(tmp_path / "off"), "--skip-missing"])
    assert res.exit_code == 0, res.output
    np.testing.assert_array_equal(np.array(Image.open(tmp_path / "out" / f"{KEY}_leftImg8bit.png")), label)
    res = CliRunner().invoke(main, ["refine", str(tmp_path / "pred"), str(tmp_path / "out2"),
                                    "--offsets", str(tmp_path / "off"), "--skip-missing", "--id-space", "trainIds"])
    assert res.exit_code == 2 and "trainIds" in res.output and "Traceback" not in res.output


def test_cli_refine_instance_results(tmp_path):
    label, boundary, direction = _frame(2)
    mat = np.zeros((H, W, 2), np.int16)
    from segfix_data.targets.direction import bin_offsets
    on = boundary == 1
    mat[on] = bin_offsets(8)[direction[on]]
    scipy.io.savemat(tmp_path / f"{KEY}_leftImg8bit.mat", {"mat": mat})
    pred = tmp_path / "pred"
    masks = [(label == 26).astype(np.uint8) * 255, (label == 8).astype(np.uint8) * 255]
    lines = []
    for i, m in enumerate(masks):
        _write_png(pred / "masks" / f"{KEY}_{i}.png", m)
        lines.append(f"masks/{KEY}_{i}.png {[26, 8][i]} {0.9 - i * 0.25:.4f}")
    (pred / f"{KEY}_leftImg8bit_pred.txt").write_text("\n".join(lines) + "\n")
    res = CliRunner().invoke(main, ["refine", str(pred), str(tmp_path / "out"), "--offsets", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / f"{KEY}_leftImg8bit_pred.txt").read_text() == "\n".join(lines) + "\n"
    expected = refine_masks(masks, boundary, direction, 8, scale=1)
    for i in range(2):
        got = np.array(Image.open(tmp_path / "out" / "masks" / f"{KEY}_{i}.png"))
        assert set(np.unique(got)) <= {0, 255}
        np.testing.assert_array_equal(got, expected[i])
    assert "2 instance masks" in res.output
