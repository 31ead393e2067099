"""Ctrl-C (cli/_errors.py, SegfixGroup): one line with the command that resumes the run, exit 130,
no traceback (no worker's either), and a Ctrl-C while the program exits ends it at once.

The subprocess tests send SIGINT to the whole process group, as a terminal does."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from cli._errors import EXIT_INTERRUPTED, resume_line
from tests.support.build_data import write_cityscapes
from tests.support.paths import REPO


def _start(args, **kw):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=env, cwd=REPO, **kw)


def _interrupt(proc, ready: str, stream: str = "stderr", delay: float = 0.5, timeout: float = 60):
    """Wait for the line ``ready`` on ``stream``, Ctrl-C the process group after ``delay`` seconds;
    returns ``(returncode, stdout, stderr)``. The process is killed if it outlives ``timeout``."""
    pipe = getattr(proc, stream)
    seen = []
    try:
        while True:
            line = pipe.readline()
            if not line:
                break
            seen.append(line)
            if ready in line:
                break
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    before = "".join(seen)
    return proc.returncode, (before if stream == "stdout" else "") + out, (before if stream == "stderr" else "") + err


def test_build_interrupted_prints_the_command_that_resumes_it(tmp_path):
    """A build busy on a frame (a 48-megapixel one: seconds of targets) is stopped by Ctrl-C with two
    workers: exit 130, the resume line, no traceback from the build or a worker, and the process ends
    (the workers still on a frame are not waited for). (A FIFO label would be refused before it is
    read, so the frame is made slow instead.)"""
    import numpy as np
    from PIL import Image

    root = write_cityscapes(tmp_path / "cs", {"val": 3}, height=32, width=64)
    label = sorted((root / "gtFine" / "val").rglob("*_gtFine_labelIds.png"))[1]
    big = np.full((6000, 8000), 7, np.uint8)
    big[1000:5000:400, :] = 26  # stripes: boundary pixels everywhere along them
    Image.fromarray(big).save(label, compress_level=1)
    image = next((root / "leftImg8bit" / "val").rglob(label.name.replace("gtFine_labelIds", "leftImg8bit")))
    Image.fromarray(np.zeros((6000, 8000, 3), np.uint8)).save(image, compress_level=1)
    out_dir = tmp_path / "out"
    proc = _start(["-m", "cli.gt", "build", str(root), str(out_dir), "--jobs", "2"])
    code, out, err = _interrupt(proc, "building split", delay=2.0)
    assert code == EXIT_INTERRUPTED, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err and "Aborted" not in err, err
    assert f"interrupted; run `python -m cli.gt build {root} {out_dir} --jobs 2` to resume" in err, err


_SLOW_EXIT = textwrap.dedent("""
    import threading, time, click
    from cli._errors import SegfixGroup

    @click.group(cls=SegfixGroup)
    def main():
        pass

    @main.command("build")
    def build():
        threading.Thread(target=time.sleep, args=(30,)).start()  # joined while the program exits
        click.echo("done", err=True)

    main()
""")


def test_ctrl_c_while_the_program_exits_ends_it_at_once():
    """A Ctrl-C while the interpreter waits for a worker thread at exit: status 130 at once, and no
    'Exception ignored in: <module threading>' traceback."""
    t0 = time.monotonic()
    code, out, err = _interrupt(_start(["-c", _SLOW_EXIT, "build"]), "done", delay=0.5, timeout=20)
    assert code == EXIT_INTERRUPTED, err
    assert "Exception ignored" not in err and "Traceback" not in err, err
    assert time.monotonic() - t0 < 20


_SLOW_RUN = textwrap.dedent("""
    import sys, time, click
    from cli._errors import SegfixGroup

    @click.group(cls=SegfixGroup)
    def main():
        pass

    for name in ("train", "predict", "refine", "eval"):
        @main.command(name, context_settings={"ignore_unknown_options": True})
        @click.argument("args", nargs=-1)
        def cmd(args):
            click.echo("running", err=True)
            time.sleep(30)

    main(prog_name="segfix")
""")


@pytest.mark.parametrize("argv, line", [
    (["train", "--shards", "s", "--out", "runs/a"],
     "interrupted; run `segfix train --shards s --out runs/a --resume` to resume (it continues from the last "
     "checkpoint saved, if any)"),
    (["predict", "--checkpoint", "runs/a", "--images", "my images", "--out", "off", "--overwrite"],
     "interrupted; run `segfix predict --checkpoint runs/a --images 'my images' --out off` to resume (the "
     "images already predicted are kept)"),
    (["refine", "preds", "out", "--offsets", "off"],
     "interrupted; run `segfix refine preds out --offsets off` to resume (nothing was written: OUT_DIR is "
     "filled only when every file is refined)"),
    (["eval", "data", "preds"], "interrupted"),
])
def test_each_command_says_how_to_resume(argv, line):
    code, out, err = _interrupt(_start(["-c", _SLOW_RUN, *argv]), "running", delay=0.2)
    assert code == EXIT_INTERRUPTED, err
    assert err.strip().splitlines()[-1] == line, err
    assert "Traceback" not in err and "Aborted" not in err


def test_resume_line_replaces_overwrite_with_resume():
    assert resume_line("segfix", ["train", "--out", "r", "--overwrite"]) == (
        "interrupted; run `segfix train --out r --resume` to resume (it continues from the last checkpoint saved, if any)")
    assert resume_line("segfix", ["train", "--resume", "--out", "r"]).count("--resume") == 1
    assert resume_line("segfix-gt", []) == "interrupted"
