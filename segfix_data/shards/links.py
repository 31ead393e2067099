"""Refuse HDF5 objects that could read outside a shard file (links, external and virtual storage)."""
from __future__ import annotations

import h5py

from .format import ManifestError


def check_hdf5_file(f: h5py.File, path) -> None:
    """Refuse HDF5 content that could read outside the file: soft and external links, datasets
    with external storage and virtual datasets. Raises :class:`ManifestError` naming the object."""
    seen = set()

    def walk(group: h5py.Group, prefix: str) -> None:
        for name in group:
            full = f"{prefix}/{name}"
            link = group.get(name, getlink=True)
            if not isinstance(link, h5py.HardLink):
                raise ManifestError(f"{path}: {full} is a {type(link).__name__} (soft and external "
                                    "links are refused in shard files); rebuild the shard")
            obj = group[name]
            key = hash(obj.id)  # h5py hashes an object by file and address: hard-link cycles end
            if key in seen:
                continue
            seen.add(key)
            if isinstance(obj, h5py.Group):
                walk(obj, full)
            elif isinstance(obj, h5py.Dataset) and (obj.external or obj.is_virtual):
                kind = "external storage" if obj.external else "virtual sources"
                raise ManifestError(f"{path}: dataset {full} has {kind}, which could read other files; "
                                    "refusing it (rebuild the shard)")

    walk(f, "")
