"""The version is written once (``segfix_data/version.py``); the package metadata and the public
face read it from there; no module of ``segfix_data`` takes it from the package root
(``tests/segfix_data/test_import_contract.py``)."""
from __future__ import annotations

from tests.support.paths import REPO


def test_setup_cfg_reads_the_version_module():
    from setuptools.config.setupcfg import read_configuration

    from segfix_data.version import __version__

    assert read_configuration(REPO / "setup.cfg")["metadata"]["version"] == __version__

