"""Smoke run of benchmarks/demo_trained.py: generate -> build -> train -> predict -> refine -> score.

The full run (benchmarks/RESULTS.md) trains for minutes; here a few iterations only keep the
pipeline from rotting, and the ground-truth-offset row must still show the Table 1 effect.
"""
import json
import subprocess
import sys

import pytest

from tests.support.paths import REPO as ROOT


@pytest.mark.slow
def test_demo_trained_pipeline_runs(tmp_path):
    out = tmp_path / "results.json"
    cmd = [sys.executable, "benchmarks/demo_trained.py", "--iters", "3", "--train-frames", "2",
           "--val-frames", "1", "--height", "256", "--width", "512", "--crop", "64", "--batch", "2",
           "--workdir", str(tmp_path / "work"), "--json", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads(out.read_text())["results"]
    assert set(results) == {"w/o SegFix", "trained model, scale 1", "trained model, scale 2",
                            "GT offsets, scale 2"}
    base, gt = results["w/o SegFix"], results["GT offsets, scale 2"]
    assert gt["miou"] > base["miou"] and gt["boundary_f"]["0.0003"] > base["boundary_f"]["0.0003"]
    assert list((tmp_path / "work" / "offsets").glob("*.npz"))
