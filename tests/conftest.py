import os
import sys

import numpy as np
import pytest
from hypothesis import settings

sys.path.insert(0, os.path.dirname(__file__))

settings.register_profile("ci", max_examples=60, deadline=None)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared")
PARITY_DIR = os.path.join(SHARED, "fixtures", "openseg_parity")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def cityscapes_dir(tmp_path):
    """A 5-train / 2-val Cityscapes layout of 64x128 frames (tests/build_data.py)."""
    from build_data import write_cityscapes

    return write_cityscapes(tmp_path / "cs")
