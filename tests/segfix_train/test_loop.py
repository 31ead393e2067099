"""Training loop on tiny fake shards (CPU): learning, determinism, exact resume, config, DDP."""
import json
import os
import socket

import pytest
import torch

from segfix_train.checkpoint import list_checkpoints, load_checkpoint
from segfix_train.config import resolve, shard_entries
from segfix_train.loop import TIMING_FIELDS, poly_lambda, train
from tests.support.fakes import fake_open, one_torch_thread  # noqa: F401

TINY = {"blocks": 1, "modules": [1, 1, 1], "channels": [8, 16, 32, 64]}


def _cfg(out, **kw):
    base = dict(shards=["fakeA"], out=str(out), model="hrnet_w18", model_args=TINY, iters=12, batch=4,
                crop=48, lr=0.05, log_every=4, ckpt_every=4, num_workers=0, seed=0)
    base.update(kw)
    return resolve(**base)


def _log(path, drop_timing=True):
    with open(path) as f:
        rows = [json.loads(ln) for ln in f]
    if drop_timing:
        rows = [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in rows]
    return rows


def _final_model(out):
    return load_checkpoint(list_checkpoints(str(out))[-1][1])["model"]


@pytest.mark.slow
def test_tiny_run_learns(tmp_path):
    train(_cfg(tmp_path, iters=40, ckpt_every=40, val_every=40, log_every=5), open_set=fake_open,
          echo=lambda s: None)
    log = _log(tmp_path / "train.jsonl")
    assert [r["iter"] for r in log] == list(range(5, 41, 5))
    assert log[-1]["loss"] < 0.85 * log[0]["loss"]
    (val,) = _log(tmp_path / "val.jsonl")
    assert val["boundary_f"] > val["boundary_f_all"] + 0.1
    assert val["dir_acc_gt"] > 1.5 / 8  # better than chance over 8 bins
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["resolved_lr"] == 0.05 and cfg["iters"] == 40 and cfg["model_args"] == TINY
    assert all(set(r) >= {"iter", "loss", "lr", "images_per_s"} for r in _log(tmp_path / "train.jsonl", False))


@pytest.mark.slow
def test_same_seed_same_logs_and_kill_resume_is_exact(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    quiet = dict(open_set=fake_open, echo=lambda s: None)
    train(_cfg(a), **quiet)
    train(_cfg(b, num_workers=1), **quiet)  # same seed, other worker count
    assert _log(a / "train.jsonl") == _log(b / "train.jsonl")
    assert _log(a / "val.jsonl") == _log(b / "val.jsonl")
    # "kill" after step 8 (last checkpoint at 6): the state after 6 is lost
    train(_cfg(c, stop_after=8, ckpt_every=6, log_every=3), **quiet)
    assert list_checkpoints(str(c))[-1][0] == 6
    with open(c / "train.jsonl", "a") as f:
        f.write('{"iter": 9, "lo')  # a line cut by the kill
    train(_cfg(c, resume=True, ckpt_every=6, log_every=3), **quiet)
    d = tmp_path / "d"
    train(_cfg(d, ckpt_every=6, log_every=3), **quiet)
    assert _log(c / "train.jsonl") == _log(d / "train.jsonl")
    ma, mc, md = _final_model(a), _final_model(c), _final_model(d)
    assert all(torch.equal(mc[k], md[k]) for k in md)
    assert all(torch.equal(ma[k], md[k]) for k in md)  # checkpoint/log cadence does not matter


def test_resume_refuses_changed_settings(tmp_path):
    train(_cfg(tmp_path, iters=2, ckpt_every=2, val_split=None), open_set=fake_open, echo=lambda s: None)
    with pytest.raises(ValueError, match="batch"):
        train(_cfg(tmp_path, iters=4, batch=2, resume=True, val_split=None), open_set=fake_open, echo=lambda s: None)


def _one_scene_open(directory, split):
    """A set of 8 copies of one 32x32 scene: with 32-pixel crops, no flip and no brightness jitter
    every crop is the same, so BatchNorm statistics and loss means do not depend on how the batch
    is split into micro-batches."""
    from tests.support.fakes import FakeShardSet

    fs = FakeShardSet(n=8, h=32, w=32, seed=3)
    fs.frames = [fs.frames[0]] * len(fs.frames)
    return fs


@pytest.mark.slow
def test_accumulation_matches_large_batch_loss_scale(tmp_path):
    # one SGD step with batch 4 in one pass, and as 2 x 2 accumulated micro-batches, must move the
    # weights by the same amount: accumulation divides each micro-batch loss by their number
    def step(out, **kw):
        train(_cfg(tmp_path / out, iters=1, ckpt_every=1, log_every=1, val_split=None, crop=32, flip=False,
                   brightness=0, **kw), open_set=_one_scene_open, echo=lambda s: None)
        sd = _final_model(tmp_path / out)
        return {k: v for k, v in sd.items() if "running_" not in k and "num_batches" not in k}

    start = step("lr0", lr=0.0, accum=1)  # the initial weights (same seed, no update)
    big, acc = step("batch4", accum=1), step("accum2x2", accum=2)
    upd_big = torch.cat([(big[k] - start[k]).flatten() for k in start])
    upd_acc = torch.cat([(acc[k] - start[k]).flatten() for k in start])
    assert upd_big.abs().max() > 1e-4  # the step moved the weights
    assert (upd_acc - upd_big).abs().max() <= 1e-3 * upd_big.abs().max()
    with pytest.raises(ValueError, match="divisible"):
        train(_cfg(tmp_path / "x", batch=3, accum=2), open_set=fake_open)


def test_poly_schedule_and_lr_scaling():
    f = poly_lambda(100, 0.9)
    assert f(0) == 1.0 and f(100) == 0.0 and f(50) == pytest.approx(0.5 ** 0.9)
    assert resolve(shards=["x"], batch=32).resolved_lr() == pytest.approx(0.08)


def test_config_toml_and_cli_precedence(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[train]\nmodel = "hrnet_w32"\niters = 7\nbatch = 8\nshards = ["s1", "s2", "s1"]\n')
    cfg = resolve(str(p), iters=9, batch=None)
    assert (cfg.model, cfg.iters, cfg.batch) == ("hrnet_w32", 9, 8)
    assert shard_entries(cfg) == [("s1", "train", 2.0), ("s2", "train", 1.0)]
    p.write_text('itres = 3\n')
    with pytest.raises(ValueError, match="itres"):
        resolve(str(p), shards=["x"])
    with pytest.raises(ValueError, match="shard"):
        resolve()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from tests.support.fakes import fake_open as fo
    cfg = _cfg(out, iters=4, ckpt_every=4, log_every=1, batch=4, device="cpu")
    train(cfg, open_set=fo, echo=lambda s: None)


@pytest.mark.slow
def test_ddp_two_processes_on_loopback(tmp_path):
    port = _free_port()
    torch.multiprocessing.spawn(_ddp_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    rows = _log(tmp_path / "train.jsonl")
    assert [r["iter"] for r in rows] == [1, 2, 3, 4]
    # the first logged loss is the mean of both ranks' first-batch losses, recomputed here
    from segfix_train.data import AugmentConfig, CropStream, device_batch
    from segfix_train.losses import segfix_loss
    from segfix_train.models import create_model
    losses = []
    for rank in range(2):
        torch.manual_seed(0)
        model = create_model("hrnet_w18", num_directions=8, **TINY).train()
        stream = CropStream([fake_open("fakeA", "train")], [1.0], 2, seed=0, rank=rank, world_size=2,
                            aug=AugmentConfig(crop=48))
        x, bt, dt = device_batch(stream[0], torch.device("cpu"), 8)
        with torch.no_grad():
            bl, dl = model(x)
        losses.append(segfix_loss(bl, dl, bt, dt)["loss"].item())
    assert rows[0]["loss"] == pytest.approx(sum(losses) / 2, rel=1e-5)
    state = load_checkpoint(list_checkpoints(str(tmp_path))[-1][1])
    assert state["data"]["world_size"] == 2 and len(state["rng"]) == 2
    assert all(torch.isfinite(v.float()).all() for v in state["model"].values())
    (val,) = _log(tmp_path / "val.jsonl")
    assert val["valid_pixels"] == 3 * 64 * 64  # both ranks' validation images counted once


def test_shard_entry_parsing(tmp_path):
    from segfix_train.config import parse_shard_entry

    assert parse_shard_entry("shards/cs:val", "train") == ("shards/cs", "val")
    assert parse_shard_entry("shards/cs", "train") == ("shards/cs", "train")
    assert parse_shard_entry("a:b/c", "train") == ("a:b/c", "train")  # a path, not a split
    odd = tmp_path / "x:y"
    odd.mkdir()
    assert parse_shard_entry(str(odd), "train") == (str(odd), "train")  # an existing directory wins
    with pytest.raises(ValueError, match="empty split"):
        parse_shard_entry("shards/cs:", "train")
    cfg = resolve(shards=["s1:val", "s1", "s2:training", "s1:val"], split="train")
    assert shard_entries(cfg) == [("s1", "val", 2.0), ("s1", "train", 1.0), ("s2", "training", 1.0)]


def test_banner_per_entry_splits_and_checkpoint_lines(tmp_path):
    lines = []
    train(_cfg(tmp_path, shards=["fakeA", "fakeB:val"], iters=2, ckpt_every=1, log_every=1,
               val_split=""), open_set=fake_open, echo=lines.append)
    text = "\n".join(lines)
    n_params = sum(v.numel() for k, v in _final_model(tmp_path).items() if "running" not in k
                   and "num_batches" not in k)
    assert f"model hrnet_w18: {n_params / 1e6:.2f} M parameters; device cpu, AMP off" in text
    assert "shards fakeA:train: 8 samples, weight 1, 2 crops per batch" in text
    assert "shards fakeB:val: 3 samples, weight 1, 2 crops per batch" in text  # fake_open: val has 3
    assert "batch 4 = 2 + 2 crops of 48x48" in text and "validation: off" in text
    saved = [ln for ln in lines if ln.startswith("saved checkpoint ")]
    assert saved == [f"saved checkpoint {p}" for _, p in list_checkpoints(str(tmp_path))[-2:]]
    rates = [float(ln.split(" img/s")[0].rsplit(" ", 1)[1]) for ln in lines if "img/s" in ln]
    assert len(rates) == 2 and all(r > 0 for r in rates)  # never printed as 0.0
    conf = json.loads((tmp_path / "config.json").read_text())
    assert [(s["dir"], s["split"], s["crops_per_batch"]) for s in conf["shard_sets"]] == [
        ("fakeA", "train", 2), ("fakeB", "val", 2)]


def test_resume_names_changed_options_and_allows_a_longer_run(tmp_path):
    quiet = dict(open_set=fake_open, echo=lambda s: None)
    train(_cfg(tmp_path, iters=2, ckpt_every=2, val_split=None), **quiet)
    with pytest.raises(ValueError, match=r"cannot resume with other settings \(lr: 0.05 -> 0.5 \(run: flag; now: flag\)\)"):
        train(_cfg(tmp_path, iters=4, lr=0.5, resume=True, val_split=None), **quiet)
    with pytest.raises(ValueError, match=r"shards: \[\('fakeA', 'train', 1.0\)\] -> "):
        train(_cfg(tmp_path, iters=4, shards=["fakeA", "fakeB"], resume=True, val_split=None), **quiet)
    lines = []
    train(_cfg(tmp_path, iters=4, resume=True, val_split=None, log_every=1), open_set=fake_open,
          echo=lines.append)
    assert any("iters 2 -> 4" in ln for ln in lines) and any("resumed from" in ln for ln in lines)
    assert list_checkpoints(str(tmp_path))[-1][0] == 4


def test_step_allocation_is_what_the_ranks_draw():
    from segfix_train.loop import step_allocation

    cfg = resolve(shards=["a", "b", "c"], batch=16, accum=2)
    entries = shard_entries(cfg)
    # 2 ranks x accum 2: 4 crops per forward pass, largest remainder 2 + 1 + 1 (not 6 + 5 + 5)
    assert step_allocation(cfg, entries, 4, 2) == ([2, 1, 1], [8, 4, 4])
    cfg = resolve(shards=["cs", "ade"], batch=16)
    assert step_allocation(cfg, shard_entries(cfg), 16, 1) == ([8, 8], [8, 8])


def test_fp16_resume_restores_the_grad_scaler(tmp_path):
    # the loss scale and growth tracker of an fp16 run live in its checkpoints and come back on
    # --resume (a fresh GradScaler would restart at 65536 and overflow again)
    from segfix_train.checkpoint import save_checkpoint

    quiet = dict(open_set=fake_open, echo=lambda s: None)
    train(_cfg(tmp_path, amp="fp16", iters=4, ckpt_every=2, stop_after=2, val_split=None), **quiet)
    path = list_checkpoints(str(tmp_path))[-1][1]
    state = load_checkpoint(path)
    assert state["grad_scaler"] is not None and state["grad_scaler"]["scale"] > 0
    state["grad_scaler"] = {**state["grad_scaler"], "scale": 8.0, "_growth_tracker": 1}
    save_checkpoint(path, state)  # as if the run had backed off to 8 before the kill
    train(_cfg(tmp_path, amp="fp16", iters=4, ckpt_every=2, val_split=None, resume=True), **quiet)
    resumed = load_checkpoint(list_checkpoints(str(tmp_path))[-1][1])["grad_scaler"]
    assert resumed["scale"] == 8.0 and resumed["_growth_tracker"] == 3  # continued, not reset
    train(_cfg(tmp_path / "bf", iters=2, ckpt_every=2, val_split=None), **quiet)  # no scaler: None
    assert load_checkpoint(list_checkpoints(str(tmp_path / "bf"))[-1][1])["grad_scaler"] is None


#: What ``segfix train`` has written since its checkpoints became weights-only (tag
#: "segfix-train-2", spelled out here rather than taken from checkpoint.py): such files are on
#: users' disks, so predict and --resume must keep reading them.
TODAYS_TRAIN_LAYOUT = {"format", "step", "config", "num_directions", "model_spec", "model", "optimizer",
                       "scheduler", "data", "log_window", "rng", "grad_scaler"}


def test_checkpoints_in_todays_layout_still_load_and_resume(tmp_path):
    from segfix_train.checkpoint import save_checkpoint
    from segfix_train.predict import load_model

    quiet = dict(open_set=fake_open, echo=lambda s: None)
    train(_cfg(tmp_path, iters=2, ckpt_every=2, val_split=None), **quiet)
    path = list_checkpoints(str(tmp_path))[-1][1]
    state = load_checkpoint(path)
    assert state["format"] == "segfix-train-2" and set(state) == TODAYS_TRAIN_LAYOUT
    load_model(path)
    # and the files written before the network's spec was recorded: rebuilt from their config
    save_checkpoint(path, {k: v for k, v in state.items() if k != "model_spec"})
    net = load_model(path)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in state["model"].items())
    train(_cfg(tmp_path, iters=4, ckpt_every=2, val_split=None, resume=True), **quiet)
    assert [r["iter"] for r in _log(tmp_path / "train.jsonl")] == [2, 4]
