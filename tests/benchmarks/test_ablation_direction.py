"""Smoke run of benchmarks/ablation_direction.py --quick: one tiny model per --direction-pixels
mode, each scored by its refinement gain (no figure asserted: 2 iterations learn nothing)."""
import pytest

from tests.support.benchmarks import run_benchmark


@pytest.mark.slow
def test_ablation_direction_quick_trains_and_scores_each_mode(tmp_path):
    proc, data = run_benchmark("ablation_direction.py", "--quick", "--workdir", tmp_path / "work",
                               json_path=tmp_path / "results.json", env={"OMP_NUM_THREADS": "1"})
    results = data["results"]
    assert set(results) == {"predicted", "gt", "both"} and data["best_mode"] in results
    for mode, r in results.items():
        assert (tmp_path / "work" / f"run-{mode}" / "config.json").read_text().count(f'"{mode}"') == 1
        for key in ("model-like, scale 2", "model-like, scale 1", "oracle x8, scale 2", "oracle x8, scale 1"):
            assert set(r[key]) == {"coarse_miou", "delta_miou", "delta_f_1px", "delta_f_3px"}
        assert 0 <= r["predicted_boundary_in_gt_band"] <= r["predicted_boundary_in_direction_band"] <= 1
    # the same coarse maps for every mode: the baseline is shared
    assert len({r["oracle x8, scale 2"]["coarse_miou"] for r in results.values()}) == 1
    assert "d F@1px" in proc.stdout and "machine" in proc.stdout.lower()
