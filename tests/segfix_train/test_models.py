"""Backbone shapes, head shapes and loading of the official HRNet ImageNet key layout."""
import pytest
import torch

from segfix_train.checkpoint import CheckpointError
from segfix_train.models import (BACKBONES, MODEL_CONFIGS, PretrainedError, SegFixModel, create_backbone,
                                 create_model, load_pretrained)
from tests.support.fakes import one_torch_thread  # noqa: F401

TINY = dict(blocks=1, modules=(1, 1, 1))


TINY2X = dict(blocks=1, modules=(1, 1, 1, 1))


@pytest.mark.parametrize("name", list(BACKBONES))
def test_backbone_branch_shapes(name):
    net = create_backbone(name, **(TINY2X if name == "hrnet2x20" else TINY)).eval()
    with torch.no_grad():
        ys = net(torch.zeros(1, 3, 64, 64))
    stride0 = 2 if name == "hrnet2x20" else 4
    assert net.stride == stride0
    assert [y.shape[1] for y in ys] == list(net.out_channels)
    assert [tuple(y.shape[-2:]) for y in ys] == [(64 // (stride0 * 2**b),) * 2 for b in range(len(ys))]


@pytest.mark.parametrize("name,head,align", [("hrnet_w18", "segfix", False), ("hrnet2x20", "segfix", False),
                                             ("hrnet_w18", "openseg", True), ("hrnet2x20", "openseg", True)])
def test_segfix_output_shapes(name, head, align):
    model = create_model(name, num_directions=8, head=head, align_corners=align,
                         **(TINY2X if name == "hrnet2x20" else TINY)).eval()
    with torch.no_grad():
        b, d = model(torch.randn(2, 3, 33, 47))  # not a multiple of the strides
        m, _ = model.forward_raw(torch.randn(1, 3, 32, 48))
    assert b.shape == (2, 1, 33, 47) and d.shape == (2, 8, 33, 47)
    assert torch.isfinite(b).all() and torch.isfinite(d).all()
    s = model.backbone.stride
    assert m.shape == (1, 1 if head == "segfix" else 2, 32 // s, 48 // s)
    rebuilt = create_model(**model.spec)  # the spec rebuilds the same network
    rebuilt.load_state_dict(model.state_dict())


def test_two_logit_head_equals_sigmoid_of_difference():
    from segfix_train.models import boundary_probability

    model = create_model("hrnet_w18", head="openseg", head_act="leaky_relu", align_corners=True, **TINY).eval()
    # make the mask head output known constants: first conv 0, BN (eval: mean 0, var 1) adds
    # bias 1, leaky ReLU(1) = 1, last conv sums 256 ones with weights l_k / 256 -> logits
    # (l0, l1) = (0.25, 1.5) everywhere (exact in float32)
    conv0, bn, _, conv3 = model.mask_head
    with torch.no_grad():
        conv0.weight.zero_()
        bn.bias.fill_(1.0)
        conv3.weight[0].fill_(0.25 / 256)
        conv3.weight[1].fill_(1.5 / 256)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        m, _ = model.forward_raw(x)
        b, _ = model(x)
    assert torch.equal(m[:, 0], torch.full_like(m[:, 0], 0.25)) and torch.equal(m[:, 1], torch.full_like(m[:, 1], 1.5))
    # channel 1 is the boundary class: one logit l1 - l0 = 1.25 (hand-computed), and its sigmoid
    # 1 / (1 + exp(-1.25)) = 0.7773 equals the softmax's boundary channel
    assert b.shape == (1, 1, 32, 32)
    assert torch.allclose(b, torch.full_like(b, 1.25), atol=1e-6)
    p = boundary_probability(m)
    assert p.shape == (1, 1, 8, 8)
    assert torch.allclose(p, torch.full_like(p, 0.777299861), atol=1e-6)
    assert torch.allclose(torch.sigmoid(b), torch.full_like(b, 0.777299861), atol=1e-6)
    # and on a non-constant head the one-logit output is still sigmoid(l1 - l0) of the two
    model.mask_head[3].weight.data.normal_()
    with torch.no_grad():
        m, _ = model.forward_raw(x)
        b = model(x)[0]
    up = torch.nn.functional.interpolate(m[:, 1:2] - m[:, 0:1], size=(32, 32), mode="bilinear", align_corners=True)
    assert torch.allclose(b, up, atol=1e-5)
    assert torch.allclose(boundary_probability(m), torch.softmax(m, dim=1)[:, 1:2], atol=1e-6)


def test_removed_hrnet2x_says_what_to_use():
    with pytest.raises(ValueError, match="hrnet2x20"):
        create_model("hrnet2x", **TINY)


def test_full_size_hrnet_w18_parameter_count():
    # the paper's Table 2 gives 9.6 M parameters for HRNet-W18 (backbone + heads)
    n = sum(p.numel() for p in create_backbone("hrnet_w18").parameters())
    assert 9.4e6 < n < 9.7e6


def test_bad_input_and_name():
    with pytest.raises(ValueError, match="unknown"):
        create_model("resnet50")
    with pytest.raises(ValueError, match="num_directions"):
        create_model("hrnet_w18", num_directions=7, **TINY)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        create_model("hrnet_w18", **TINY)(torch.zeros(1, 1, 32, 32))


def _bn(prefix, c, out):
    for k in ("weight", "bias", "running_mean", "running_var"):
        out[f"{prefix}.{k}"] = torch.full((c,), 0.5)


def _conv(prefix, cin, cout, k, out):
    out[f"{prefix}.weight"] = torch.full((cout, cin, k, k), 0.25)


def official_keys(channels, blocks=4, modules=(1, 4, 3)):
    """State dict in the layout of HRNet-Image-Classification's cls_hrnet.py, written from its
    structure independently of segfix_train (older files carry no num_batches_tracked)."""
    sd = {}
    _conv("conv1", 3, 64, 3, sd); _bn("bn1", 64, sd)
    _conv("conv2", 64, 64, 3, sd); _bn("bn2", 64, sd)
    cin = 64
    for i in range(4):
        p = f"layer1.{i}"
        _conv(f"{p}.conv1", cin, 64, 1, sd); _bn(f"{p}.bn1", 64, sd)
        _conv(f"{p}.conv2", 64, 64, 3, sd); _bn(f"{p}.bn2", 64, sd)
        _conv(f"{p}.conv3", 64, 256, 1, sd); _bn(f"{p}.bn3", 256, sd)
        if i == 0:
            _conv(f"{p}.downsample.0", 64, 256, 1, sd); _bn(f"{p}.downsample.1", 256, sd)
        cin = 256
    pre = [256]
    for s, nmod in enumerate(modules):
        cur = list(channels[: s + 2])
        for i, c in enumerate(cur):
            if i < len(pre):
                if pre[i] != c:
                    _conv(f"transition{s + 1}.{i}.0", pre[i], c, 3, sd); _bn(f"transition{s + 1}.{i}.1", c, sd)
            else:
                _conv(f"transition{s + 1}.{i}.0.0", pre[-1], c, 3, sd); _bn(f"transition{s + 1}.{i}.0.1", c, sd)
        for m in range(nmod):
            p = f"stage{s + 2}.{m}"
            for b, c in enumerate(cur):
                for k in range(blocks):
                    for n in (1, 2):
                        _conv(f"{p}.branches.{b}.{k}.conv{n}", c, c, 3, sd); _bn(f"{p}.branches.{b}.{k}.bn{n}", c, sd)
            for i in range(len(cur)):
                for j in range(len(cur)):
                    if j > i:
                        _conv(f"{p}.fuse_layers.{i}.{j}.0", cur[j], cur[i], 1, sd); _bn(f"{p}.fuse_layers.{i}.{j}.1", cur[i], sd)
                    elif j < i:
                        for k in range(i - j):
                            co = cur[i] if k == i - j - 1 else cur[j]
                            _conv(f"{p}.fuse_layers.{i}.{j}.{k}.0", cur[j], co, 3, sd)
                            _bn(f"{p}.fuse_layers.{i}.{j}.{k}.1", co, sd)
        pre = cur
    # classification head (skipped by the loader)
    _conv("incre_modules.0.0.conv1", channels[0], 32, 1, sd)
    _conv("final_layer.0", 1024, 2048, 1, sd)
    sd["classifier.weight"] = torch.zeros(1000, 2048)
    sd["classifier.bias"] = torch.zeros(1000)
    return sd


@pytest.mark.parametrize("name", ["hrnet_w18"])
def test_official_layout_loads_without_missing_keys(tmp_path, name):
    sd = official_keys(MODEL_CONFIGS[name]["channels"])
    path = tmp_path / "hrnetv2_imagenet_pretrained.pth"
    torch.save(sd, path)
    model = create_model(name, pretrained=str(path))
    rep = model.pretrained_report
    assert rep.missing == [] and rep.unexpected == [] and rep.mismatched == []
    assert len(rep.classifier) == 4
    assert len(rep.loaded) == len(sd) - 4
    assert torch.equal(model.backbone.stage4[2].fuse_layers[3][0][2][0].weight,
                       torch.full_like(model.backbone.stage4[2].fuse_layers[3][0][2][0].weight, 0.25))


def test_partial_file_reports_missing_and_unexpected(tmp_path):
    sd = official_keys(MODEL_CONFIGS["hrnet_w18"]["channels"])
    del sd["conv1.weight"]
    sd["module.extra.weight"] = torch.zeros(3)
    sd["bn1.weight"] = torch.zeros(7)
    path = tmp_path / "w.pth"
    torch.save({"state_dict": sd}, path)
    rep = create_model("hrnet_w18", pretrained=str(path), allow_partial=True).pretrained_report
    assert rep.missing == ["bn1.weight", "conv1.weight"]
    assert rep.unexpected == ["extra.weight"]
    assert len(rep.mismatched) == 1 and rep.mismatched[0].startswith("bn1.weight")
    assert rep.summary().startswith(f"loaded {rep.total - 2} of {rep.total} tensors;")


def test_partial_file_is_refused_unless_allowed(tmp_path):
    sd = official_keys(MODEL_CONFIGS["hrnet_w18"]["channels"])
    del sd["conv1.weight"]
    path = tmp_path / "w.pth"
    torch.save(sd, path)
    with pytest.raises(PretrainedError, match=r"w\.pth: lacks 1 of the \d+ tensors .*conv1\.weight.*"
                                              r"--allow-partial-pretrained"):
        create_model("hrnet_w18", pretrained=str(path))
    model = create_model("hrnet_w18", pretrained=str(path), allow_partial=True)
    assert model.pretrained_report.missing == ["conv1.weight"]
    assert isinstance(PretrainedError("x"), CheckpointError)  # the user-error family of checkpoints


@pytest.mark.parametrize("allow_partial", [False, True])
def test_file_that_loads_no_backbone_tensor_is_refused(tmp_path, allow_partial):
    path = tmp_path / "classifier_only.pth"  # e.g. another network's weights: nothing fits
    torch.save({"fc.weight": torch.zeros(10, 4), "layer9.bias": torch.zeros(3)}, path)
    model = create_model("hrnet_w18", **TINY)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(PretrainedError, match=r"classifier_only\.pth: loads no tensor of the hrnet_w18 backbone"):
        load_pretrained(model, str(path), allow_partial=allow_partial)
    assert model.pretrained_report is None
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_pretrained_report_is_none_without_a_file():
    assert create_model("hrnet_w18", **TINY).pretrained_report is None
    direct = SegFixModel(create_backbone("hrnet_w18", **TINY))
    assert direct.pretrained_report is None


def test_directly_built_model_saves_a_spec_load_model_rebuilds(tmp_path):
    from segfix_train.checkpoint import BEST_FORMAT, make_payload, save_checkpoint
    from segfix_train.predict import load_model

    torch.manual_seed(0)
    backbone = create_backbone("hrnet2x20", channels=(4, 8, 8, 8, 8), align_corners=True, **TINY2X)
    model = SegFixModel(backbone, num_directions=4, head="openseg", head_act="leaky_relu",
                        align_corners=True).eval()
    assert model.spec == dict(name="hrnet2x20", num_directions=4, head="openseg", head_act="leaky_relu",
                              align_corners=True, channels=(4, 8, 8, 8, 8), **TINY2X)
    path = str(tmp_path / "ckpt_00000001.pt")
    save_checkpoint(path, make_payload(BEST_FORMAT, model, {"model": "hrnet2x20"}, step=1, val={}))
    rebuilt = load_model(path)
    x = torch.randn(1, 3, 32, 40)
    with torch.no_grad():
        for a, b in zip(model(x), rebuilt(x)):
            assert torch.equal(a, b)


def test_backbone_and_heads_must_agree_on_align_corners():
    with pytest.raises(ValueError, match="align_corners"):
        SegFixModel(create_backbone("hrnet_w18", align_corners=True, **TINY), align_corners=False)


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        create_model("hrnet_w18", pretrained=str(tmp_path / "nope.pth"), **TINY)


def test_model_modules_import_one_way():
    # hrnet <- hrnet2x <- segfix (the network) <- spec <- openseg_import <- factory, with every import
    # (top-level or inside a function) pointing down that order: no cycle can hide in a function
    import ast
    import pathlib

    import segfix_train.models as pkg

    order = ["hrnet", "hrnet2x", "segfix", "spec", "openseg_import", "factory"]
    root = pathlib.Path(pkg.__file__).parent
    assert sorted(p.stem for p in root.glob("*.py")) == sorted(order + ["__init__"])
    for i, name in enumerate(order):
        tree = ast.parse((root / f"{name}.py").read_text())
        imported = {n.module.split(".")[0] for n in ast.walk(tree)
                    if isinstance(n, ast.ImportFrom) and n.level == 1 and n.module}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 1
                     and not n.module for a in n.names}
        assert imported <= set(order[:i]), f"models/{name}.py imports {sorted(imported - set(order[:i]))}"
