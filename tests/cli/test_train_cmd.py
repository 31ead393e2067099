"""`segfix train` / `segfix predict` end to end on generated shards (segfix-gt example + build)."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import main
from tests.segfix_train.test_checkpoint import write_crafted
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
    # a crafted pickle planted as the newest checkpoint (with a valid digest) runs no code: --resume
    # skips it, says why and resumes from the newest intact one; predict refuses it
    marker = tmp_path / "pwned"
    crafted = run / "checkpoints" / "ckpt_00000009.pt"
    write_crafted(str(crafted), marker)
    r = CliRunner().invoke(main, ["predict", "--checkpoint", str(crafted), "--images",
                                  str(shards / "cs" / "leftImg8bit" / "val"), "--out", str(tmp_path / "x")])
    assert r.exit_code != 0 and "refused" in r.output and not marker.exists(), r.output
    r = CliRunner().invoke(main, args + ["--iters", "3", "--resume"])
    assert r.exit_code == 0, r.output
    assert f"skipped {crafted}: {crafted}: refused" in r.output
    assert f"resumed from {run / 'checkpoints' / 'ckpt_00000002.pt'} at step 2" in r.output
    assert not marker.exists()
    crafted.unlink()
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
    # a checkpoint of another direction count is a clear error, not a traceback
    from segfix_train import checkpoint as ckpt

    state = ckpt.load_checkpoint(str(run / "checkpoints" / "ckpt_00000003.pt"))
    state["num_directions"] = 4
    ckpt.save_checkpoint(str(run / "checkpoints" / "ckpt_00000004.pt"), state)
    r = CliRunner().invoke(main, args + ["--iters", "5", "--resume"])
    assert r.exit_code != 0 and "predicts 4 directions, the shards have 8" in r.output, r.output
    r = CliRunner().invoke(main, ["predict", "--checkpoint", str(run / "checkpoints" / "ckpt_00000004.pt"),
                                  "--images", str(shards / "cs" / "leftImg8bit" / "val"), "--out", str(out)])
    assert r.exit_code != 0 and "do not fit model" in r.output and "Traceback" not in r.output, r.output


def test_train_cli_errors(tmp_path):
    r = CliRunner().invoke(main, ["train", "--out", str(tmp_path)])
    assert r.exit_code != 0 and "--shards" in r.output
    r = CliRunner().invoke(main, ["train", "--shards", str(tmp_path / "missing"), "--out", str(tmp_path / "r"),
                                  "--device", "cpu"])
    assert r.exit_code != 0 and "manifest" in r.output


def test_partial_pretrained_file_is_refused_unless_allowed(generated_shards, tmp_path):
    import torch

    from segfix_train.models import create_backbone

    cfg = write_tiny_config(tmp_path / "tiny.toml")
    sd = create_backbone("hrnet_w18", blocks=1, modules=(1, 1, 1), channels=(8, 16, 32, 64)).state_dict()
    del sd["conv1.weight"]
    weights = tmp_path / "partial_backbone.pth"
    torch.save(sd, weights)
    args = ["train", "--shards", str(generated_shards / "shards"), "--split", "train", "--val-split", "none",
            "--batch", "2", "--crop", "32", "--iters", "1", "--ckpt-every", "1", "--device", "cpu",
            "--config", str(cfg), "--pretrained", str(weights)]
    r = CliRunner().invoke(main, args + ["--out", str(tmp_path / "refused")])
    assert r.exit_code != 0 and "Traceback" not in r.output, r.output
    assert "partial_backbone.pth: lacks 1 of the" in r.output and "--allow-partial-pretrained" in r.output
    assert not (tmp_path / "refused" / "checkpoints").exists()
    r = CliRunner().invoke(main, args + ["--out", str(tmp_path / "run"), "--allow-partial-pretrained"])
    assert r.exit_code == 0, r.output
    total = sum(1 for k in sd if not k.endswith("num_batches_tracked")) + 1
    assert f"loaded {total - 1} of {total} tensors; missing 1;" in r.output
