"""Smoke run of benchmarks/demo_trained.py: generate -> build -> train -> predict -> refine -> score.

The full run (benchmarks/RESULTS.md) trains for minutes; ``--quick`` runs the whole pipeline with a
few iterations, twice, and the two runs must print the same table and write the same results (the
README quotes what the script prints, so a seed must give one answer). The ground-truth-offset row
must still show the Table 1 effect, and the boundary F columns are at 1, 2, 3 true pixels.
"""
import sys
from pathlib import Path

import pytest

from tests.support.benchmarks import run_benchmark
from tests.support.paths import REPO


def _table(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("method"))
    return [line for line in lines[start:] if line.strip() and not line.startswith("wrote")]


@pytest.mark.slow
def test_demo_trained_quick_is_deterministic_and_labelled_in_pixels(tmp_path):
    runs = [run_benchmark("demo_trained.py", "--quick", "--workdir", tmp_path / f"work{i}",
                          json_path=tmp_path / f"results{i}.json") for i in range(2)]
    (proc_a, data_a), (proc_b, data_b) = runs
    assert data_a["results"] == data_b["results"]
    assert _table(proc_a.stdout) == _table(proc_b.stdout)
    assert _table(proc_a.stdout)[0].split()[1:] == ["mIoU", "F@1px", "F@2px", "F@3px"]
    results = data_a["results"]
    assert set(results) == {"w/o SegFix", "trained model, scale 1", "trained model, scale 2",
                            "GT offsets, scale 2"}
    base, gt = results["w/o SegFix"], results["GT offsets, scale 2"]
    assert set(base["boundary_f"]) == {"1", "2", "3"}
    assert gt["miou"] > base["miou"] and gt["boundary_f"]["1"] > base["boundary_f"]["1"]
    assert list((tmp_path / "work0" / "offsets").glob("*.npz"))


def test_demo_trained_columns_are_true_pixel_radii():
    """Each column's tolerance is its label in pixels on the frames the script scores (1024x512):
    diagonal fractions 0.0003/0.0006 both round up to 1 px there."""
    sys.path.insert(0, str(Path(REPO) / "benchmarks"))
    import demo_trained
    from segfix_data.metrics.boundary import boundary_radius

    assert [boundary_radius(t, (512, 1024)) for t in demo_trained.PIXEL_RADII] == [1, 2, 3]


def test_demo_trained_stopped_by_sigterm_removes_its_temporary_directory(tmp_path):
    """`kill` (SIGTERM) during the run: the temporary directory of data and shards is removed, and
    the exit status is 128 + 15, as the signal's own."""
    import os
    import signal
    import subprocess
    import time

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp), PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, str(REPO / "benchmarks" / "demo_trained.py"), "--quick",
                             "--json", str(tmp_path / "r.json")], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        work = []
        while not work and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)  # the run's working directory, once it holds generated frames
            work = [d for d in tmp.glob("segfix-bench-*") if (d / "cs").exists()]
        assert work, "the demo never created its working directory"
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=120)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert not work[0].exists() and "temporary data and shards were removed" in err
    assert not (tmp_path / "r.json").exists()
