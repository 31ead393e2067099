"""Smoke runs of benchmarks/bench_targets.py and bench_build.py --quick (no timing is asserted)."""
import json
import subprocess
import sys

from tests.support.paths import REPO as ROOT


def test_bench_targets_quick_checks_both_baselines_and_lists_the_edts(tmp_path):
    out = tmp_path / "t.json"
    proc = subprocess.run([sys.executable, "benchmarks/bench_targets.py", "--quick", "--frames", "1",
                           "--cases", "semantic;semantic, dense", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
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
    out = tmp_path / "b.json"
    proc = subprocess.run([sys.executable, "benchmarks/bench_build.py", "--quick", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    configs = [r["config"] for r in data["builds"]]
    assert "images, --codec zlib targets (format 1)" in configs and "images, PIL decode (no pyspng)" in configs
    assert any(k.startswith("128x128 crop (image, boundary, direction)") for k in data["reads_ms"])
    assert "semantic_targets, distance_bound (the build)" in data["frame_breakdown_ms"]
