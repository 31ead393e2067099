"""Smoke run of benchmarks/bench_refine.py --quick (no timing is asserted)."""
from tests.support.benchmarks import run_benchmark


def test_bench_refine_quick_runs_and_checks_identical_f(tmp_path):
    _, data = run_benchmark("bench_refine.py", "--quick", json_path=tmp_path / "b.json")
    assert data["boundary_f_identical"] is True
    assert [r["task"].split(" ")[0] for r in data["rows"]] == ["refine", "refine", "refine,", "boundary"]
    assert data["meta"]["numba_threads"] == 1 and data["meta"]["torch_threads"] == 1
