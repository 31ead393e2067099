"""Resuming: the run's config.json as the base of the settings, refusals that say where each value
came from, and a longer --iters followed from the first resumed step."""
import json

import pytest

from segfix_train.config import resolve
from segfix_train.loop import poly_lambda, train
from tests.support.fakes import fake_open, one_torch_thread  # noqa: F401

TINY = {"blocks": 1, "modules": [1, 1, 1], "channels": [8, 16, 32, 64]}
QUIET = dict(open_set=fake_open, echo=lambda s: None)


def _first(**kw):
    """A cityscapes-recipe run with tiny overrides given as flags."""
    base = dict(recipe="cityscapes", shards=["fakeA"], model="hrnet_w18", model_args=TINY, iters=4, batch=2,
                crop=32, lr=0.05, log_every=1, ckpt_every=2, num_workers=0, val_split="")
    base.update(kw)
    cfg = resolve(**base)
    cfg.val_split = None
    return cfg


def _lr(path, step):
    rows = [json.loads(ln) for ln in open(path)]
    return next(r["lr"] for r in rows if r["iter"] == step)


def test_a_longer_iters_follows_the_new_schedule_from_the_first_resumed_step(tmp_path):
    """4 steps, then --iters 6 --resume: step 5's lr is that of a fresh 6-step run (not the
    optimiser's stored lr, 0 at the old end)."""
    train(_first(out=str(tmp_path / "a")), **QUIET)
    assert _lr(tmp_path / "a" / "train.jsonl", 4) == pytest.approx(0.05 * poly_lambda(4, 0.9)(3))
    lines = []
    train(resolve(out=str(tmp_path / "a"), resume=True, iters=6), open_set=fake_open, echo=lines.append)
    train(_first(out=str(tmp_path / "b"), iters=6), **QUIET)
    fresh = _lr(tmp_path / "b" / "train.jsonl", 5)
    assert fresh == pytest.approx(0.05 * (1 - 4 / 6) ** 0.9) and fresh > 0.01
    assert _lr(tmp_path / "a" / "train.jsonl", 5) == fresh
    assert _lr(tmp_path / "a" / "train.jsonl", 6) == _lr(tmp_path / "b" / "train.jsonl", 6)
    assert any(f"iters 4 -> 6: the lr schedule runs to the new total from step 5 on (lr {fresh:.5g} there)" in ln
               for ln in lines)


def test_resume_with_out_alone_takes_the_runs_settings(tmp_path):
    run = str(tmp_path)
    first = _first(out=run, iters=2, amp="off")
    train(first, **QUIET)
    again = resolve(out=run, resume=True)
    keep = {k: v for k, v in first.to_dict().items() if k not in ("resume", "sources", "stop_after")}
    assert {k: v for k, v in again.to_dict().items() if k in keep} == keep
    assert again.sources["crop"] == "run (flag)" and again.sources["pad_mode"] == "run (recipe cityscapes)"
    assert again.sources["seed"] == "run (default)" and again.sources["resume"] == "flag"
    lines = []
    train(resolve(out=run, resume=True, iters=3), open_set=fake_open, echo=lines.append)
    assert any(ln.startswith("resumed from ") for ln in lines)
    assert any(ln.startswith("settings from run (recipe cityscapes): ") for ln in lines)


def test_flags_repeated_without_the_recipe_resume_and_changes_name_both_origins(tmp_path):
    """The run's flags given again without --recipe: nothing differs (the recipe's values come from
    the run's config.json, not the defaults). A changed value names where each side came from."""
    run = str(tmp_path)
    train(_first(out=run, iters=2), **QUIET)
    flags = dict(shards=["fakeA"], model="hrnet_w18", model_args=TINY, batch=2, crop=32, lr=0.05, log_every=1,
                 ckpt_every=2, num_workers=0, out=run, resume=True, iters=3)
    train(resolve(**flags), **QUIET)
    with pytest.raises(ValueError, match=r"crop: 32 -> 48 \(run: flag; now: flag\)"):
        train(resolve(**{**flags, "crop": 48, "iters": 4}), **QUIET)
    with pytest.raises(ValueError) as e:
        train(resolve(**{**flags, "iters": 4}, recipe="ade20k"), **QUIET)
    assert "resize_short: None -> 512 (run: default; now: recipe ade20k)" in str(e.value)
    # a new run in the same RUN_DIR (no --resume) does not take the old run's settings
    with pytest.raises(ValueError, match="no shard directory given"):
        resolve(out=run)
