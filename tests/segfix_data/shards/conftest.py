"""Fixtures shared by the shard tests."""
from __future__ import annotations

import pytest

from segfix_data.shards import BuildConfig, build_split
from tests.support.build_data import write_cityscapes


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """A 3-frame Cityscapes-layout train split (40x72 pixels), raw image tiles (the default), 2
    shards of tiles 16, built once: tests that damage or edit it work on a copy."""
    root = tmp_path_factory.mktemp("three_frame_split")
    data = write_cityscapes(root / "cs", {"train": 3}, 40, 72)
    build_split(data, root / "out", "train", BuildConfig(shard_size=2, tile=16))
    return root / "out"
