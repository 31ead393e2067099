"""The shard reader, :class:`ShardSet`: windows of a split's samples, every refusal of untrusted input."""
from __future__ import annotations

import io
import os
from pathlib import Path

import h5py
import numpy as np

from .codec import decode_boundary_direction, decode_direction_band, derive_window
from segfix_data.errors import InputError
from .format import (DEFAULT_FIELDS, FORMAT_VERSION, MANIFEST, VARIANTS, ManifestError, ShardReadError,
                     check_dataset, distance_ignore_index)
from .links import check_hdf5_file
from .manifest import check_records, load_manifest, records_of
from .paths import shard_path


class ShardSet:
    """Read the samples of ``OUT_DIR/<split>`` (built by ``segfix-gt build``).

    HDF5 files are opened lazily and per process, so a ShardSet may be passed to DataLoader
    workers (fork or spawn) and used after a fork.

    The manifest is untrusted input: shard paths must stay inside the split directory
    (:func:`shard_path`), a shard file with links or external storage is refused
    (:func:`check_hdf5_file`), and each shard's own records must agree with the manifest (the
    build parameters, each sample's whole record) when it is first opened (:class:`ManifestError`;
    the first shard is opened by the constructor unless ``open_first`` is False, so edited
    parameters are refused before they are used). Only the datasets a sample's record lists are
    read, each checked against the format's dtype and the sample's shape first. Every stored chunk
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

    def __init__(self, out_dir: str | os.PathLike, split: str, *, cache_bytes: int = 4 << 20,
                 open_first: bool = True) -> None:
        self.cache_bytes = int(cache_bytes)  # HDF5 chunk cache per open dataset
        self.root = Path(out_dir) / split
        path = self.root / MANIFEST
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no manifest; build the split with `segfix-gt build` "
                                    "(an interrupted build publishes it only at the end: rerun it)")
        self.manifest = load_manifest(path)
        if int(self.manifest.get("format_version", 1)) > FORMAT_VERSION:
            raise InputError(f"{path}: shard format {self.manifest['format_version']} is newer than "
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
        if open_first and self.samples:  # the build parameters a shard records, before anyone
            try:                            # uses self.params (e.g. a trainer's num_directions)
                self._file(self.samples[0]["shard"])
            except ManifestError:
                raise
            except Exception:  # damage: reported where it is read, and by `segfix-gt verify`
                pass
            finally:
                self.close()

    def __len__(self) -> int:
        return len(self.samples)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_files"] = {}
        return state

    def index_of(self, stem: str) -> int:
        """Sample index of a stem or of its frame key (``aachen_000000_000019`` for the stem
        ``aachen_000000_000019_leftImg8bit``, :func:`segfix_data.datasets.frame.frame_key`).

        Raises:
            KeyError: no such sample (or a key several stems share); the message names the split
                and the closest stems.
        """
        if stem in self._index:
            return self._index[stem]
        from segfix_data.datasets.frame import frame_key

        by_key = [i for i, s in enumerate(self.samples) if frame_key(s["stem"]) == stem]
        if len(by_key) == 1:
            return by_key[0]
        if by_key:
            raise KeyError(f"frame key {stem!r} is shared by the samples "
                           f"{', '.join(self.samples[i]['stem'] for i in by_key[:5])} in {self.root}; "
                           "give the whole stem")
        import difflib

        names = list(self._index)
        close = difflib.get_close_matches(stem, names, n=3, cutoff=0.5)
        if not close:
            close = difflib.get_close_matches(stem, [frame_key(n) for n in names], n=3, cutoff=0.5)
        listed = f"closest: {', '.join(close)}" if close else f"for example {', '.join(names[:3])}"
        raise KeyError(f"no sample {stem!r} in {self.root} ({len(names)} samples; {listed})")

    def _file(self, shard: str) -> h5py.File:
        if os.getpid() != self._pid:  # after a fork: never share HDF5 handles with the parent
            self._files, self._pid = {}, os.getpid()
        f = self._files.get(shard)
        if f is None:
            path = shard_path(self.root, shard)
            if not path.is_file():
                raise ShardReadError(f"{path}: shard file missing (the manifest lists it); run "
                                     f"`segfix-gt verify {self.root.parent}` and rerun the same "
                                     "`segfix-gt build` to rebuild it")
            try:
                f = h5py.File(path, "r", rdcc_nbytes=self.cache_bytes)
            except OSError as exc:  # truncated, overwritten, not HDF5 at all
                raise ShardReadError(f"{path}: cannot open the shard file as HDF5 ({str(exc).strip()}); it is "
                                     f"damaged: run `segfix-gt verify {self.root.parent}` and rerun the "
                                     "same `segfix-gt build` to rebuild it") from None
            try:
                check_hdf5_file(f, path)
                self._check_records(f, path, shard)
            except BaseException:
                f.close()
                raise
            self._files[shard] = f
        return f

    def _check_records(self, f: h5py.File, path: Path, shard: str) -> None:
        """The shard's own records must hold the manifest's build parameters and, at each index,
        the manifest's sample record (:func:`~segfix_data.shards.manifest.check_records`)."""
        try:
            records = records_of(f, path)
        except Exception as exc:
            raise ShardReadError(f"{path}: cannot read its records ({type(exc).__name__}: {exc}); the shard "
                                 f"is damaged: run `segfix-gt verify {self.root.parent}` and rerun the build "
                                 "to rebuild it") from None
        check_records(records, self.manifest, self._by_shard.get(shard, ()), shard, path, self.root)

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
                ``<variant>/direction``, ``<variant>/direction_band`` (the direction on the whole
                direction band, format 3; older shards: on the boundary only), ``instance/segments``,
                ``<variant>/openseg_depth``, ``<variant>/openseg_dir_deg``.
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
            raise InputError(f"window {tuple(window)} (y0, x0, h, w) is not inside sample {i} "
                             f"of shape ({H}, {W})")
        g = self.group(i)
        out, codes = {}, {}
        for field in fields:
            try:
                out[field] = self._read_field(g, i, field, (y0, x0, h, w), codes)
            except OSError as exc:  # HDF5: Fletcher-32 mismatch, undecodable chunk, truncated file
                raise ShardReadError(self._damaged(i, field, exc)) from None
        return out

    def _dataset(self, g: h5py.Group, i: int, name: str):
        """The stored dataset ``name`` of sample ``i``, or None if the build did not store it.

        Only the datasets the sample's record lists (its ``checksums``) are used, each checked
        against the format's dtype and the sample's shape before any data is read
        (:func:`~segfix_data.shards.format.check_dataset`).
        """
        s = self.samples[i]
        if name not in s.get("checksums", {}):
            return None
        ds = g.get(name)
        where = f"{self.root / s['shard']}: sample {i} ({s['stem']})"
        if ds is None:
            raise ShardReadError(f"{where}: {name} is missing although the manifest lists it; the shard "
                                 f"file is damaged: run `segfix-gt verify {self.root.parent}` and rerun "
                                 "the same `segfix-gt build` to rebuild it")
        check_dataset(ds, name, s["shape"], where)
        return ds

    def _read_field(self, g: h5py.Group, i: int, field: str, window, codes: dict) -> np.ndarray:
        y0, x0, h, w = window
        sl = (slice(y0, y0 + h), slice(x0, x0 + w))
        variant, _, name = field.partition("/")
        if name in ("boundary", "direction", "direction_band"):
            code = self._dataset(g, i, f"{variant}/boundary_direction")
            if code is not None:
                if variant not in codes:
                    codes[variant] = code[sl]
                if name == "direction_band":  # format 3 (docs/shards.md, "The format"); older shards: the boundary's
                    return decode_direction_band(codes[variant])
                if variant + "/decoded" not in codes:
                    codes[variant + "/decoded"] = decode_boundary_direction(codes[variant])
                return codes[variant + "/decoded"][0 if name == "boundary" else 1]
            if name == "direction_band":  # format 1 stored the boundary's direction plane
                field = f"{variant}/direction"
        ds = self._dataset(g, i, field)
        if ds is not None:
            return ds[sl]
        raw = self._dataset(g, i, "image_file") if field == "image" else None
        if raw is not None:
            return self._decode_image_file(raw, i)[sl]
        if name == "distance" and variant in VARIANTS:
            source = self._dataset(g, i, "label" if variant == "semantic" else "instance/segments")
            if source is not None:
                info = self.samples[i]["distance"][variant]
                return derive_window(source, window, distance_ignore_index(info), info["cap"],
                                     info["border_is_boundary"])
        raise KeyError(f"field {field!r} is not stored in sample {i} ({self.samples[i]['stem']}) "
                       f"of {self.root}; built with variant={self.params.get('variant')!r}, "
                       f"images={self.params.get('images')!r}")

    def _decode_image_file(self, raw: h5py.Dataset, i: int) -> np.ndarray:
        """RGB uint8 (H, W, 3) of a stored image file, its declared size checked against the
        sample's shape from the header before the pixels are decoded."""
        from PIL import Image

        s = self.samples[i]
        with Image.open(io.BytesIO(raw[()].tobytes())) as im:
            if im.size != (s["shape"][1], s["shape"][0]):
                raise ManifestError(f"{self.root / s['shard']}: sample {i} ({s['stem']}): its image file "
                                    f"declares {im.size[0]}x{im.size[1]} pixels, the manifest "
                                    f"{s['shape'][1]}x{s['shape'][0]}; rebuild the split")
            return np.asarray(im.convert("RGB"))

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
