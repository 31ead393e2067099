"""Smoke run of benchmarks/demo_trained.py: generate -> build -> train -> predict -> refine -> score.

The full run (benchmarks/RESULTS.md) trains for minutes; here a few iterations only keep the
pipeline from rotting, and the ground-truth-offset row must still show the Table 1 effect.
"""
import pytest

from tests.support.benchmarks import run_benchmark


@pytest.mark.slow
def test_demo_trained_pipeline_runs(tmp_path):
    _, data = run_benchmark("demo_trained.py", "--iters", 3, "--train-frames", 2, "--val-frames", 1,
                            "--height", 256, "--width", 512, "--crop", 64, "--batch", 2,
                            "--workdir", tmp_path / "work", json_path=tmp_path / "results.json",
                            env={"OMP_NUM_THREADS": "1"})
    results = data["results"]
    assert set(results) == {"w/o SegFix", "trained model, scale 1", "trained model, scale 2",
                            "GT offsets, scale 2"}
    base, gt = results["w/o SegFix"], results["GT offsets, scale 2"]
    assert gt["miou"] > base["miou"] and gt["boundary_f"]["0.0003"] > base["boundary_f"]["0.0003"]
    assert list((tmp_path / "work" / "offsets").glob("*.npz"))
