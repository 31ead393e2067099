"""Fixtures and hypothesis profiles shared by every test; helpers live in ``tests/support/``."""
import os

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=60, deadline=None)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def cityscapes_dir(tmp_path):
    """A 5-train / 2-val Cityscapes layout of 64x128 frames (tests/support/build_data.py)."""
    from tests.support.build_data import write_cityscapes

    return write_cityscapes(tmp_path / "cs")
