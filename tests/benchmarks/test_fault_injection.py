"""benchmarks/fault_injection.py in quick mode: every fault caught (no timing asserted)."""
import json
import subprocess
import sys

import pytest

from tests.support.paths import REPO


@pytest.mark.slow
def test_fault_injection_quick(tmp_path):
    out = tmp_path / "fi.json"
    r = subprocess.run([sys.executable, "benchmarks/fault_injection.py", "--quick", "--out", str(out)],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())["results"]
    k, d, c, b = res["kills"], res["damage"], res["checkpoints"], res["bad_inputs"]
    assert k["samples_lost"] == k["samples_different"] == k["processes_left_after_kill"] == 0
    assert k["resumed_complete"] == k["verify_said_incomplete"] == k["kills"]
    assert d["detected_by_verify"] == d["detected_on_read"] == d["read_error_names_file"] == d["trials"]
    assert c["bit_flips_refused"] == c["bit_flips"] and c["crafted_code_ran"] == 0
    assert b["handled"] == b["kinds"], b["by_kind"]
    assert "bad input kinds handled" in r.stdout
