"""Smoke run of benchmarks/bench_refine.py --quick (no timing is asserted)."""
from tests.support.benchmarks import run_benchmark


def test_bench_refine_quick_runs_and_checks_identical_f(tmp_path):
    _, data = run_benchmark("bench_refine.py", "--quick", json_path=tmp_path / "b.json")
    assert data["boundary_f_identical"] is True
    assert data["boundary_iou_identical"] is True and data["trimap_identical"] is True
    assert [r["task"].split(" ")[0] for r in data["rows"]] == ["refine", "refine", "refine,", "boundary",
                                                                "Boundary", "trimap"]
    assert data["biou_d_px"] == 11 and set(data["region_scores"]) == {"coarse", "refined"}
    assert data["meta"]["numba_threads"] == 1 and data["meta"]["torch_threads"] == 1
