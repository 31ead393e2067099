"""A checkpoint is trusted only once checked: its model spec against the known architectures and its
tensors' shapes against the spec before any network is built (a 2.6 KB file asking for branch widths
of 1152 channels once took 1.4 GB before being refused), and its weights finite (all-NaN weights
once predicted empty offsets with exit 0)."""
from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from segfix_train import checkpoint as ckpt
from segfix_train.models import segfix as segfix_module
from segfix_train.models.spec import LIMITS, check_spec
from segfix_train.predict import load_model
from tests.support.tiny_run import write_tiny_run


@pytest.fixture
def built_on(monkeypatch):
    """The device type of every ``SegFixModel`` built while the test runs (``meta``: no storage)."""
    devices = []
    real = segfix_module.SegFixModel.__init__

    def spy(self, *a, **k):
        devices.append(torch.empty(0).device.type)
        real(self, *a, **k)
    monkeypatch.setattr(segfix_module.SegFixModel, "__init__", spy)
    return devices


def _crafted(tmp_path, spec, model=None) -> str:
    path = str(tmp_path / "crafted.pt")
    ckpt.save_checkpoint(path, {"format": ckpt.BEST_FORMAT, "model": model or {}, "model_spec": spec,
                                "num_directions": 8, "config": {}, "step": 1, "val": {}})
    return path


W18 = dict(name="hrnet_w18", num_directions=8, head="segfix", head_act="relu", align_corners=False)


@pytest.mark.parametrize("spec, says", [
    ({**W18, "channels": [18, 36, 72, 1152]}, "channels[3] = 1152 is outside 1..384"),
    ({**W18, "modules": [1, 4, 300]}, "modules[2] = 300 is outside 1..3"),
    ({**W18, "blocks": 40}, "blocks must be a whole number from 1 to 4"),
    ({**W18, "channels": [18, 36, 72]}, "channels must be 4 whole numbers"),
    ({**W18, "channels": "wide"}, "channels must be 4 whole numbers"),
    ({**W18, "name": "resnet152"}, "unknown backbone 'resnet152'"),
    ({**W18, "width_mult": 64}, "unknown entries ['width_mult']"),
    ({**W18, "name": "hrnet2x20", "stage1_channels": [128, 4096]}, "stage1_channels[1] = 4096 is outside 4..256"),
    ({**W18, "name": "hrnet_w48"}, "its weights do not fit model 'hrnet_w48'"),  # known, but no weights
])
def test_crafted_spec_is_refused_before_any_network_is_built(tmp_path, built_on, spec, says):
    path = _crafted(tmp_path, spec)
    with pytest.raises(ckpt.CheckpointError) as e:
        load_model(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: ") and says in msg and "\n" not in msg, msg
    assert "cpu" not in built_on, "a network was built before the spec and weights were checked"


def test_known_architectures_and_smaller_variants_pass():
    for name, limits in LIMITS.items():
        full = {"name": "hrnet_w48" if name == "hrnet" else name, **limits}
        assert check_spec(full) == full
    tiny = {**W18, "channels": [8, 16, 32, 64], "blocks": 1, "modules": [1, 1, 1]}
    assert check_spec(tiny) == tiny


def test_a_real_checkpoint_is_built_once_on_the_cpu(tmp_path, built_on):
    run = write_tiny_run(tmp_path / "run")
    built_on.clear()
    net = load_model(str(run))
    assert built_on == ["meta", "cpu"] and not net.training


def test_authors_file_with_too_few_tensors_builds_nothing(tmp_path, built_on):
    """An authors'-format file names a full network (hrnet_w48 here) by its keys alone."""
    sd = {"backbone.transition1.0.0.weight": torch.zeros(48, 256, 3, 3), "mask_head.1.weight": torch.ones(256),
          "mask_head.0.weight": torch.zeros(256, 720, 1, 1), "dir_head.2.weight": torch.zeros(8, 256, 1, 1)}
    path = tmp_path / "authors.pth"
    torch.save({"state_dict": sd}, path)
    with pytest.raises(ValueError, match="does not fit the authors' hrnet_w48 SegFix model"):
        load_model(str(path))
    assert "cpu" not in built_on


def _with_nan(tmp_path) -> str:
    run = write_tiny_run(tmp_path / "run")
    state = ckpt.load_checkpoint(str(run / "checkpoints" / "ckpt_00000001.pt"))
    state["model"] = {k: v.float().fill_(float("nan")) if v.is_floating_point() else v
                      for k, v in state["model"].items()}
    path = ckpt.checkpoint_path(str(run), 2)
    ckpt.save_checkpoint(path, state)
    return path


def test_non_finite_weights_are_refused_naming_the_file(tmp_path):
    path = _with_nan(tmp_path)
    with pytest.raises(ckpt.CheckpointError) as e:
        load_model(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: ") and "hold NaN or infinite values" in msg and "earlier checkpoint" in msg
    # --resume falls back to the newest checkpoint that is finite, saying why it skipped the other
    found, state, skipped = ckpt.load_latest(str(tmp_path / "run"))
    assert found.endswith("ckpt_00000001.pt") and [p for p, _ in skipped] == [path]


def test_predict_with_nan_weights_exits_2_in_one_line_and_writes_nothing(tmp_path):
    from cli.main import main

    path = _with_nan(tmp_path)
    (tmp_path / "imgs").mkdir()
    Image.new("RGB", (16, 16)).save(tmp_path / "imgs" / "a.png")
    r = CliRunner().invoke(main, ["predict", "--checkpoint", path, "--images", str(tmp_path / "imgs"),
                                  "--out", str(tmp_path / "off"), "--device", "cpu"])
    assert r.exit_code == 2, r.output
    (line,) = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert path in line and "NaN" in line and "Traceback" not in r.output
    assert not (tmp_path / "off").exists()
