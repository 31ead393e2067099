"""The README's Cityscapes + ADE20K recipe, run as written on generated data; per-entry splits,
predict from a run directory, and resume refusing changed options (through the real CLI)."""
import json
import shlex

import pytest
from click.testing import CliRunner

from cli.gt import main as gt_main
from cli.main import main
from tests.support.build_data import write_ade20k, write_cityscapes
from tests.support.fakes import one_torch_thread, write_tiny_config  # noqa: F401
from tests.support.paths import REPO

#: Appended to the recipe's `segfix train` line: a tiny model, one step on CPU.
TINY = ["--iters", "1", "--batch", "2", "--crop", "32", "--device", "cpu", "--config", "tiny.toml"]


def readme_block(after: str) -> list[str]:
    """The commands of the first ```bash block after the text ``after`` in README.md (one per line,
    backslash continuations joined)."""
    text = (REPO / "README.md").read_text()
    start = text.index("```bash\n", text.index(after)) + len("```bash\n")
    block = text[start: text.index("```", start)].replace("\\\n", " ")
    return [ln.split("  #")[0].strip() for ln in block.splitlines() if ln.strip()]


def _run(line: str, extra=()):
    prog, *args = shlex.split(line)
    group = {"segfix-gt": gt_main, "segfix": main}[prog]
    r = CliRunner().invoke(group, [*args, *extra])
    assert r.exit_code == 0, f"{line}\n{r.output}"
    return r.output


@pytest.mark.slow
def test_readme_unified_recipe_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_cityscapes(tmp_path / "cityscapes", {"train": 1, "val": 1}, height=48, width=64)
    write_ade20k(tmp_path / "ADEChallengeData2016", {"training": 1, "validation": 1}, height=48,
                 width=64, container=False)
    write_tiny_config(tmp_path / "tiny.toml")
    lines = readme_block("The paper's unified model")
    assert [ln.split()[:2] for ln in lines] == [["segfix-gt", "build"]] * 2 + [["segfix", "train"]]
    outputs = [_run(ln, TINY if ln.startswith("segfix train") else ()) for ln in lines]
    assert "building splits train, val" in outputs[0]
    assert "building splits training, validation" in outputs[1]
    assert "shards shards/cs:train: 1 sample, weight 1, 1 crop per batch" in outputs[2]
    assert "shards shards/ade:training: 1 sample, weight 1, 1 crop per batch" in outputs[2]
    assert "saved checkpoint runs/unified/checkpoints/ckpt_00000001.pt" in outputs[2]
    # the unified recipe's lr: the paper's 0.02 at batch 16, scaled to the test's batch 2
    unified = json.loads((tmp_path / "runs/unified/config.json").read_text())
    assert unified["recipe"] == "unified" and unified["base_lr"] == 0.02
    assert unified["resolved_lr"] == 0.02 * 2 / 16 and "lr 0.0025," in outputs[2]
    assert unified["sources"]["base_lr"] == "recipe unified" and unified["sources"]["batch"] == "flag"
    assert unified["sources"]["model_args"] == "config tiny.toml"
    assert "settings from recipe unified: " in outputs[2]

    # the documented form: each entry with its split; validation sets given by their on-disk names
    run = "runs/v"
    args = ["train", "--shards", "shards/cs:val", "--shards", "shards/ade:validation",
            "--val-split", "none", "--out", run, *TINY]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    conf = json.loads((tmp_path / run / "config.json").read_text())
    assert [(s["dir"], s["split"]) for s in conf["shard_sets"]] == [("shards/cs", "val"),
                                                                     ("shards/ade", "validation")]
    # the alias: ADE20K shards asked for 'val' open 'validation'
    r = CliRunner().invoke(main, ["train", "--shards", "shards/ade:val", "--val-split", "none",
                                  "--out", "runs/alias", *TINY])
    assert r.exit_code == 0 and "shards shards/ade:validation" in r.output, r.output

    # resume with another lr: refused, naming the option; the same options resume
    r = CliRunner().invoke(main, args[:-len(TINY)] + TINY[:1] + ["2"] + TINY[2:] + ["--resume", "--lr", "0.5"])
    assert r.exit_code == 2 and "lr: 0.005 -> 0.5" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, args[:-len(TINY)] + TINY[:1] + ["2"] + TINY[2:] + ["--resume"])
    assert r.exit_code == 0 and "resumed from" in r.output, r.output

    # predict from the run directory: its latest checkpoint
    r = CliRunner().invoke(main, ["predict", "--checkpoint", run, "--images", "cityscapes/leftImg8bit/val",
                                  "--out", "offsets", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "checkpoint runs/v/checkpoints/ckpt_00000002.pt" in r.output
    assert len(list((tmp_path / "offsets").glob("*.npz"))) == 1
