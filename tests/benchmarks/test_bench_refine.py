"""Smoke run of benchmarks/bench_refine.py --quick (no timing is asserted)."""
import json
import subprocess
import sys

from tests.support.paths import REPO as ROOT


def test_bench_refine_quick_runs_and_checks_identical_f(tmp_path):
    out = tmp_path / "b.json"
    proc = subprocess.run([sys.executable, "benchmarks/bench_refine.py", "--quick", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    assert data["boundary_f_identical"] is True
    assert [r["task"].split(" ")[0] for r in data["rows"]] == ["refine", "refine", "refine,", "boundary"]
    assert data["meta"]["numba_threads"] == 1 and data["meta"]["torch_threads"] == 1
