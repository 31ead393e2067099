"""Every code block of README.md is executed or checked here; the README is read when the tests
run, so a block added later is covered too.

What is done with each fenced block, by its language:

* ``python``: executed, in a temporary directory that holds what the README's examples name
  (``runs/w18``: a tiny untrained run; ``frankfurt_000000_000294_leftImg8bit.png`` and
  ``preds/frankfurt_000000_000294.png``).
* ``bash`` / ``sh`` / ``shell``: each command (``\\`` continuations joined, ``&&`` chains split,
  ``[...]`` optional parts kept with the brackets removed, ``...`` dropped) is checked:
  ``segfix`` / ``segfix-gt`` (also ``torchrun ... -m cli.main``): the subcommand exists, its
  ``--help`` works and every option written is one it takes; ``pip install -e .[extras]``: the
  extras exist in setup.cfg; ``python3 benchmarks/X.py``: the script exists; ``python3 -m
  pytest``: accepted. Any other program fails the test (extend the checks here when adding one).
* A block preceded by ``<!-- readme-test: run -->`` is also run, command by command, in a
  temporary directory (``segfix`` / ``segfix-gt`` in-process; ``pip`` and ``pytest`` skipped):
  every command must exit 0. Only blocks that make their own data (``segfix-gt example``) can be
  marked; the others name datasets, checkpoints and GPUs a test does not have.
* Blocks without a language (the directory map) are text and not checked.
"""
from __future__ import annotations

import configparser
import re
import shlex

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from tests.support.fakes import one_torch_thread, scene  # noqa: F401
from tests.support.paths import REPO

README = REPO / "README.md"
SHELLS = ("bash", "sh", "shell")
RUN_MARK = "<!-- readme-test: run -->"


def readme_blocks() -> list[tuple[int, str, str, bool]]:
    """``(line, language, body, marked to run)`` of every fenced block of README.md."""
    lines = README.read_text().splitlines()
    out, i = [], 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        start, body = i, []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        prev = next((ln for ln in reversed(lines[:start]) if ln.strip()), "")
        out.append((start + 1, m.group(1), "\n".join(body) + "\n", prev.strip() == RUN_MARK))
        i += 1
    return out


def _blocks(kind):
    return [pytest.param(b, id=f"README.md:{b[0]}") for b in readme_blocks() if
            (b[1] == "python") == (kind == "python") and (b[1] in SHELLS or kind == "python")
            and (kind != "run" or b[3])]


def shell_commands(body: str) -> list[list[str]]:
    """The commands of a shell block as token lists (see the module doc)."""
    cmds = []
    for line in body.replace("\\\n", " ").splitlines():
        for part in re.split(r"&&|;", line):
            tokens = [t.replace("[", "").replace("]", "") for t in shlex.split(part, comments=True)]
            tokens = [t for t in tokens if t and t != "..."]
            if tokens:
                cmds.append(tokens)
    return cmds


def _groups():
    from cli.gt import main as gt_main
    from cli.main import main

    return {"segfix-gt": gt_main, "segfix": main, "cli.main": main, "cli.gt": gt_main}


def _check_cli(group_name: str, args: list[str], where: str) -> None:
    group = _groups()[group_name]
    assert args, f"{where}: `{group_name}` without a subcommand"
    cmd = group.commands.get(args[0])
    assert cmd is not None, f"{where}: `{group_name} {args[0]}`: no such command ({', '.join(group.commands)})"
    known = {"--help", "-h"}
    for p in cmd.params:
        known.update(getattr(p, "opts", ()))
        known.update(getattr(p, "secondary_opts", ()))
    for tok in args[1:]:
        if tok.startswith("-") and not re.fullmatch(r"-\d+(\.\d+)?", tok):
            assert tok.split("=")[0] in known, f"{where}: `{group_name} {args[0]}` takes no option {tok}"
    res = CliRunner().invoke(group, [args[0], "--help"])
    assert res.exit_code == 0, f"{where}: `{group_name} {args[0]} --help` failed: {res.output}"


def _extras() -> set[str]:
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    return set(cfg["options.extras_require"]) if cfg.has_section("options.extras_require") else set()


def check_command(tokens: list[str], where: str) -> str:
    """Check one command (module doc); returns how it would be run: "cli", "skip"."""
    prog = tokens[0]
    if prog in ("segfix", "segfix-gt"):
        _check_cli(prog, tokens[1:], where)
        return "cli"
    if prog == "torchrun":
        assert "-m" in tokens, f"{where}: torchrun without -m MODULE"
        k = tokens.index("-m")
        _check_cli(tokens[k + 1], tokens[k + 2:], where)
        return "skip"
    if prog in ("python3", "python", "pip"):
        rest = tokens[1:] if prog == "pip" else tokens[1:]
        if rest[:2] == ["-m", "pip"]:
            rest = rest[2:]
        elif prog != "pip" and rest[:1] == ["-m"]:
            assert rest[1] in ("pytest", "ruff"), f"{where}: python3 -m {rest[1]} is not checked here"
            return "skip"
        elif prog != "pip":
            assert (REPO / rest[0]).is_file(), f"{where}: no script {rest[0]}"
            return "skip"
        if rest[:1] == ["install"]:
            for spec in rest[1:]:
                m = re.fullmatch(r"\.(?:\[([\w,]+)\])?", spec)
                if m and m.group(1):
                    missing = set(m.group(1).split(",")) - _extras()
                    assert not missing, f"{where}: no extra {sorted(missing)} in setup.cfg"
        return "skip"
    raise AssertionError(f"{where}: command {prog!r} is neither run nor checked by tests/test_readme.py; "
                         "add a check there")


@pytest.mark.parametrize("block", _blocks("shell"))
def test_shell_block_commands_exist(block):
    line, _, body, _ = block
    cmds = shell_commands(body)
    assert cmds, f"README.md:{line}: empty shell block"
    for tokens in cmds:
        check_command(tokens, f"README.md:{line}")


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A directory holding the files the README's python examples name."""
    from tests.support.tiny_run import write_tiny_run

    monkeypatch.chdir(tmp_path)
    write_tiny_run(tmp_path / "runs" / "w18")
    img, lab = scene(4, 40, 56)
    Image.fromarray(img).save("frankfurt_000000_000294_leftImg8bit.png")
    (tmp_path / "preds").mkdir()
    Image.fromarray(lab.astype(np.uint8)).save("preds/frankfurt_000000_000294.png")
    return tmp_path


@pytest.mark.parametrize("block", _blocks("python"))
def test_python_block_runs(block, sandbox):
    line, _, body, _ = block
    exec(compile("\n" * line + body, str(README), "exec"), {"__name__": "readme"})


@pytest.mark.slow  # about 5-10 s: generates, builds and inspects the example dataset
@pytest.mark.parametrize("block", _blocks("run"))
def test_marked_shell_block_runs(block, tmp_path, monkeypatch):
    line, _, body, _ = block
    monkeypatch.chdir(tmp_path)
    for tokens in shell_commands(body):
        if check_command(tokens, f"README.md:{line}") != "cli":
            continue
        res = CliRunner().invoke(_groups()[tokens[0]], tokens[1:])
        assert res.exit_code == 0, f"README.md:{line}: `{' '.join(tokens)}` exited {res.exit_code}: {res.output}"


def test_every_block_is_covered():
    """Python and shell blocks are all picked up (guards the block parser itself)."""
    blocks = readme_blocks()
    assert any(b[1] == "python" for b in blocks) and any(b[1] in SHELLS for b in blocks)
    assert any(b[3] for b in blocks), f"no block marked {RUN_MARK}"
    langs = {b[1] for b in blocks}
    assert langs <= {"python", "", *SHELLS}, f"blocks of languages {langs} are not handled"
