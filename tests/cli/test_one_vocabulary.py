"""One word, one meaning, one definition: the options ``segfix-gt build`` and ``segfix eval`` share
come from ``cli/_options.py``; ``segfix train`` shows the defaults and choices of
``segfix_train.config``; ``segfix predict`` chooses its tester with ``--tester`` (``--preset`` is
build's word) and its precision with the ``--amp`` of training; exit statuses have one definition
(``cli/_errors.py``); the user errors of ``segfix eval`` are the convention's one line."""
import ast
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cli.build_cmd import build_cmd
from cli.eval_cmd import eval_
from cli.main import main
from cli.predict_cmd import predict_cmd
from cli.train_cmd import train_cmd
from segfix_train.config import AMP_MODES, DIRECTION_PIXELS, RECIPES, TrainConfig
from tests.support.paths import REPO

SHARED = ("--img-suffix", "--seg-suffix", "--image-glob", "--label-glob", "--class-map", "--class-names",
          "--reduce-zero-label", "--max-image-pixels")


def _option(cmd: click.Command, name: str) -> click.Option:
    (opt,) = [p for p in cmd.params if name in getattr(p, "opts", ())]
    return opt


def _signature(opt: click.Option) -> tuple:
    return (opt.name, opt.help, opt.default, opt.is_flag, repr(opt.type), opt.hidden)


@pytest.mark.parametrize("name", SHARED)
def test_build_and_eval_share_each_dataset_option(name):
    assert _signature(_option(build_cmd, name)) == _signature(_option(eval_, name))


def test_predict_and_train_share_img_suffix_and_amp():
    assert _signature(_option(predict_cmd, "--img-suffix")) == _signature(_option(build_cmd, "--img-suffix"))
    amp = _option(train_cmd, "--amp")
    assert _signature(_option(predict_cmd, "--amp")) == _signature(amp)
    assert tuple(amp.type.choices) == AMP_MODES


def test_train_help_shows_the_config_defaults_and_choices():
    d = TrainConfig()
    for opt, value in (("--iters", d.iters), ("--batch", d.batch), ("--accum", d.accum), ("--crop", d.crop),
                       ("--seed", d.seed), ("--log-every", d.log_every), ("--ckpt-every", d.ckpt_every),
                       ("--workers", d.num_workers), ("--split", d.split), ("--val-split", d.val_split)):
        assert f"[{value}]" in _option(train_cmd, opt).help, opt
    assert list(_option(train_cmd, "--recipe").type.choices) == list(RECIPES)
    assert tuple(_option(train_cmd, "--direction-pixels").type.choices) == DIRECTION_PIXELS
    assert tuple(_option(train_cmd, "--amp").type.choices) == AMP_MODES
    lr = _option(train_cmd, "--lr").help
    assert "absolute" in lr and f"base_lr {d.base_lr:g}" in lr and "0.02 for --recipe ade20k|unified" in lr
    assert not lr.lower().startswith("base learning rate")


def _checkpoint(tmp_path) -> str:
    path = tmp_path / "ck.pt"
    path.write_bytes(b"")
    (tmp_path / "imgs").mkdir()
    return str(path)


def test_preset_on_predict_is_one_line_naming_tester(tmp_path):
    r = CliRunner().invoke(main, ["predict", "--checkpoint", _checkpoint(tmp_path), "--images",
                                  str(tmp_path / "imgs"), "--out", str(tmp_path / "o"), "--preset", "openseg"])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "--tester openseg" in lines[0], r.output
    assert not (tmp_path / "o").exists()
    assert "--preset" not in CliRunner().invoke(main, ["predict", "--help"]).output  # not offered


def test_openseg_tester_refuses_amp_in_one_line(tmp_path):
    from PIL import Image

    path = _checkpoint(tmp_path)
    Image.new("RGB", (8, 8)).save(tmp_path / "imgs" / "a.png")
    r = CliRunner().invoke(main, ["predict", "--checkpoint", path, "--images", str(tmp_path / "imgs"),
                                  "--out", str(tmp_path / "o"), "--tester", "openseg", "--amp", "bf16"])
    assert r.exit_code == 2 and "--tester openseg fixes" in r.output and "--amp" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1


def test_exit_statuses_are_defined_once():
    """Only cli/_errors.py binds an ``EXIT_*`` name; the other commands import theirs."""
    owners = {}
    for path in sorted((REPO / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name) and n.id.startswith("EXIT_"):
                        owners.setdefault(n.id, set()).add(Path(path).name)
    assert owners and all(files == {"_errors.py"} for files in owners.values()), owners


@pytest.mark.parametrize("args,says", [
    (["--instances", "--layout", "ade20k"], "--instances scores Cityscapes instance results"),
    (["--layout", "voc", "--label-glob", "*.png"], "--label-glob: folder layout only"),
])
def test_eval_user_errors_are_the_conventions_one_line(tmp_path, args, says):
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    r = CliRunner().invoke(main, ["eval", str(tmp_path / "gt"), str(tmp_path / "pred"), *args])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], r.output


def test_eval_class_names_error_is_one_line(tmp_path):
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    names = tmp_path / "names.txt"
    names.write_bytes(b"\xff\xfe\x00bad")
    r = CliRunner().invoke(main, ["eval", str(tmp_path / "gt"), str(tmp_path / "pred"), "--class-names", str(names)])
    assert r.exit_code == 2 and "Usage:" not in r.output, r.output
    assert r.output.startswith("error: ") and str(names) in r.output, r.output
