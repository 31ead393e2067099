import os
import stat

import pytest

from segfix_data.atomic import atomic_path
from tests.support.paths import REPO


def test_publishes_on_success_with_normal_permissions(tmp_path):
    target = tmp_path / "sub" / "a.json"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".json" and not target.exists()
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def _dead_pid() -> int:
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_sweep_removes_the_temporary_files_of_dead_writers_only(tmp_path):
    from segfix_data.atomic import sweep_temps

    dead, live = _dead_pid(), os.getppid()
    names = [f".a.mat.{dead}.0123abcd.mat", f".b.mat.{live}.0123abcd.mat", f".c.npz.{dead}.0123abcd.npz",
             f".best.pt.{live}.0123abcd.pt", ".notes.txt", "a.mat", f".d.mat.{dead}.0123abcd.npz"]
    for n in names:
        (tmp_path / n).write_bytes(b"")
    assert {p.name for p in sweep_temps(tmp_path, suffixes=(".mat",))} == {names[0]}
    assert {p.name for p in sweep_temps(tmp_path)} == {names[2]}  # .d.mat...npz is no temporary name
    assert {p.name for p in sweep_temps(tmp_path, ("best.pt",), only_dead=False)} == {names[3]}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([names[1], names[4], names[5], names[6]])
    assert sweep_temps(tmp_path / "missing") == []


def test_a_killed_writer_leaves_a_temporary_file_the_next_sweep_removes(tmp_path):
    import subprocess
    import sys

    from segfix_data.atomic import sweep_temps

    code = ("import os, sys\nfrom segfix_data.atomic import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n    open(tmp, 'wb').close()\n    os._exit(9)\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.mat")], env=env, timeout=60)
    (left,) = tmp_path.iterdir()
    assert left.name.startswith(".x.mat.") and left.stat().st_size == 0
    assert sweep_temps(tmp_path, suffixes=(".mat",)) == [left] and list(tmp_path.iterdir()) == []
