"""Smoke runs of benchmarks/bench_predict.py on a tiny frame (no timing is asserted). The CUDA
path differs from the CPU one only by channels-last, synchronisation and bf16 autocast; bf16 is
exercised here on the CPU."""
import sys

import numpy as np
import torch

from tests.support.benchmarks import run_benchmark
from tests.support.paths import REPO as ROOT


def test_bench_predict_runs_and_writes_json(tmp_path):
    proc, data = run_benchmark("bench_predict.py", "--device", "cpu", "--size", "96x64", "--models", "hrnet_w18",
                               "--threads", "1", "--repeats", "1", json_path=tmp_path / "b.json")
    assert data["settings"]["size"] == [96, 64] and data["machine"]["git_commit"]
    (row,) = data["results"]
    assert row["model"] == "hrnet_w18" and row["paper_v100_tensorrt_ms"] == 16.0 and row["ours_ms"] > 0
    assert "paper V100 TRT ms" in proc.stdout


def test_bf16_and_openseg_paths_run(monkeypatch):
    sys.path.insert(0, str(ROOT))
    from benchmarks import bench_predict

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        frame = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
        for amp, tester in (("bf16", "segfix"), ("off", "openseg")):
            row = bench_predict.bench("hrnet_w18", frame, torch.device("cpu"), amp, tester, 1)
            assert row["amp"] == amp and row["bare_ms"] > 0
    finally:
        torch.set_num_threads(n)
