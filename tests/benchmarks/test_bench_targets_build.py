"""Smoke runs of benchmarks/bench_targets.py and bench_build.py --quick (no timing is asserted)."""
from tests.support.benchmarks import run_benchmark


def test_bench_targets_quick_checks_both_baselines_and_lists_the_edts(tmp_path):
    _, data = run_benchmark("bench_targets.py", "--quick", "--frames", "1", "--cases", "semantic;semantic, dense",
                            json_path=tmp_path / "t.json")
    assert set(data["summary"]) == {"semantic", "semantic, dense"}
    for row in data["rows"]:
        for filt in ("torch", "cv2") if "cv2_ms" in row else ("torch",):
            check = row[f"{filt}_check"]
            assert check["same_distance"] and check["same_boundary"]
            assert check["direction_agreement"] > 0.999
    for name, r in data["edt_summary"].items():
        assert r["max_abs_diff"] < 1e-4, name
    assert data["meta"]["numba_threads"] == 1 and data["meta"]["load_average_1_5_15m"]


def test_bench_build_quick_runs_every_config_and_read(tmp_path):
    """Keeps benchmarks/bench_build.py from rotting: every build row, the reads, the breakdown."""
    proc, data = run_benchmark("bench_build.py", "--quick", json_path=tmp_path / "b.json", json_flag="--out")
    assert {(b["config"], b["jobs"]) for b in data["builds"]} >= {("images, raw tiles (default)", 1),
                                                                  ("no images", 2)}
    assert all(b["targets_bytes_per_frame"] > 0 for b in data["builds"])
    assert "authors: per-class EDT+" in proc.stdout
    configs = [r["config"] for r in data["builds"]]
    assert "images, --codec zlib targets (format 1)" in configs and "images, PIL decode (no pyspng)" in configs
    assert any(k.startswith("128x128 crop (image, boundary, direction)") for k in data["reads_ms"])
    assert "semantic_targets, band 15 in one pass (the build)" in data["frame_breakdown_ms"]


def test_bench_build_cpu_time_profiles_every_stage_before_and_after(tmp_path):
    """--cpu-time: the per-stage rows of the build before and after the one-pass targets, side by
    side, from one run; both sides stored the same arrays."""
    proc, data = run_benchmark("bench_build.py", "--quick", "--cpu-time", "--frames", "1",
                               json_path=tmp_path / "b.json", json_flag="--out")
    assert data["clock"] == "cpu"
    for name in ("images, raw tiles (default)", "no images"):
        p = data["stages_cpu_ms_per_frame"][name]
        assert p["same_arrays"]
        for side in ("before_ms", "after_ms"):
            stages = [k for k in p[side] if k != "total"]
            assert "targets" in stages and "source digests" in stages and "shard write (HDF5)" in stages
            assert abs(sum(p[side][k] for k in stages) - p[side]["total"]) < 1e-6  # rows add up
        assert f"build, {name}: CPU ms per frame by stage" in proc.stdout
