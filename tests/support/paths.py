"""Where the tests find the repository and the shared fixtures (``../shared`` beside the checkout).

The shared fixtures (the authors' files in ``fixtures/openseg_parity`` and ``fixtures/openseg_model``)
are not part of the repository. A test reaches them only through :func:`shared_path`, which skips
the test with one reason when they are absent (a fresh clone) and fails it instead when the
environment says CI (``CI=true``), where they must be present and the tests must run.
"""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
PARITY = "fixtures/openseg_parity"
MODEL = "fixtures/openseg_model"


def in_ci() -> bool:
    """True when ``CI`` is set to anything but ``""``, ``0`` or ``false`` (CI services set ``true``)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def shared_path(*parts: str) -> Path:
    """``SHARED / parts``; skips the calling test (fails it under CI) when that path is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = (f"needs the shared fixtures: {path} is missing (put ../shared beside the checkout; "
                  f"under CI=true this is a failure)")
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return path


def parity_dir() -> Path:
    """``../shared/fixtures/openseg_parity``: the authors' generator's outputs on real frames."""
    return shared_path(PARITY)


def model_dir() -> Path:
    """``../shared/fixtures/openseg_model``: the authors' network's keys, BN tensors and outputs."""
    return shared_path(MODEL)
