"""``best.pt``, its digest and ``best.json`` are one update: a kill at any point of ``save_best``
leaves a best.pt that loads, a record that agrees with it (or is recognised as not yet updated),
and nothing hidden once ``remove_stale`` ran (as ``--resume`` does). Before, a kill could leave
best.pt refused as damaged (its new digest published first), best.json naming step 2 beside a
best.pt of step 4, and a hidden temporary file of the model's size that no resume removed."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from segfix_train import checkpoint as ckpt
from tests.support.killed_save import KEY, KILL_POINTS, payload
from tests.support.paths import REPO


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """``tests.support.killed_save`` run in a fresh process (forks of this one could deadlock)."""
    root = tmp_path_factory.mktemp("killed")
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    subprocess.run([sys.executable, "-m", "tests.support.killed_save", str(root)], cwd=REPO, env=env,
                   check=True, timeout=300)
    return root


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_kill_anywhere_in_save_best_leaves_a_usable_best(killed, point):
    run = killed / "again" / f"kill_{point}"
    best = str(run / "best.pt")
    state = ckpt.load_checkpoint(best, accept=(ckpt.BEST_FORMAT,))  # the digest file accepts it
    assert state["step"] in (2, 4)
    rec = ckpt.read_best(str(run), KEY)
    assert (rec["step"], rec["value"]) == (state["step"], state["val"][KEY])
    ckpt.remove_stale(str(run))  # what --resume does first
    assert sorted(p.name for p in run.iterdir()) == ["best.json", "best.pt", "best.pt.sha256"]
    assert len((run / "best.pt.sha256").read_text().splitlines()) == 1
    ckpt.verify_digest(best)
    # the next validation (worse) keeps best.pt, and best.json says which it is
    assert not ckpt.save_best(str(run), 6, KEY, 0.0, payload(6, 0.0))
    disk = json.loads((run / "best.json").read_text())
    assert disk["step"] == state["step"] and disk["sha256"] == ckpt.file_sha256(best)


def test_a_killed_first_save_leaves_nothing_once_swept(killed):
    for point in KILL_POINTS[:-1]:
        run = killed / "first" / f"kill_{point}"
        if not (run / "best.pt").exists():
            assert ckpt.read_best(str(run), KEY) is None
            ckpt.remove_stale(str(run))
            assert list(run.iterdir()) == [], point
        else:  # killed after best.pt was published: usable
            assert ckpt.read_best(str(run), KEY)["step"] == 4


def test_clear_best_removes_a_killed_saves_temporary_file(killed):
    run = killed / "first" / "kill_save"
    ckpt.clear_best(str(run))
    assert list(run.iterdir()) == []
