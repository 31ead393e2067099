"""``--recipe``: the paper's settings with their origins, the ADE20K preprocessing (shorter side
resized, random padding), the from-scratch warning, and no checkpoint after a non-finite loss."""
import json

import numpy as np
import pytest
import torch

from segfix_train.config import describe_sources, resolve
from segfix_train.data import AugmentConfig, random_crop
from segfix_train.loop import SCRATCH_WARNING, train
from tests.support.fakes import FakeShardSet, fake_open, one_torch_thread  # noqa: F401

TINY = {"blocks": 1, "modules": [1, 1, 1], "channels": [8, 16, 32, 64]}


@pytest.mark.parametrize("name,lr", [("cityscapes", 0.04), ("gta5", 0.04), ("ade20k", 0.02), ("unified", 0.02)])
def test_recipe_holds_the_papers_settings(name, lr):
    cfg = resolve(recipe=name, shards=["s"])
    assert (cfg.crop, cfg.batch, cfg.iters, cfg.momentum, cfg.weight_decay, cfg.poly_power) == \
        (512, 16, 80000, 0.9, 5e-4, 0.9)
    assert cfg.resolved_lr() == lr and cfg.model == "hrnet2x20" and cfg.flip and cfg.brightness == 10
    want = {"ade20k": 512, "unified": {"ade20k": 512}}.get(name)  # unified: ADE20K's own preprocessing
    assert cfg.resize_short == want and cfg.pad_mode == "random"
    assert cfg.sources["base_lr"] == f"recipe {name}" and cfg.sources["shards"] == "flag"


def test_flags_and_config_override_the_recipe_and_say_so(tmp_path):
    toml = tmp_path / "t.toml"
    toml.write_text("[train]\ncrop = 256\niters = 10\n")
    cfg = resolve(str(toml), recipe="ade20k", shards=["s"], iters=5, lr=0.1, model=None)
    assert (cfg.crop, cfg.iters, cfg.resolved_lr(), cfg.model) == (256, 5, 0.1, "hrnet2x20")
    src = cfg.sources
    assert (src["crop"], src["iters"], src["lr"], src["model"], src["seed"]) == \
        (f"config {toml}", "flag", "flag", "recipe ade20k", "default")
    lines = describe_sources(cfg)
    assert [ln.split(":")[0] for ln in lines] == ["settings from default", "settings from recipe ade20k",
                                                 f"settings from config {toml}", "settings from flag"]
    assert "iters=5" in lines[-1] and "crop=256" in lines[2] and "resize_short=512" in lines[1]
    assert all(f"{k}=" in " ".join(lines) for k in cfg.sources)  # every setting printed once
    with pytest.raises(ValueError, match="unknown recipe 'voc'"):
        resolve(recipe="voc", shards=["s"])


def test_ade20k_crop_resizes_the_shorter_side_first():
    """A 32x48 frame, resize_short 16: the whole frame becomes 16x24, so a 16-pixel crop covers
    the full height: every label row of the frame (nearest-resized) appears in the crop."""
    ds = FakeShardSet(n=1, h=32, w=48)
    aug = AugmentConfig(crop=16, flip=False, brightness=0, resize_short=16)
    img, bnd, dirn, _, _ = random_crop(ds, 0, np.random.default_rng(0), aug, 8)
    (_, (y0, x0, h, w)), = ds.reads
    assert (y0, h, w) == (0, 32, 32)  # 16 / (16 / 32) source pixels read: the full height
    full = ds.frames[0]["semantic/boundary"][:, x0:x0 + 32]
    want = torch.nn.functional.interpolate(torch.from_numpy(full.astype(np.float32))[None, None],
                                           size=(16, 16), mode="nearest-exact")[0, 0].numpy()
    assert np.array_equal(bnd, want.astype(np.uint8)) and bnd.shape == (16, 16)


def test_random_padding_places_the_frame_anywhere():
    """A 16x16 frame in a 24-pixel crop: corner mode puts it top-left, random mode at several
    places over seeds; the frame's pixels are intact, the rest is ignore."""
    ds = FakeShardSet(n=1, h=16, w=16)
    lab = ds.frames[0]["semantic/boundary"]

    def offset(bnd):
        for oy in range(9):
            for ox in range(9):
                rest = bnd.copy()
                rest[oy:oy + 16, ox:ox + 16] = 255
                if np.array_equal(bnd[oy:oy + 16, ox:ox + 16], lab) and (rest == 255).all():
                    return oy, ox
        raise AssertionError("frame not found intact")

    found = {}
    for mode in ("corner", "random"):
        aug = AugmentConfig(crop=24, flip=False, brightness=0, pad_mode=mode)
        found[mode] = {offset(random_crop(ds, 0, np.random.default_rng(seed), aug, 8)[1]) for seed in range(8)}
    assert found["corner"] == {(0, 0)}
    assert len(found["random"]) > 3


def _cfg(out, **kw):
    base = dict(shards=["fakeA"], out=str(out), model="hrnet_w18", model_args=TINY, iters=2, batch=2,
                crop=32, lr=0.05, log_every=1, ckpt_every=2, num_workers=0, seed=0, val_split="")
    base.update(kw)
    cfg = resolve(**base)
    cfg.val_split = None
    return cfg


def test_from_scratch_warns_once_unless_asked_and_is_recorded(tmp_path):
    out = []
    train(_cfg(tmp_path / "a"), open_set=fake_open, echo=out.append)
    assert out.count(SCRATCH_WARNING) == 1 and SCRATCH_WARNING.startswith("warning: ")
    conf = json.loads((tmp_path / "a" / "config.json").read_text())
    assert conf["init"] == "from scratch (no --pretrained; warned)"
    out = []
    train(_cfg(tmp_path / "b", from_scratch=True), open_set=fake_open, echo=out.append)
    assert not any("warning" in ln for ln in out)
    assert json.loads((tmp_path / "b" / "config.json").read_text())["init"] == "from scratch (--from-scratch)"


def test_no_checkpoint_after_a_non_finite_loss_between_log_lines(tmp_path, monkeypatch):
    """log every 4 steps, checkpoint every 2: a NaN at step 2 stops the run before the save."""
    import segfix_train.step as step_mod

    real = step_mod.segfix_loss

    def poisoned(*a, **k):
        losses = real(*a, **k)
        losses["loss"] = losses["loss"] * float("nan")
        return losses

    monkeypatch.setattr(step_mod, "segfix_loss", poisoned)
    with pytest.raises(FloatingPointError, match="before the checkpoint at step 2"):
        train(_cfg(tmp_path, iters=8, log_every=4, ckpt_every=2), open_set=fake_open, echo=lambda s: None)
    assert not (tmp_path / "checkpoints").exists() or not list((tmp_path / "checkpoints").iterdir())


def _layout_open(directory, split):
    """Two fake datasets: ``cs`` (layout cityscapes, 64x64 frames) and ``ade`` (layout ade20k,
    48x80 frames, so that a 32-pixel crop of the resized frame is the resized window)."""
    key = (directory, split)
    if key not in _LAYOUT_SETS:
        h, w = (64, 64) if directory == "cs" else (48, 80)
        ds = FakeShardSet(n=4 if split == "train" else 2, h=h, w=w, seed=len(directory) + len(split))
        ds.params["layout"] = "cityscapes" if directory == "cs" else "ade20k"
        _LAYOUT_SETS[key] = ds
    return _LAYOUT_SETS[key]


_LAYOUT_SETS: dict = {}


def test_unified_recipe_resizes_ade20k_frames_only_and_validates_both_sets(tmp_path):
    """--recipe unified: ADE20K frames are resized to a shorter side of 512 before the crop (the
    window read is crop / (512 / 48) pixels), Cityscapes frames are cropped as stored; every
    validation set is reported under its name; --keep-best says what it ranks by."""
    _LAYOUT_SETS.clear()
    cfg = resolve(recipe="unified", shards=["cs", "ade:train"], out=str(tmp_path), model="hrnet_w18",
                  model_args=TINY, iters=2, batch=2, crop=32, log_every=1, ckpt_every=2, num_workers=0,
                  keep_best=True, val_max_images=1)
    lines = []
    train(cfg, open_set=_layout_open, echo=lines.append)
    cs, ade = _LAYOUT_SETS[("cs", "train")], _LAYOUT_SETS[("ade", "train")]
    assert {w[2:] for _, w in cs.reads} == {(32, 32)}
    assert {w[2:] for _, w in ade.reads} == {(3, 3)}  # round(32 / (512 / 48)) source pixels, then resized
    text = "\n".join(lines)
    assert "shards ade:train: 4 samples, weight 1, 1 crop per batch, shorter side resized to 512" in text
    assert "shards cs:train: 4 samples, weight 1, 1 crop per batch\n" in text + "\n"
    assert "validation cs:val: 1 of 2 frames every 2 steps, all 2 frames after the last step" in text
    assert "validation ade:val: 1 of 2 frames" in text
    assert "largest delta_miou on the fixed subset (the mean over cs:val, ade:val)" in text
    (rec,) = [json.loads(ln) for ln in (tmp_path / "val.jsonl").read_text().splitlines()]
    assert set(rec["sets"]) == set(rec["subset"]) == {"cs:val", "ade:val"}
    assert [rec["sets"][n]["images"] for n in rec["sets"]] == [2, 2]
    assert rec["best_value"] == pytest.approx((rec["subset"]["cs:val"]["delta_miou"]
                                               + rec["subset"]["ade:val"]["delta_miou"]) / 2)
    assert {k: rec[k] for k in rec["sets"]["cs:val"]} == rec["sets"]["cs:val"]  # first set on top
    assert any(ln.startswith("val iter 2 ade:val (2 frames): boundary F") for ln in lines)


def test_padding_note_counts_resized_frames_at_their_new_size():
    from segfix_train.data import padding_note

    small = FakeShardSet(n=2, h=20, w=30)
    assert padding_note([small], 32).startswith("note: 2 of 2 images are smaller")
    assert padding_note([small], 32, [40]) is None  # 40 x 60 after the resize
