"""`segfix train` / `segfix predict` end to end on generated shards (segfix-gt example + build)."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import main
from tests.support.fakes import generated_shards, one_torch_thread, write_tiny_config  # noqa: F401




@pytest.mark.slow
def test_train_resume_and_predict_cli(generated_shards, tmp_path):
    shards = generated_shards
    cfg = write_tiny_config(tmp_path / "tiny.toml")
    run = tmp_path / "run"
    args = ["train", "--shards", str(shards / "shards"), "--split", "train", "--val-split", "val",
            "--model", "hrnet_w18", "--batch", "2", "--crop", "32", "--seed", "1", "--out", str(run),
            "--ckpt-every", "2", "--config", str(cfg)]
    r = CliRunner().invoke(main, args + ["--iters", "2"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, args + ["--iters", "3", "--resume"])
    assert r.exit_code == 0, r.output
    assert "resumed from" in r.output
    rows = [json.loads(ln) for ln in (run / "train.jsonl").read_text().splitlines()]
    assert [x["iter"] for x in rows] == [1, 2, 3] and all(np.isfinite(x["loss"]) for x in rows)
    conf = json.loads((run / "config.json").read_text())
    assert conf["crop"] == 32 and conf["model_args"]["channels"] == [8, 16, 32, 64] and conf["iters"] == 3
    assert (run / "checkpoints" / "ckpt_00000003.pt").exists()
    val = [json.loads(ln) for ln in (run / "val.jsonl").read_text().splitlines()]
    assert val[-1]["iter"] == 3 and val[-1]["valid_pixels"] > 0
    out = tmp_path / "offsets"
    r = CliRunner().invoke(main, ["predict", "--checkpoint", str(run / "checkpoints" / "ckpt_00000003.pt"),
                                  "--images", str(shards / "cs" / "leftImg8bit" / "val"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert len(list(out.glob("*.npz"))) == 1


def test_train_cli_errors(tmp_path):
    r = CliRunner().invoke(main, ["train", "--out", str(tmp_path)])
    assert r.exit_code != 0 and "--shards" in r.output
    r = CliRunner().invoke(main, ["train", "--shards", str(tmp_path / "missing"), "--out", str(tmp_path / "r"),
                                  "--device", "cpu"])
    assert r.exit_code != 0 and "manifest" in r.output
