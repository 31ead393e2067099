"""benchmarks/coarse_bias.py --quick: the earlier top-left maps are shifted 3.5 px, the block
majority not, and only on the latter do true directions beat a constant one."""
import pytest

from tests.support.benchmarks import run_benchmark


def test_coarse_bias_quick_shows_the_shift_and_its_effect(tmp_path):
    proc, data = run_benchmark("coarse_bias.py", "--quick", json_path=tmp_path / "cb.json")
    shift = data["rectangle_shift_px"]
    assert shift["top-left pixel"] == pytest.approx([3.5, 3.5])
    assert shift["middle pixel"] == pytest.approx([-0.5, -0.5])
    assert shift["block majority"] == pytest.approx([0.0, 0.0], abs=1e-9)
    new = data["gains"]["block majority"]
    assert new["true"]["delta_miou"] > 0 > new["constant down-right"]["delta_miou"]
    assert "block majority" in proc.stdout
