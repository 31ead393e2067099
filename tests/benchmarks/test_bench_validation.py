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
    assert set(data["host_parts_s_per_frame"]) == {"read", "normalise", "score_both", "score_refined"}
    assert data["host_projection"]["frames_after"] == 8400
    if model:  # a real network: its training step and the projection on this device
        assert data["model_args"]["blocks"] == 1 and data["train_step_s"] > 0
        p = data["projection"]
        assert p["frames_after"] == 8400 and 0 < p["after_share"] < 1 and 0 < p["before_share"] < 1
        assert "projected share" in proc.stdout
    else:
        assert data["model"] == "stub" and data["projection"] is None and data["train_step_s"] is None


def test_host_projection_adds_the_host_before_and_overlaps_it_after():
    """Forward 0.1 s, step 6 forwards; host parts read 0.1, normalise 0.05, both scores 0.2,
    refined score 0.3 s: before a frame takes 0.45 s; after, with 2 workers, max(0.1, 0.05, 0.15)."""
    from benchmarks.bench_validation import host_projection

    host = {"read": 0.1, "normalise": 0.05, "score_both": 0.2, "score_refined": 0.3}
    p = host_projection(host, 2, 0.1, 6.0)
    assert p["before_s_per_frame"] == pytest.approx(0.45) and p["after_s_per_frame"] == pytest.approx(0.15)
    assert p["train_s"] == pytest.approx(80000 * 0.6)
    assert p["after_val_s"] == pytest.approx((79 * 100 + 500) * 0.15)
    assert p["before_val_s"] == pytest.approx(80 * 500 * 0.45)
