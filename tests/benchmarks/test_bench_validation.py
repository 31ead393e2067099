"""``benchmarks/bench_validation.py --quick``: before and after side by side, the projection and
the FLOP counts written (no timing asserted); with the stand-in network (the CPU's default) and
with a real one."""
import pytest

from tests.support.benchmarks import run_benchmark


@pytest.mark.parametrize("model", [[], ["--model", "hrnet_w18", "--tiny"]])
def test_bench_validation_quick(tmp_path, model):
    proc, data = run_benchmark("bench_validation.py", "--quick", "--device", "cpu", "--workers", "1", *model,
                               json_path=tmp_path / "v.json")
    assert data["frames"] == 3 and data["frame"] == [64, 128]
    assert data["before_s_per_frame"] > 0 and data["after_s_per_frame"] > 0
    assert data["ratio"] == data["before_s_per_frame"] / data["after_s_per_frame"]
    assert data["flops"]["train_step"] > data["flops"]["val_frame"] > 0
    assert data["flops"]["projection"]["frames_after"] == 8400 and data["flops"]["max_val_over_forward_for_5pct"] > 0
    assert "validation s/frame: before" in proc.stdout and "the 5% aim holds while" in proc.stdout
    if model:  # a real network: its training step and the projection on this device
        assert data["model_args"]["blocks"] == 1 and data["train_step_s"] > 0
        p = data["projection"]
        assert p["frames_after"] == 8400 and 0 < p["after_share"] < 1 and 0 < p["before_share"] < 1
        assert "projected share" in proc.stdout
    else:
        assert data["model"] == "stub" and data["projection"] is None and data["train_step_s"] is None
