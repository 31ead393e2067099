"""The GPU path, checked on the CPU: picklable worker init under spawn/forkserver, no per-step
host-built constants, the AMP choice, RNG restore with fewer devices, fp32 upsampled logits,
channels-last prediction, and no checkpoint after a non-finite loss."""
import multiprocessing as mp

import numpy as np
import pytest
import torch

from segfix_train import checkpoint as ckpt
from segfix_train.data import AugmentConfig, CropStream, device_batch, make_loader
from segfix_train.precision import Precision, resolve_amp
from segfix_train.step import TrainForward
from tests.support.fakes import FakeShardSet, one_torch_thread  # noqa: F401

TINY = dict(blocks=1, modules=[1, 1, 1], channels=[8, 16, 32, 64])


def amp_choice(amp, device):
    """The autocast dtype ``resolve_amp`` picks."""
    return resolve_amp(amp, device).dtype


@pytest.mark.slow
@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_loader_workers_start_under_spawn_and_forkserver(method):
    """worker_init_fn is pickled to workers started by spawn/forkserver (a closure cannot be);
    the batches equal the single-process ones."""
    if method not in mp.get_all_start_methods():
        pytest.skip(f"{method} not available")
    ds = FakeShardSet(n=4, h=24, w=24)
    stream = CropStream([ds], [1], 2, seed=1, aug=AugmentConfig(crop=16))
    got = list(make_loader(stream, 0, 3, num_workers=1, multiprocessing_context=method))
    want = list(make_loader(stream, 0, 3, num_workers=0))
    assert len(got) == 3
    for g, w in zip(got, want):
        assert all(torch.equal(g[k], w[k]) for k in w)


def test_device_batch_builds_no_host_constants_after_the_first(monkeypatch):
    """mean, std and the flip table are built once per device: later batches call no tensor
    constructor (on CUDA each would be a blocking host-to-device copy)."""
    ds = FakeShardSet(n=2, h=24, w=24)
    stream = CropStream([ds], [1], 2, seed=0, aug=AugmentConfig(crop=16))
    batches = [stream[b] for b in range(3)]
    batches[1]["flip"][:] = True
    dev = torch.device("cpu")
    device_batch(batches[0], dev, 8)
    calls = []
    for name in ("tensor", "as_tensor", "from_numpy", "full"):
        real = getattr(torch, name)
        monkeypatch.setattr(torch, name, lambda *a, _r=real, _n=name, **k: (calls.append(_n), _r(*a, **k))[1])
    for b in batches[1:]:
        device_batch(b, dev, 8)
    assert calls == []


class _FakeCuda:
    def __init__(self, bf16_native, capability=(7, 0), count=1):
        self.native, self.capability, self.count, self.set = bf16_native, capability, count, []

    def is_bf16_supported(self, including_emulation=True):
        assert including_emulation is False
        return self.native


@pytest.mark.parametrize("native,want", [(True, torch.bfloat16), (False, torch.float16)])
def test_amp_auto_picks_bf16_only_where_native(monkeypatch, native, want):
    fake = _FakeCuda(native)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", fake.is_bf16_supported)
    assert amp_choice("auto", torch.device("cuda", 0)) == want
    assert amp_choice("auto", torch.device("cpu")) is None
    assert amp_choice("bf16", torch.device("cuda", 0)) == torch.bfloat16
    assert amp_choice("fp16", torch.device("cuda", 0)) == torch.float16
    assert amp_choice("off", torch.device("cuda", 0)) is None


def test_amp_auto_without_the_keyword_uses_compute_capability(monkeypatch):
    def old_api():  # a torch without including_emulation
        return True
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", old_api)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: (7, 0))  # V100
    assert amp_choice("auto", torch.device("cuda", 0)) == torch.float16
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: (8, 0))  # A100
    assert amp_choice("auto", torch.device("cuda", 0)) == torch.bfloat16


def test_resume_restores_rng_only_for_visible_devices(monkeypatch):
    """A checkpoint from 4 GPUs restored where 2 are visible: devices 0 and 1 set, no error."""
    state = ckpt.rng_state()
    state["cuda"] = [torch.full((16,), i, dtype=torch.uint8) for i in range(4)]
    seen = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda s, device=0: seen.append((device, int(s[0]))))
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", lambda states: pytest.fail("sets every saved device"))
    ckpt.set_rng_state(state)
    assert seen == [(0, 0), (1, 1)]


def test_loss_sees_fp32_upsampled_logits():
    """Under bf16 autocast the network runs in bf16 but the full-resolution logits are upsampled
    from float32 (equal to upsampling the cast raw logits in fp32, not bf16-rounded)."""
    from segfix_train.models import create_model

    torch.manual_seed(0)
    model = create_model("hrnet_w18", num_directions=8, **TINY).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        b, d = TrainForward(model, Precision("cpu", torch.bfloat16))(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            m, dr = model.forward_raw(x)
        up = torch.nn.functional.interpolate(m.float(), size=(32, 32), mode="bilinear",
                                             align_corners=model.align_corners)
    assert b.dtype == torch.float32 and d.dtype == torch.float32
    assert torch.equal(b, up)
    assert not torch.equal(b, up.bfloat16().float())  # fp32 values, not rounded to bf16


def test_api_predicts_in_channels_last():
    from segfix_train import SegFix
    from segfix_train.models import create_model

    torch.manual_seed(0)
    model = create_model("hrnet_w18", num_directions=8, **TINY)
    formats = []
    model.register_forward_pre_hook(
        lambda mod, args: formats.append(args[0].is_contiguous(memory_format=torch.channels_last)))
    img = np.random.default_rng(0).integers(0, 255, (40, 48, 3), dtype=np.uint8)
    plain = SegFix(model, device="cpu", channels_last=False).probabilities(img)
    cl = SegFix(model, device="cpu", channels_last=True).probabilities(img)
    assert formats == [False, True]
    assert model.backbone.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    np.testing.assert_allclose(cl[0], plain[0], atol=1e-5)
    np.testing.assert_allclose(cl[1], plain[1], atol=1e-5)


# --- one AMP setting: the strings of --amp, resolved once (segfix_train.precision) -------------

def test_one_amp_type_everywhere():
    """Training, prediction and the API take the same strings; the booleans and dtypes that were
    also accepted are refused with one line."""
    from segfix_data.errors import InputError
    from segfix_train import SegFix
    from segfix_train.config import resolve
    from segfix_train.models import create_model
    from segfix_train.predict import OffsetsPredictor, PredictOptions

    model = create_model("hrnet_w18", num_directions=8, **TINY)
    assert resolve_amp("bf16", "cpu") == Precision("cpu", torch.bfloat16)
    assert OffsetsPredictor(model, PredictOptions(amp="bf16")).precision.dtype == torch.bfloat16
    assert OffsetsPredictor(model, PredictOptions()).precision.dtype is None  # auto: fp32 on the CPU
    assert SegFix(model, amp="bf16")._precision.name == "bf16"
    for bad in (True, torch.bfloat16, "on"):
        with pytest.raises(InputError, match=r"amp must be one of auto\|bf16\|fp16\|off"):
            resolve_amp(bad, "cpu")
        with pytest.raises(InputError, match="amp must be one of"):
            SegFix(model, amp=bad)
        with pytest.raises(InputError, match="amp must be one of"):
            PredictOptions(amp=bad)
    with pytest.raises(InputError, match="amp must be one of"):
        resolve(shards=["x"], amp="true")


def test_train_step_takes_a_train_forward_whose_precision_picks_the_scaler():
    from segfix_train.models import create_model
    from segfix_train.step import TrainStep

    model = create_model("hrnet_w18", num_directions=8, **TINY)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    with pytest.raises(TypeError, match="TrainStep trains a TrainForward"):
        TrainStep(model, opt, sched, device=torch.device("cpu"), channels_last=False)
    for dtype, scaled in ((torch.float16, True), (torch.bfloat16, False), (None, False)):
        step = TrainStep(TrainForward(model, Precision("cpu", dtype)), opt, sched, device=torch.device("cpu"),
                         channels_last=False)
        assert (step.scaler is not None) == scaled


def test_validation_runs_under_the_runs_own_precision(tmp_path, monkeypatch):
    """The validation forward passes run the network under the run's autocast, which validation
    builds itself, and upsample float32 logits (cast before the upsampling, as training does)."""
    from segfix_train import loop
    from segfix_train.config import resolve
    from tests.support.fakes import fake_open

    seen, sizes = [], []
    real = loop.create_model

    def create(*a, **k):
        m = real(*a, **k)
        m.backbone.register_forward_pre_hook(lambda mod, args: seen.append(
            (torch.is_grad_enabled(), torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu"))))
        upsample = m.to_input_size

        def to_input_size(b, d, size):
            sizes.append((torch.is_grad_enabled(), b.dtype, d.dtype))
            return upsample(b, d, size)
        m.to_input_size = to_input_size
        return m
    monkeypatch.setattr(loop, "create_model", create)
    cfg = resolve(shards=["fakeA"], out=str(tmp_path), model="hrnet_w18", model_args=TINY, iters=1, batch=2,
                  crop=32, log_every=1, ckpt_every=1, num_workers=0, amp="bf16", val_max_images=1)
    loop.train(cfg, open_set=fake_open, echo=lambda s: None)
    val = [x[1:] for x in seen if not x[0]]  # no_grad: validation
    assert val and set(val) == {(True, torch.bfloat16)}
    assert {x[1:] for x in sizes if not x[0]} == {(torch.float32, torch.float32)}
