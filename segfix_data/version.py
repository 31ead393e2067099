"""The package version: the one place it is written (``setup.cfg`` reads it from here).

Recorded by the shard build (``params["tool_version"]``, the manifest's ``tool_version``) and shown by
``segfix --version`` / ``segfix-gt --version``.
"""
__version__ = "0.1.0"
