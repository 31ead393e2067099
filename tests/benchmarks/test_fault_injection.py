"""benchmarks/fault_injection.py in quick mode: every fault caught (no timing asserted)."""
import pytest

from tests.support.benchmarks import run_benchmark


@pytest.mark.slow
def test_fault_injection_quick(tmp_path):
    r, data = run_benchmark("fault_injection.py", "--quick", json_path=tmp_path / "fi.json", json_flag="--out",
                            timeout=300)
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
