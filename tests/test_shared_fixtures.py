"""The shared fixtures (``../shared``) are optional on a fresh clone and required under CI.

A test reaches them only through ``tests.support.paths.shared_path``: absent, it skips with one
reason naming the missing path; under ``CI=true`` it fails instead, so CI cannot pass by skipping.
"""
import pytest

from tests.support import openseg_model, paths


def _outcome(fn):
    """The pytest outcome (skip or fail exception) that ``fn()`` raises; a skip inside a test
    would otherwise skip that test, and a planted "skip under CI" would pass unseen."""
    try:
        fn()
    except (pytest.skip.Exception, pytest.fail.Exception) as exc:
        return exc
    raise AssertionError("neither skipped nor failed")


@pytest.fixture
def no_shared(monkeypatch, tmp_path):
    monkeypatch.setattr(paths, "SHARED", tmp_path / "shared")
    monkeypatch.delenv("CI", raising=False)


def test_missing_shared_skips_with_one_reason_naming_the_path(no_shared, tmp_path):
    out = _outcome(lambda: openseg_model.fixture_path("hrnet18_keys.json"))
    assert isinstance(out, pytest.skip.Exception) and "needs the shared fixtures" in str(out)
    assert str(tmp_path / "shared" / "fixtures" / "openseg_model") in str(out)
    out = _outcome(paths.parity_dir)
    assert isinstance(out, pytest.skip.Exception) and "openseg_parity" in str(out)


@pytest.mark.parametrize("value", ["true", "1", "True"])
def test_missing_shared_fails_under_ci(no_shared, monkeypatch, value):
    monkeypatch.setenv("CI", value)
    out = _outcome(lambda: openseg_model.fixture_path("hrnet18_keys.json"))
    assert isinstance(out, pytest.fail.Exception) and "needs the shared fixtures" in str(out)


@pytest.mark.parametrize("value", ["", "0", "false"])
def test_ci_unset_or_false_still_skips(no_shared, monkeypatch, value):
    monkeypatch.setenv("CI", value)
    assert isinstance(_outcome(paths.model_dir), pytest.skip.Exception)


def test_present_shared_is_returned(monkeypatch, tmp_path):
    (tmp_path / "fixtures" / "openseg_parity").mkdir(parents=True)
    monkeypatch.setattr(paths, "SHARED", tmp_path)
    monkeypatch.setenv("CI", "true")
    assert paths.parity_dir() == tmp_path / "fixtures" / "openseg_parity"
