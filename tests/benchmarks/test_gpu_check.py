"""``benchmarks/gpu_check.py --dry-run`` (the CPU, tiny sizes): every section runs and is written
(no timing asserted), so that the check is right by construction before a GPU runs it; the sync
counter and the projection against hand-made inputs."""
import warnings

import pytest

from tests.support.benchmarks import run_benchmark


def test_gpu_check_dry_run_on_cpu(tmp_path):
    proc, data = run_benchmark("gpu_check.py", "--dry-run", json_path=tmp_path / "g.json")
    assert data["device"] == "cpu" and data["quick"] and data["machine"]["git_commit"]
    (train,) = data["train"]
    assert train["model"] == "hrnet_w18" and train["batch"] == 2 and train["img_per_s"] > 0
    assert train["amp"] == "off" and train["peak_mem_gib"] is None and train["step_s"] > 0
    (e2e,) = data["end_to_end"]  # segfix train itself, 2 DataLoader workers
    assert e2e["workers"] == 2 and e2e["img_per_s"] > 0 and 0 <= e2e["gpu_idle_share"] <= 1
    assert data["checkpoint"]["write_s"] > 0 and data["checkpoint"]["mib"] > 0
    val = data["validation"]
    assert [(r["set"], r["frame"]) for r in val["rows"]] == [("cs", [64, 128]), ("odd", [37, 53])]
    assert all(r["s_per_frame"] > 0 and r["first_pass_s_per_frame"] > 0 for r in val["rows"])
    assert val["rows"][0]["before_s_per_frame"] > 0
    assert val["projection"]["frames_after"] == 79 * 100 + 500 and val["projection"]["frames_before"] == 80 * 500
    syncs = {r["case"]: r for r in data["host_syncs"]}
    assert list(syncs) == ["gt", "predicted", "both", "accum2", "fp16"]
    assert syncs["fp16"]["amp"] == "fp16" and syncs["accum2"]["accum"] == 2
    assert all(r["syncs"] is None and r["note"] == "not measured (CUDA only)" for r in syncs.values())
    prec = data["precision"]
    assert len(prec["fp32"]) == len(prec["bf16"]) == prec["steps"] == 2 and prec["max_abs_diff"] >= 0
    loader = data["loader"]
    assert loader["crops_per_s_per_worker"] > 0 and loader["workers_needed"] >= 1
    assert [(r["model"], r["amp"]) for r in data["predict"]] == [("hrnet_w18", "off"), ("hrnet_w18", "bf16")]
    assert all(r["paper_v100_tensorrt_ms"] == 16.0 and r["ours_ms"] > 0 for r in data["predict"])
    assert data["sync_check"] == {"status": "skipped (no CUDA)"}
    assert set(data["seconds"]) == {"data", "train", "end_to_end", "checkpoint", "validation", "host_syncs", "precision",
                                    "loader", "predict", "sync_check"}
    assert "sync check: skipped (no CUDA)" in proc.stdout and "crops/s per worker" in proc.stdout


def test_sync_counter_counts_cudas_sync_warnings_only():
    from benchmarks.gpu_check import count_sync_warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for msg in ("called a synchronizing CUDA operation", "something else", "called a synchronizing CUDA operation"):
            warnings.warn(msg, UserWarning)
    assert count_sync_warnings(caught) == 2


def test_projection_at_the_recipes_defaults():
    """80 validations of an 80000-step run: before, 80 passes over the 500 frames; after, 79
    passes over the 100-frame subset and one over the 500 frames."""
    from benchmarks.bench_validation import projection

    p = projection(step_s=0.5, before_s=0.4, steady_s=0.05, final_s=0.08)
    assert p["train_s"] == 40000.0
    assert p["before_val_s"] == pytest.approx(80 * 500 * 0.4)
    assert p["after_val_s"] == pytest.approx(79 * 100 * 0.05 + 500 * 0.08)
    assert p["after_share"] == pytest.approx(435 / 40435)
