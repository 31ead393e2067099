"""`segfix train` under torchrun: 2 processes on loopback, gloo on CPU, through the real CLI."""
import json
import os
import socket
import subprocess
import sys

import pytest

from tests.support.fakes import generated_shards, write_tiny_config  # noqa: F401

from segfix_train.checkpoint import load_checkpoint
from tests.support.paths import REPO


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]




@pytest.mark.slow
def test_segfix_train_under_torchrun_two_processes(generated_shards, tmp_path):
    shards = generated_shards / "shards"
    cfg = write_tiny_config(tmp_path / "tiny.toml")
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
           "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
           "-m", "cli.main", "train", "--shards", str(shards), "--split", "train",
           "--val-split", "val", "--model", "hrnet_w18", "--batch", "4", "--crop", "32",
           "--seed", "0", "--iters", "3", "--ckpt-every", "3", "--out", str(run),
           "--config", str(cfg), "--device", "cpu"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = [json.loads(line) for line in (run / "train.jsonl").read_text().splitlines()]
    assert [r["iter"] for r in rows] == [1, 2, 3]  # one log, written by rank 0 only
    assert json.loads((run / "config.json").read_text())["batch"] == 4
    ckpt = load_checkpoint(str(run / "checkpoints" / "ckpt_00000003.pt"))
    assert ckpt["data"]["world_size"] == 2 and len(ckpt["rng"]) == 2
