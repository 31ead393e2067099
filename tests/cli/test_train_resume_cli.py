"""`segfix train --out RUN --resume` alone continues a run from RUN/config.json (real CLI, shards)."""
import json

from click.testing import CliRunner

from cli.main import main
from tests.support.fakes import generated_shards, one_torch_thread, write_tiny_config  # noqa: F401


def test_resume_needs_only_out(generated_shards, tmp_path):
    cfg = write_tiny_config(tmp_path / "tiny.toml")
    run = tmp_path / "run"
    first = ["train", "--recipe", "cityscapes", "--shards", str(generated_shards / "shards"), "--config", str(cfg),
             "--batch", "2", "--crop", "32", "--iters", "2", "--ckpt-every", "2", "--device", "cpu",
             "--val-max-images", "1", "--out", str(run)]
    r = CliRunner().invoke(main, first)
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["train", "--out", str(run), "--resume", "--iters", "3"])
    assert r.exit_code == 0, r.output
    assert f"resumed from {run / 'checkpoints' / 'ckpt_00000002.pt'} at step 2" in r.output
    assert "final validation " in r.output and ":val: " in r.output
    rows = [json.loads(ln) for ln in (run / "train.jsonl").read_text().splitlines()]
    assert [x["iter"] for x in rows] == [1, 2, 3]
    conf = json.loads((run / "config.json").read_text())
    assert conf["recipe"] == "cityscapes" and conf["crop"] == 32 and conf["iters"] == 3
    assert conf["sources"]["crop"] == "run (flag)" and conf["sources"]["iters"] == "flag"
    r = CliRunner().invoke(main, ["train", "--out", str(tmp_path / "nothing"), "--resume"])
    assert r.exit_code == 2 and "found no" in r.output and "config.json" in r.output, r.output
    assert "Traceback" not in r.output
