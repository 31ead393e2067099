"""The shard reader, :class:`ShardSet`: windows of a split's samples, every refusal of untrusted input."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import h5py
import numpy as np

from .codec import decode_boundary_direction, derive_window
from .format import DEFAULT_FIELDS, FORMAT_VERSION, MANIFEST, VARIANTS, ManifestError, ShardReadError
from .links import check_hdf5_file
from .manifest import load_manifest
from .paths import shard_path


class ShardSet:
    """Read the samples of ``OUT_DIR/<split>`` (built by ``segfix-gt build``).

    HDF5 files are opened lazily and per process, so a ShardSet may be passed to DataLoader
    workers (fork or spawn) and used after a fork.

    The manifest is untrusted input: shard paths must stay inside the split directory
    (:func:`shard_path`), a shard file with links or external storage is refused
    (:func:`check_hdf5_file`), and each shard's own records must agree with the manifest (stem,
    index, shape, checksums) when it is first opened (:class:`ManifestError`). Every stored chunk
    carries a Fletcher-32 sum checked by HDF5 on read: damaged data raises
    :class:`ShardReadError` naming the shard file, the sample and ``segfix-gt verify``.

    Attributes:
        manifest: the split's manifest.json as a dict.
        samples: one dict per sample: ``stem``, ``shape`` [H, W], ``shard``, ``index``, ``sources``
            (image/label/instance paths), ``checksums``...
        params: the build parameters (``variant``, ``variants``, ``preset``, ``num_directions``...).

    Example::

        ds = ShardSet("shards", "train")
        crop = ds.read(0, window=(100, 200, 512, 512))   # image, label, semantic boundary/direction
    """

    def __init__(self, out_dir: str | os.PathLike, split: str, *, cache_bytes: int = 4 << 20) -> None:
        self.cache_bytes = int(cache_bytes)  # HDF5 chunk cache per open dataset
        self.root = Path(out_dir) / split
        path = self.root / MANIFEST
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no manifest; build the split with `segfix-gt build` "
                                    "(an interrupted build publishes it only at the end: rerun it)")
        self.manifest = load_manifest(path)
        if int(self.manifest.get("format_version", 1)) > FORMAT_VERSION:
            raise ValueError(f"{path}: shard format {self.manifest['format_version']} is newer than "
                             f"this segfix reads ({FORMAT_VERSION}); upgrade segfix")
        self.samples = self.manifest["samples"]
        self.params = self.manifest["params"]
        self._index = {s["stem"]: i for i, s in enumerate(self.samples)}
        self._by_shard: dict = {}
        for i, s in enumerate(self.samples):
            self._by_shard.setdefault(s["shard"], []).append(i)
        for name in self._by_shard:  # refuse escaping paths before anything is opened
            shard_path(self.root, name)
        self._files: dict = {}
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self.samples)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_files"] = {}
        return state

    def index_of(self, stem: str) -> int:
        """Sample index of a stem; KeyError naming the split if absent."""
        if stem not in self._index:
            raise KeyError(f"no sample {stem!r} in {self.root}")
        return self._index[stem]

    def _file(self, shard: str) -> h5py.File:
        if os.getpid() != self._pid:  # after a fork: never share HDF5 handles with the parent
            self._files, self._pid = {}, os.getpid()
        f = self._files.get(shard)
        if f is None:
            path = shard_path(self.root, shard)
            f = h5py.File(path, "r", rdcc_nbytes=self.cache_bytes)
            try:
                check_hdf5_file(f, path)
                self._check_records(f, path, shard)
            except BaseException:
                f.close()
                raise
            self._files[shard] = f
        return f

    def _check_records(self, f: h5py.File, path: Path, shard: str) -> None:
        """The shard's own records must describe the manifest's samples at their indices."""
        try:
            records = json.loads(f["records"][()].tobytes().decode())["samples"]
        except Exception as exc:
            raise ShardReadError(f"{path}: cannot read its records ({type(exc).__name__}: {exc}); the shard "
                                 f"is damaged: run `segfix-gt verify {self.root.parent}` and rerun the build "
                                 "to rebuild it") from None
        by_index = {r.get("index"): r for r in records if isinstance(r, dict)}
        for i in self._by_shard.get(shard, ()):
            s = self.samples[i]
            r = by_index.get(s["index"])
            if r is None or any(r.get(k) != s.get(k) for k in ("stem", "shape", "checksums")):
                held = r.get("stem") if r else "nothing"
                raise ManifestError(f"{self.root / MANIFEST}: sample {i} ({s['stem']}) is {shard} index "
                                    f"{s['index']}, but {path} holds {held} there; the manifest was "
                                    "edited or mixed with other shards: rebuild the split")

    def group(self, i: int) -> h5py.Group:
        """The HDF5 group of sample ``i``."""
        s = self.samples[i]
        try:
            return self._file(s["shard"])[f"samples/{s['index']:05d}"]
        except (OSError, KeyError) as exc:
            raise ShardReadError(self._damaged(i, "the sample group", exc)) from None

    def _damaged(self, i: int, what: str, exc: BaseException) -> str:
        s = self.samples[i]
        detail = str(exc).strip() or type(exc).__name__
        return (f"{self.root / s['shard']}: sample {i} ({s['stem']}, index {s['index']} in the shard): "
                f"cannot read {what}: a stored chunk failed its Fletcher-32 check or did not decode "
                f"({detail}); the shard file is damaged: run "
                f"`segfix-gt verify {self.root.parent}` and rerun the same `segfix-gt build` to rebuild it")

    def read(self, i: int, fields=DEFAULT_FIELDS, window=None) -> dict:
        """Read fields of sample ``i``, whole or a window.

        Args:
            i: sample index (0 <= i < len(self)).
            fields: names among ``image``, ``label``, ``<variant>/distance``, ``<variant>/boundary``,
                ``<variant>/direction``, ``instance/segments``, ``<variant>/openseg_depth``,
                ``<variant>/openseg_dir_deg``.
            window: None for the whole sample, or ``(y0, x0, h, w)`` in pixels inside the image.

        Returns:
            {field: array}: image uint8 (h, w, 3); label uint8; distance float32 (pixels);
            boundary, direction uint8; segments int32.
        """
        if not 0 <= i < len(self.samples):
            raise IndexError(f"sample {i} out of range 0..{len(self.samples) - 1} in {self.root}")
        if isinstance(fields, str):
            fields = (fields,)
        H, W = self.samples[i]["shape"]
        if window is None:
            window = (0, 0, H, W)
        y0, x0, h, w = (int(v) for v in window)
        if h < 1 or w < 1 or y0 < 0 or x0 < 0 or y0 + h > H or x0 + w > W:
            raise ValueError(f"window {tuple(window)} (y0, x0, h, w) is not inside sample {i} "
                             f"of shape ({H}, {W})")
        g = self.group(i)
        out, codes = {}, {}
        for field in fields:
            try:
                out[field] = self._read_field(g, i, field, (y0, x0, h, w), codes)
            except OSError as exc:  # HDF5: Fletcher-32 mismatch, undecodable chunk, truncated file
                raise ShardReadError(self._damaged(i, field, exc)) from None
        return out

    def _read_field(self, g: h5py.Group, i: int, field: str, window, codes: dict) -> np.ndarray:
        y0, x0, h, w = window
        sl = (slice(y0, y0 + h), slice(x0, x0 + w))
        variant, _, name = field.partition("/")
        if name in ("boundary", "direction") and f"{variant}/boundary_direction" in g:
            if variant not in codes:
                codes[variant] = decode_boundary_direction(g[f"{variant}/boundary_direction"][sl])
            return codes[variant][0 if name == "boundary" else 1]
        if field in g:
            return g[field][sl]
        if field == "image" and "image_file" in g:
            from PIL import Image

            with Image.open(io.BytesIO(g["image_file"][()].tobytes())) as im:
                return np.asarray(im.convert("RGB"))[sl]
        if name == "distance" and variant in VARIANTS:
            source = "label" if variant == "semantic" else "instance/segments"
            if source in g:
                info = self.samples[i]["distance"][variant]
                return derive_window(g[source], window, info["ignore_value"], info["cap"],
                                      info["border_is_boundary"])
        raise KeyError(f"field {field!r} is not stored in sample {i} ({self.samples[i]['stem']}) "
                       f"of {self.root}; built with variant={self.params.get('variant')!r}, "
                       f"images={self.params.get('images')!r}")

    def close(self) -> None:
        """Close the open HDF5 files (they reopen on the next read)."""
        for f in self._files.values():
            try:
                f.close()
            except Exception:
                pass
        self._files = {}

    def __del__(self):
        if getattr(self, "_pid", None) == os.getpid():
            self.close()
