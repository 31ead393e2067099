"""The one rule for names taken from untrusted files (manifests, records, frame stems).

A name is *plain* when it is a non-empty ``str`` naming a file directly inside a directory: no
``/``, ``\\`` or NUL, not absolute, and not hidden (no leading ``.``, so neither ``.`` nor ``..``
nor a name the build's temporary files could take). :func:`shard_path` (reading) and
:func:`output_path` (writing) both apply it; :func:`shard_path` also refuses a symbolic link that
resolves outside the directory.
"""
from __future__ import annotations

import os
from pathlib import Path

from .format import MANIFEST, ManifestError


def is_plain_name(name) -> bool:
    """True for a plain file name (see the module docstring): ``"a.h5"`` yes; ``""``, ``"."``,
    ``".."``, ``".hidden"``, ``"a/b"``, ``"a\\b"``, ``"/abs"``, a NUL character and non-strings no."""
    return (isinstance(name, str) and bool(name) and not name.startswith(".")
            and not any(c in name for c in "/\\\0") and not os.path.isabs(name))


def shard_path(root: str | os.PathLike, name) -> Path:
    """``root / name`` for a shard file name taken from a manifest, refused unless it stays inside.

    A manifest is untrusted input: ``name`` must be a plain file name (:func:`is_plain_name`) and
    must not be a symbolic link resolving outside ``root``. Raises :class:`ManifestError` naming
    ``root`` otherwise.
    """
    root = Path(root)
    if not is_plain_name(name):
        raise ManifestError(f"{root / MANIFEST}: shard path {name!r} is not a file name inside {root}; "
                            "refusing it (a manifest names its shards by file name only; rebuild the split)")
    path = root / name
    real, base = os.path.realpath(path), os.path.realpath(root)
    if os.path.commonpath([real, base]) != base:
        raise ManifestError(f"{path}: resolves to {real}, outside the split directory {root}; refusing it "
                            "(remove the link and rebuild the split)")
    return path


def output_path(dest: str | os.PathLike, *parts: str) -> Path:
    """``dest / parts...`` for names derived from a manifest or a frame stem, refused
    (:class:`ManifestError`) unless each part is a plain file name, so it stays inside ``dest``."""
    for p in parts:
        if not is_plain_name(p):
            raise ManifestError(f"{p!r}: not a plain file name; refusing to write outside {dest}")
    return Path(dest).joinpath(*parts)
