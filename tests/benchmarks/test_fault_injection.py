"""benchmarks/fault_injection.py in quick mode: every fault caught (no timing asserted)."""
import pytest

from tests.support.benchmarks import run_benchmark


@pytest.mark.slow
def test_fault_injection_quick(tmp_path):
    r, data = run_benchmark("fault_injection.py", "--quick", json_path=tmp_path / "fi.json", json_flag="--out",
                            timeout=480)  # the hostile-input cases start ~30 processes
    res = data["results"]
    k, d, c, b = res["kills"], res["damage"], res["checkpoints"], res["bad_inputs"]
    assert k["samples_lost"] == k["samples_different"] == k["processes_left_after_kill"] == 0
    assert k["resumed_complete"] == k["verify_said_incomplete"] == k["kills"]
    assert d["detected_by_verify"] == d["detected_on_read"] == d["read_error_names_file"] == d["trials"]
    assert c["bit_flips_refused"] == c["bit_flips"] and c["crafted_code_ran"] == 0
    assert b["handled"] == b["kinds"], b["by_kind"]
    assert "bad input kinds handled" in r.stdout
    g = res["integrity"]  # stale shards, records, manifest edits, declared sizes, dtypes
    assert g["kinds"] >= 13 and g["handled"] == g["kinds"], g["by_kind"]
    assert res["rows"] and all(row["handled"] == row["cases"] for row in res["rows"]), res["rows"]
    h = res["hostile"]  # one line, exit status, and the bombs' peak RSS within 2x of a normal refine
    rows = [row for grp in h["groups"] for row in grp["rows"]]
    assert len(rows) >= 20 and all(row["handled"] for row in rows), [row for row in rows if not row["handled"]]
    ratios = [row["peak_ratio"] for row in rows if "peak_ratio" in row]
    assert len(ratios) >= 9 and max(ratios) <= h["peak_ratio_limit"]
    assert "hostile or careless input" in r.stdout
    rows = res["train_predict"]  # crafted specs, NaN weights, predict records, mistakes, kills
    assert len(rows) >= 7 and all(row["handled"] == row["cases"] for row in rows), rows
    assert rows[0]["max_ratio"] <= 2.0 and "training and prediction rows" in r.stdout
