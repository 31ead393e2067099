"""The CLI error convention (cli/_errors.py): user errors are one line and exit 2, failed runs exit
1, only bugs print a traceback. Every command is run with typical bad input."""
import sys

import click
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cli._errors import BUG_REPORT, SegfixGroup, UserError
from cli.gt import main as gt_main
from cli.main import main
from segfix_data.datasets import LayoutError
from segfix_data.datasets.labels import cityscapes_label_ids_to_train_ids
from segfix_data.errors import InputError
from segfix_data.shards.pipeline import BuildError, ParamsMismatch, SplitBusy
from tests.support.build_data import write_cityscapes


def _group():
    @click.group(cls=SegfixGroup)
    def g():
        pass

    def add(name, exc):
        @g.command(name)
        def cmd():
            raise exc

    add("value", InputError("data/x.png: bad ids; pass --id-space trainIds"))
    add("busy", SplitBusy("out/val: another build is writing this split; wait for it"))
    add("internal_value", ValueError("operands could not be broadcast together"))
    add("layout", LayoutError("data: missing directory; check --layout"))
    add("missing", FileNotFoundError(2, "No such file or directory", "data/none.png"))
    add("params", ParamsMismatch("out/val: built with other parameters; use --overwrite"))
    add("user", UserError("out: nothing built; run segfix-gt build"))
    add("build", BuildError("data/bad.png: unreadable; rerun to resume"))
    add("bug", KeyError("internal"))
    add("usage", click.UsageError("no such option"))

    @g.command("status")
    def status():
        sys.exit(3)
    return g


@pytest.mark.parametrize("name, code, text", [
    ("value", 2, "error: data/x.png: bad ids; pass --id-space trainIds"),
    ("layout", 2, "error: data: missing directory"),
    ("missing", 2, "data/none.png"),
    ("params", 2, "--overwrite"),
    ("busy", 2, "error: out/val: another build is writing this split"),
    ("user", 2, "run segfix-gt build"),
    ("build", 1, "error: data/bad.png: unreadable"),
])
def test_errors_become_one_line_by_type(name, code, text):
    r = CliRunner().invoke(_group(), [name])
    assert r.exit_code == code, r.output
    assert text in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_bugs_show_a_traceback_and_say_so_and_exits_pass_through():
    for name in ("bug", "internal_value"):  # a plain ValueError is not a user error
        r = CliRunner().invoke(_group(), [name])
        assert r.exit_code == 1 and "Traceback" in r.output and BUG_REPORT in r.output, r.output
    r = CliRunner().invoke(_group(), ["usage"])
    assert r.exit_code == 2 and "no such option" in r.output and "Traceback" not in r.output
    assert CliRunner().invoke(_group(), ["status"]).exit_code == 3


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    """A val-only Cityscapes dataset, its shards, predictions in trainIds / RGB / wrong size, an
    empty directory, a broken checkpoint and a run directory without checkpoints."""
    root = tmp_path_factory.mktemp("bad")
    data = write_cityscapes(root / "data", {"val": 2}, height=32, width=64)
    r = CliRunner().invoke(gt_main, ["build", str(data), str(root / "shards"), "-q", "--tile", "16"])
    assert r.exit_code == 0, r.output
    for lab in sorted((data / "gtFine" / "val").rglob("*_labelIds.png")):
        key = lab.name.replace("_gtFine_labelIds.png", "")
        ids = np.array(Image.open(lab))
        for d, arr in (("train_ids", cityscapes_label_ids_to_train_ids(ids).astype(np.uint8)),
                       ("rgb", np.stack([ids] * 3, -1)), ("small", ids[:16])):
            (root / d).mkdir(exist_ok=True)
            Image.fromarray(arr).save(root / d / f"{key}_leftImg8bit.png")
    (root / "empty").mkdir()
    (root / "run" / "checkpoints").mkdir(parents=True)
    (root / "broken.pt").write_bytes(b"not a checkpoint")
    (root / "bad.toml").write_text("[train]\nitres = 3\n")
    return root


def _cases(root):
    d, s = str(root / "data"), str(root / "shards")
    return [
        (gt_main, ["build", d, str(root / "o1"), "--split", "test"], "splits found: val"),
        (gt_main, ["build", d, str(root / "o2"), "--layout", "ade20k"], "--layout"),
        (gt_main, ["verify", str(root / "empty")], "manifest.json"),
        (gt_main, ["inspect", s, "--sample", "nope"], "nope"),
        (gt_main, ["export", s, str(root / "mat"), "--format", "openseg-mat"], "--preset openseg"),
        (main, ["eval", d, str(root / "train_ids")], "--id-space trainIds"),
        (main, ["eval", d, str(root / "rgb")], "save ids, not colours"),
        (main, ["eval", d, str(root / "small")], "full resolution"),
        (main, ["eval", d, str(root / "train_ids"), "--split", "test"], "splits found: val"),
        (main, ["eval", d, str(root / "empty")], "no prediction for 2 of 2 frames"),
        (main, ["refine", str(root / "train_ids"), str(root / "r1"), "--offsets", str(root / "empty")],
         "no offsets found"),
        (main, ["refine", str(root / "empty"), str(root / "r2"), "--offsets", s], "no predictions found"),
        (main, ["train", "--shards", str(root / "nowhere"), "--out", str(root / "t1")], "nowhere"),
        (main, ["train", "--shards", f"{s}:test", "--out", str(root / "t2"), "--device", "cpu"],
         "splits found: val"),
        (main, ["train", "--shards", s, "--config", str(root / "bad.toml")], "itres"),
        (main, ["predict", "--checkpoint", str(root / "run"), "--images", d, "--out", str(root / "p")],
         "no checkpoints"),
        (main, ["predict", "--checkpoint", str(root / "broken.pt"), "--images", d, "--out",
                str(root / "p")], "segfix train checkpoint"),
    ]


def test_typical_bad_input_prints_one_line_and_exits_2(bad_inputs):
    cases = _cases(bad_inputs)
    assert len(cases) >= 8
    for group, args, hint in cases:
        r = CliRunner().invoke(group, args)
        where = f"{group.name} {' '.join(args)}:\n{r.output}"
        assert r.exit_code == 2, where
        assert "Traceback" not in r.output, where
        errors = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and hint in errors[0], where


def test_an_internal_value_error_in_a_command_is_a_bug(bad_inputs, monkeypatch):
    # numpy raising deep inside the library (here: the panel of `segfix-gt inspect`) is not bad input
    import segfix_data.inspect.shards as inspect_shards

    def broken(*a, **k):
        raise ValueError("operands could not be broadcast together with shapes (3,) (4,)")

    monkeypatch.setattr(inspect_shards, "sample_panel", broken)
    r = CliRunner().invoke(gt_main, ["inspect", str(bad_inputs / "shards"), "--out",
                                     str(bad_inputs / "panel.png")])
    assert r.exit_code == 1, r.output
    assert "Traceback" in r.output and BUG_REPORT in r.output and "broadcast" in r.output


def test_an_internal_key_error_in_the_panel_is_not_a_bad_sample(bad_inputs, monkeypatch):
    # only ShardSet.index_of's KeyError means "bad --sample"; one from the panel code is a bug
    import segfix_data.inspect.shards as inspect_shards

    def broken(*a, **k):
        raise KeyError("semantic/distance")

    monkeypatch.setattr(inspect_shards, "sample_panel", broken)
    r = CliRunner().invoke(gt_main, ["inspect", str(bad_inputs / "shards"), "--out",
                                     str(bad_inputs / "panel.png")])
    assert r.exit_code == 1 and "Traceback" in r.output and "--sample" not in r.output, r.output


def test_a_split_locked_by_another_build_is_one_line(bad_inputs):
    import fcntl

    out = bad_inputs / "busy"
    (out / "val").mkdir(parents=True)
    with open(out / "val" / "build.lock", "a") as f:  # the other build's lock
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        r = CliRunner().invoke(gt_main, ["build", str(bad_inputs / "data"), str(out), "-q"])
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    errors = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "another build is writing this split" in errors[0], r.output
