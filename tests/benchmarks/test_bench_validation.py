"""``benchmarks/bench_validation.py --quick``: before and after side by side, the projection and
the FLOP counts written (no timing asserted)."""
from tests.support.benchmarks import run_benchmark


def test_bench_validation_quick(tmp_path):
    proc, data = run_benchmark("bench_validation.py", "--quick", "--device", "cpu", "--workers", "1",
                               json_path=tmp_path / "v.json")
    assert data["frames"] == 3 and data["frame"] == [64, 128] and data["model_args"]["blocks"] == 1
    assert data["before_s_per_frame"] > 0 and data["after_s_per_frame"] > 0 and data["train_step_s"] > 0
    assert data["ratio"] == data["before_s_per_frame"] / data["after_s_per_frame"]
    p = data["projection"]
    assert p["frames_after"] == 8400 and 0 < p["after_share"] < 1 and 0 < p["before_share"] < 1
    assert data["flops"]["train_step"] > data["flops"]["val_frame"] > 0
    assert "validation s/frame: before" in proc.stdout and "projected share" in proc.stdout
