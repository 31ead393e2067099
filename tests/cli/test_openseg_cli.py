"""``segfix predict --tester openseg``, ``segfix convert-openseg`` and ``segfix models`` on the
authors' checkpoint layout (weights of ``shared/fixtures/openseg_model``)."""
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli.main import main
from segfix_data.interop import load_openseg_offsets_mat
from segfix_data.refine.offsets import read_offsets
from tests.support.fakes import one_torch_thread  # noqa: F401
from tests.support.openseg_model import authors_state_dict, fixture_path


def _authors_file(directory, arch: str, backbone: str):
    """Weights as their trainer saves them: DataParallel prefix, config_dict, InPlace-ABN layout."""
    path = directory / f"segfix_{arch}_cityscapes.pth"
    sd = {"module." + k: v for k, v in authors_state_dict(arch).items()}
    torch.save({"state_dict": sd, "config_dict": {"network": {"backbone": backbone, "bn_type": "inplace_abn",
                                                              "model_name": "segfix_hrnet"}}}, path)
    return path


@pytest.fixture(scope="module")
def authors_file(tmp_path_factory):
    return _authors_file(tmp_path_factory.mktemp("authors"), "hrnet18", "hrnet18")


def _images(tmp_path, name):
    d = tmp_path / "imgs"
    d.mkdir(exist_ok=True)
    shutil.copy(fixture_path(name), d / name)
    return d


def _predict_mat(tmp_path, checkpoint, mode, *extra):
    """``segfix predict --checkpoint FILE --tester openseg --mat`` on the 512x1024 frame, as a user calls
    it; returns the (512, 1024, 2) int8 offsets of the written ``.mat``."""
    out = tmp_path / f"off_{mode}"
    r = CliRunner().invoke(main, ["predict", "--checkpoint", str(checkpoint), "--images",
                                  str(_images(tmp_path, "image_512x1024.png")), "--out", str(out),
                                  "--tester", "openseg", "--openseg-mode", mode, "--mat", "--device", "cpu",
                                  *extra])
    assert r.exit_code == 0, r.output
    return load_openseg_offsets_mat(out / "image_512x1024.mat")


@pytest.mark.slow  # one 512x1024 pass (whole) or five 512x512 windows (sscrop) on one core: 5 s to 2 min
@pytest.mark.parametrize("mode,key", [("whole", "whole"), ("sscrop", "sscrop512")])
@pytest.mark.parametrize("arch,backbone", [("hrnet18", "hrnet18"), ("hrnet2x20", "hrnet2x20")])
def test_predict_openseg_mat_equals_the_authors_tester(tmp_path, arch, backbone, mode, key):
    """The default importer (no --abn-weight) reproduces their tester's offsets on >= 99.99% of pixels.

    The pixels tolerated are ties: a boundary probability at the threshold or two direction logits
    equal to float32 rounding, which flip with the summation order of a CPU convolution (thread
    count, AVX2 or AVX-512 kernels); 0-13 of 524,288 pixels in practice, at most 52 here."""
    mat = _predict_mat(tmp_path, _authors_file(tmp_path, arch, backbone), mode)
    ref = np.load(fixture_path(f"{arch}_offsets_512x1024.npz"))[key]
    assert mat.shape == ref.shape == (512, 1024, 2)
    assert (mat == ref).all(-1).mean() >= 0.9999


@pytest.mark.slow  # one 512x1024 pass of HRNet-W18 on one core
def test_abn_weight_as_stored_gives_other_offsets_on_inplace_abn_weights(tmp_path, authors_file):
    """``--abn-weight as-stored`` is for torch-BN stand-ins: on InPlace-ABN weights it changes the offsets."""
    mat = _predict_mat(tmp_path, authors_file, "whole", "--abn-weight", "as-stored")
    ref = np.load(fixture_path("hrnet18_offsets_512x1024.npz"))["whole"]
    assert (mat == ref).all(-1).mean() < 0.99


def test_convert_then_predict_equals_predict_on_the_authors_file(tmp_path, authors_file):
    conv = tmp_path / "w18_converted.pt"
    r = CliRunner().invoke(main, ["convert-openseg", str(authors_file), str(conv)])
    assert r.exit_code == 0, r.output
    assert "hrnet_w18" in r.output and "inplace_abn" in r.output and "config_dict" in r.output
    state = torch.load(conv, weights_only=True)
    assert state["model_spec"]["align_corners"] is True and state["model_spec"]["head"] == "openseg"
    assert len(state["source"]["sha256"]) == 64 and state["source"]["abn_scale"] is True
    assert (tmp_path / "w18_converted.pt.sha256").exists()  # a segfix checkpoint, digest beside it
    imgs = _images(tmp_path, "image_128x256.png")
    outs = []
    for ck in (authors_file, conv):
        out = tmp_path / f"off_{ck.stem}"
        r = CliRunner().invoke(main, ["predict", "--checkpoint", str(ck), "--images", str(imgs), "--out", str(out),
                                      "--tester", "openseg", "--device", "cpu"])
        assert r.exit_code == 0, r.output
        outs.append(read_offsets(out / "image_128x256.npz"))
    assert np.array_equal(outs[0]["boundary"], outs[1]["boundary"])
    assert np.array_equal(outs[0]["direction"], outs[1]["direction"])


def test_user_mistakes_are_one_line_errors(tmp_path, authors_file):
    imgs = _images(tmp_path, "image_128x256.png")
    r = CliRunner().invoke(main, ["predict", "--checkpoint", str(authors_file), "--images", str(imgs),
                                  "--out", str(tmp_path / "o"), "--tester", "openseg", "--tile", "256"])
    assert r.exit_code != 0 and "--tester openseg fixes the windows" in r.output
    r = CliRunner().invoke(main, ["predict", "--checkpoint", str(authors_file), "--images", str(imgs),
                                  "--out", str(tmp_path / "o"), "--model", "hrnet_w32"])
    assert r.exit_code != 0 and "shape mismatches" in r.output and "Traceback" not in r.output
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    r = CliRunner().invoke(main, ["convert-openseg", str(bad), str(tmp_path / "x.pt")])
    assert r.exit_code != 0 and "bad.pth" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "x.pt").exists()


def test_models_prints_every_parameter_count():
    r = CliRunner().invoke(main, ["models"])
    assert r.exit_code == 0, r.output
    for text in ("9,562,260", "29,305,536", "65,325,120", "47,085,184", "47.3 M", "9.6 M", "29.4 M"):
        assert text in r.output


class _Payload:
    """Unpickling this would create ``marker`` (what a crafted checkpoint could do)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("kind", ["garbage", "crafted"])
def test_convert_refuses_what_is_not_tensors_without_running_it(tmp_path, kind):
    bad = tmp_path / "bad.pth"
    marker = tmp_path / "ran"
    if kind == "garbage":
        bad.write_bytes(b"not a checkpoint at all\n")
    else:
        torch.save({"state_dict": {"w": torch.zeros(1)}, "x": _Payload(marker)}, bad)
    r = CliRunner().invoke(main, ["convert-openseg", str(bad), str(tmp_path / "out.pt")])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and str(bad) in r.output and "could run code" in r.output
    assert "weights_only=False" not in r.output and "weights_only` set to `False`" not in r.output
    assert not marker.exists() and not (tmp_path / "out.pt").exists()
