"""A real ``kill -9`` of ``segfix train`` mid-run, then ``--resume``: the same weights and log as
an uninterrupted run (bitwise on CPU)."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.support.fakes import generated_shards, write_tiny_config  # noqa: F401

from segfix_train.checkpoint import load_checkpoint
from tests.support.paths import REPO




def _train_cmd(shards, run, cfg, iters, resume=False):
    cmd = [sys.executable, "-m", "cli.main", "train", "--shards", str(shards), "--split", "train",
           "--model", "hrnet_w18", "--batch", "2", "--crop", "32", "--seed", "3",
           "--out", str(run), "--iters", str(iters), "--ckpt-every", "2", "--config", str(cfg)]
    return cmd + (["--resume"] if resume else [])


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return env


def _final_state(run, iters):
    ckpt = load_checkpoint(str(run / "checkpoints" / f"ckpt_{iters:08d}.pt"))
    return ckpt["model"]


def _log(run):
    rows = [json.loads(line) for line in (run / "train.jsonl").read_text().splitlines()]
    return [(r["iter"], r["loss"]) for r in rows]


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted(generated_shards, tmp_path):
    shards = generated_shards / "shards"
    cfg = write_tiny_config(tmp_path / "tiny.toml", "keep_checkpoints = 100\n")
    iters = 40
    straight = tmp_path / "straight"
    subprocess.run(_train_cmd(shards, straight, cfg, iters), cwd=REPO, env=_env(), check=True,
                   capture_output=True, timeout=600)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(_train_cmd(shards, killed, cfg, iters), cwd=REPO, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    first = killed / "checkpoints" / "ckpt_00000004.pt"
    while not first.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (killed / "checkpoints" / f"ckpt_{iters:08d}.pt").exists()

    subprocess.run(_train_cmd(shards, killed, cfg, iters, resume=True), cwd=REPO, env=_env(),
                   check=True, capture_output=True, timeout=600)
    a, b = _final_state(straight, iters), _final_state(killed, iters)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert _log(straight) == _log(killed)
