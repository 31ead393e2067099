"""Smoke run of benchmarks/ablation_direction.py --quick: one tiny model per --direction-pixels
mode and seed, each scored by its refinement gain and its boundary head, summarised over seeds
(no figure asserted: 2 iterations learn nothing)."""
import subprocess
import sys

import numpy as np
import pytest

from tests.support.benchmarks import run_benchmark
from tests.support.paths import REPO

CELLS = ("model-like, scale 2", "model-like, scale 1", "block majority x8, scale 2", "block majority x8, scale 1")
GAINS = ("delta_miou", "delta_f_1px", "delta_f_3px")


@pytest.mark.slow
def test_ablation_direction_quick_trains_and_scores_each_mode_and_seed(tmp_path):
    proc, data = run_benchmark("ablation_direction.py", "--quick", "--workdir", tmp_path / "work",
                               json_path=tmp_path / "results.json", env={"OMP_NUM_THREADS": "1"})
    results, summary = data["results"], data["summary"]
    assert set(results) == {"predicted", "gt", "both"} == set(summary)
    for mode, by_seed in results.items():
        assert set(by_seed) == {"0", "1"}
        for seed, r in by_seed.items():
            assert (tmp_path / "work" / f"run-{mode}-s{seed}" / "config.json").read_text().count(f'"{mode}"') == 1
            for key in CELLS:
                assert set(r[key]) == {"coarse_miou", *GAINS}
            assert 0 <= r["predicted_boundary_in_gt_band"] <= r["predicted_boundary_in_direction_band"] <= 1
            assert 0 <= r["boundary_f"] <= 1
        # the summary is the mean and sample sd over the seeds, the paired difference to predicted
        for key in CELLS:
            for g in GAINS:
                v = [by_seed[s][key][g] for s in ("0", "1")]
                s = summary[mode][f"{key}: {g}"]
                assert s["n"] == 2 and s["mean"] == pytest.approx(np.mean(v)) and s["sd"] == pytest.approx(np.std(v, ddof=1))
                if mode != "predicted":
                    d = [by_seed[k][key][g] - results["predicted"][k][key][g] for k in ("0", "1")]
                    assert summary[mode][f"{key}: {g} minus predicted"]["mean"] == pytest.approx(np.mean(d))
    # the same coarse maps for every mode and seed: the baseline is shared
    assert len({r[key]["coarse_miou"] for by_seed in results.values() for r in by_seed.values()
                for key in CELLS[2:3]}) == 1
    ref = data["references"]
    assert ref["gt offsets"]["block majority x8, scale 2"]["delta_miou"] > \
        ref["gt boundary, constant down-right"]["block majority x8, scale 2"]["delta_miou"]
    assert "d F@1px" in proc.stdout and "machine" in proc.stdout.lower()
    md = subprocess.run([sys.executable, "benchmarks/ablation_direction.py", "--markdown-from", str(tmp_path / "results.json")],
                        cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert md.count("| predicted (n=2) |") == 1 and md.count("| | gt | ") == len(CELLS)
