"""The authors' network and inference (``shared/fixtures/openseg_model``): HRNet2x-W20 as they built
it, their checkpoints through our importer, their raw outputs and their offsets reproduced."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from segfix_train.models import create_backbone, create_model
from segfix_train.models.openseg_import import (build_openseg_model, load_openseg_model,
                                                read_openseg_checkpoint)
from segfix_train.predict_openseg import openseg_normalise, openseg_predict, openseg_window_starts
from tests.support.fakes import one_torch_thread  # noqa: F401
from tests.support.openseg_model import (ARCHS, authors_state_dict, fixture_path,
                                                to_torch_bn_layout)


@pytest.mark.parametrize("name,count", [("hrnet_w18", 9_562_260), ("hrnet_w32", 29_305_536),
                                        ("hrnet_w48", 65_325_120), ("hrnet2x20", 47_085_184)])
def test_backbone_parameter_counts_equal_the_authors(name, count):
    assert sum(p.numel() for p in create_backbone(name).parameters()) == count


@pytest.fixture(scope="module")
def weights():
    return {arch: authors_state_dict(arch) for arch in ARCHS}


def _model(weights, arch, **kw):
    """The fixture's weights through the importer's default path (InPlace-ABN's |weight| + eps scale)."""
    return build_openseg_model(read_openseg_checkpoint(f"{arch}.pth", {"state_dict": weights[arch]}, **kw))


def _raw_outputs(model):
    x = openseg_normalise(np.asarray(Image.open(fixture_path("image_128x256.png")).convert("RGB")))
    with torch.no_grad():
        return x, model.forward_raw(x[None])


@pytest.mark.parametrize("arch", list(ARCHS))
def test_keys_and_shapes_are_the_authors(arch, weights):
    keys = json.load(open(fixture_path(f"{arch}_keys.json")))
    ck = read_openseg_checkpoint("f.pth", {"state_dict": weights[arch]})
    assert ck.spec == dict(name=ARCHS[arch], num_directions=8, head="openseg", head_act="leaky_relu",
                           align_corners=True)
    assert ck.bn_layout == "inplace_abn" and ck.arch_source == "keys"
    own = create_model(**ck.spec).state_dict()
    assert len(ck.state_dict) == len(keys)
    assert {k for k in own if not k.endswith("num_batches_tracked")} == set(ck.state_dict)


@pytest.mark.parametrize("arch", list(ARCHS))
def test_raw_outputs_equal_the_authors(arch, weights):
    """The default importer (no flag) computes what InPlace-ABN computes: within 1e-4 of the range."""
    ref = np.load(fixture_path(f"{arch}_forward_128x256.npz"))
    x, (mask, direction) = _raw_outputs(_model(weights, arch))
    assert np.array_equal(x[None].numpy(), ref["input"])  # BGR, /255, mean/std in B, G, R order
    for name, ours in (("mask_logits", mask), ("dir_logits", direction)):
        r = ref[name]
        assert ours.shape == r.shape
        assert np.abs(ours.numpy() - r).max() <= 1e-4 * (r.max() - r.min()), name


def test_stored_weight_as_torch_bn_scale_does_not_reproduce_inplace_abn(weights):
    """``abn_scale=False`` (``--abn-weight as-stored``) is for torch-BN stand-ins: on this fixture,
    whose BN weights are partly negative, it is off by more than the outputs' range."""
    ref = np.load(fixture_path("hrnet18_forward_128x256.npz"))
    _, (mask, direction) = _raw_outputs(_model(weights, "hrnet18", abn_scale=False))
    for name, ours in (("mask_logits", mask), ("dir_logits", direction)):
        r = ref[name]
        assert np.abs(ours.numpy() - r).max() > 0.5 * (r.max() - r.min()), name


def test_inplace_abn_scale_is_abs_weight_plus_eps(weights):
    sd = dict(weights["hrnet18"])
    sd["backbone.bn1.weight"] = -sd["backbone.bn1.weight"]
    plain = read_openseg_checkpoint("f.pth", {"state_dict": sd}, abn_scale=False).state_dict
    abn = read_openseg_checkpoint("f.pth", {"state_dict": sd}).state_dict
    assert torch.equal(plain["backbone.bn1.weight"], sd["backbone.bn1.weight"])
    assert torch.equal(abn["backbone.bn1.weight"], sd["backbone.bn1.weight"].abs() + 1e-5)
    assert torch.equal(abn["mask_head.1.weight"], sd["mask_head.1.weight"].abs() + 1e-5)
    # the torch BN layout is used as stored
    tb = read_openseg_checkpoint("f.pth", {"state_dict": to_torch_bn_layout(sd)})
    assert tb.bn_layout == "torch" and tb.spec["head_act"] == "relu"
    assert torch.equal(tb.state_dict["backbone.bn1.weight"], sd["backbone.bn1.weight"])


def test_torch_bn_layout_module_prefix_and_config_dict(tmp_path, weights):
    sd = to_torch_bn_layout(weights["hrnet18"])
    path = tmp_path / "segfix_hrnet18_torchbn.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in sd.items()},
                "config_dict": {"network": {"backbone": "hrnet18", "bn_type": "torchbn"}},
                "performance": np.float64(0.5), "iters": 80000}, path)  # numpy scalar as their trainer may leave
    model = load_openseg_model(str(path))
    assert model.spec["head_act"] == "relu" and model.spec["name"] == "hrnet_w18"
    ref = _model(weights, "hrnet18")
    assert torch.equal(model.state_dict()["mask_head.3.weight"], ref.state_dict()["mask_head.3.weight"])
    assert isinstance(model.mask_head[2], torch.nn.ReLU) and isinstance(ref.mask_head[2], torch.nn.LeakyReLU)


def test_strict_loading_names_missing_and_unexpected_keys(weights):
    sd = dict(weights["hrnet18"])
    del sd["backbone.conv1.weight"]
    sd["backbone.extra.weight"] = torch.zeros(3)
    with pytest.raises(ValueError, match=r"missing keys \[backbone.conv1.weight\].*unexpected keys "
                                         r"\[backbone.extra.weight\]"):
        build_openseg_model(read_openseg_checkpoint("f.pth", {"state_dict": sd}))
    with pytest.raises(ValueError, match="shape mismatches"):  # the wrong architecture named
        build_openseg_model(read_openseg_checkpoint("f.pth", {"state_dict": weights["hrnet18"]},
                                                    model="hrnet_w32"))
    with pytest.raises(ValueError, match="not an openseg.pytorch SegFix checkpoint"):
        read_openseg_checkpoint("f.pth", {"state_dict": {"conv1.weight": torch.zeros(1)}})
    with pytest.raises(ValueError, match="does not implement"):
        read_openseg_checkpoint("f.pth", {"state_dict": weights["hrnet18"],
                                          "config_dict": {"network": {"backbone": "resnet101"}}})


@pytest.mark.parametrize("size,starts,window", [(1024, [0, 170, 340, 510, 512], 512), (512, [0], 512),
                                                (2048, [0, 170, 340, 510, 680, 850, 1020, 1190, 1360, 1530,
                                                        1536], 512),
                                                (300, [0], 300), (682, [0, 170], 512), (681, [0, 169], 512)])
def test_openseg_window_layout(size, starts, window):
    assert openseg_window_starts(size) == (starts, window)


def test_image_smaller_than_the_window_is_one_window_per_short_side(weights):
    model = create_model("hrnet_w18", head="openseg", align_corners=True, blocks=1, modules=(1, 1, 1)).eval()
    x = torch.randn(3, 96, 600)
    p, d = openseg_predict(model, x, "sscrop")
    q, e = openseg_predict(model, x[:, :, :512], "whole")
    assert p.shape == (96, 600) and d.shape == (8, 96, 600)
    assert openseg_window_starts(600) == ([0, 88], 512)
    assert torch.allclose(p[:, :88], q[:, :88], atol=1e-6)  # covered by the first window only


def test_train_pretrained_accepts_the_authors_file(tmp_path, weights):
    path = tmp_path / "segfix_hrnet18.pth"
    torch.save({"state_dict": weights["hrnet18"]}, path)
    with pytest.raises(ValueError, match="pass --model hrnet_w18"):
        create_model("hrnet_w32", pretrained=str(path))
    with pytest.raises(ValueError, match="16 are needed"):
        create_model("hrnet_w18", num_directions=16, pretrained=str(path))
    model = create_model("hrnet_w18", pretrained=str(path))
    assert model.training and model.spec["head"] == "openseg" and model.spec["align_corners"] is True
    assert len(model.pretrained_report.loaded) == len(weights["hrnet18"])


@pytest.mark.slow  # about 10 s: one training step of a full-size HRNet-W18 on the CPU
def test_training_from_the_authors_file_saves_a_checkpoint_that_rebuilds_their_network(tmp_path, weights):
    from segfix_train.checkpoint import list_checkpoints
    from segfix_train.config import resolve
    from segfix_train.loop import train
    from segfix_train.predict import load_model
    from tests.support.fakes import fake_open

    path = tmp_path / "segfix_hrnet18.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in weights["hrnet18"].items()}}, path)
    cfg = resolve(shards=["fakeA"], out=str(tmp_path / "run"), model="hrnet_w18", pretrained=str(path), iters=1,
                  batch=2, crop=32, log_every=1, ckpt_every=1, num_workers=0, val_split="")
    cfg.val_split = None
    train(cfg, open_set=fake_open, echo=lambda s: None)
    model = load_model(list_checkpoints(str(tmp_path / "run"))[-1][1])
    assert model.spec == dict(name="hrnet_w18", num_directions=8, head="openseg", head_act="leaky_relu",
                              align_corners=True)
    assert model.backbone.stage2[0].align_corners is True
