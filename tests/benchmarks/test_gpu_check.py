"""``benchmarks/gpu_check.py --device cpu --quick``: runs and writes every section (no timing asserted)."""
from tests.support.benchmarks import run_benchmark


def test_gpu_check_quick_on_cpu(tmp_path):
    proc, data = run_benchmark("gpu_check.py", "--device", "cpu", "--quick", json_path=tmp_path / "g.json")
    assert data["device"] == "cpu" and data["quick"] and data["machine"]["git_commit"]
    (train,) = data["train"]
    assert train["model"] == "hrnet_w18" and train["batch"] == 2 and train["img_per_s"] > 0
    assert train["amp"] == "off" and train["peak_mem_gib"] is None
    loader = data["loader"]
    assert loader["crops_per_s_per_worker"] > 0 and loader["workers_needed"] >= 1
    assert [(r["model"], r["amp"]) for r in data["predict"]] == [("hrnet_w18", "off"), ("hrnet_w18", "bf16")]
    assert all(r["paper_v100_tensorrt_ms"] == 16.0 and r["ours_ms"] > 0 for r in data["predict"])
    assert data["sync_check"] == {"status": "skipped (no CUDA)"}
    assert "sync check: skipped (no CUDA)" in proc.stdout and "crops/s per worker" in proc.stdout
