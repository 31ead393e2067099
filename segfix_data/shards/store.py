"""The HDF5 shard format: the shard writer (atomic publish) and the reader.

``OUT_DIR/<split>/`` holds ``shard-NNNNN.h5`` files and ``manifest.json`` (see ``docs/shards.md``).
A shard holds a group ``samples/NNNNN`` per sample with the arrays below, each chunked in square
tiles (``tile`` x ``tile`` pixels, 128 by default) and compressed (format 2: Blosc-LZ4 target
tiles through hdf5plugin; format 1: deflate), so a window read touches only the tiles it overlaps,
plus a ``records`` dataset (UTF-8 JSON bytes) describing its samples.

Arrays of a sample (``H x W`` pixels):

=========================  ==============  =====================================================
``image``                  uint8 (H,W,3)   RGB pixels (``--image-format tiles``)
``image_file``             uint8 (N,)      the source image file's bytes (``--image-format file``)
``label``                  uint8 (H,W)     train ids, 255 ignore
``<v>/boundary_direction`` uint8 (H,W)     ``v`` = ``semantic`` or ``instance``: both targets in
                                           one code (:func:`encode_boundary_direction`); format
                                           3 adds the direction band's off-boundary bins
``<v>/distance``           float32 (H,W)   only where it cannot be derived (see below)
``instance/segments``      int32 (H,W)     the segment map the instance targets were made from
``<v>/openseg_depth``      uint8 (H,W)     ``--preset openseg``: the authors' ``depth``
``<v>/openseg_dir_deg``    uint8 (H,W)     ``--preset openseg``: the authors' ``dir_deg``
=========================  ==============  =====================================================

The ``paper`` distance is not stored: it is an exact function of the stored map, recomputed on
read by :func:`~segfix_data.shards.codec.derive_distance` (one multi-label EDT of ``label`` /
``instance/segments``, capped, 0 on ignore). Presets whose distance is not derivable (``openseg``)
store ``<v>/distance`` as float32, so a read always returns the Targets values exactly.

The array encodings live in :mod:`segfix_data.shards.codec` (re-exported here). Workers encode
arrays (:func:`encode_array`: tiles -> Blosc-LZ4 or zlib bytes, checksum) so that the process
writing the shard (:class:`ShardWriter`) only copies bytes with ``write_direct_chunk`` into
datasets created with :func:`~segfix_data.shards.codec.filter_args`. Reading format-2 shards
outside segfix needs ``import hdf5plugin`` (it registers the Blosc filter).
"""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import h5py
import numpy as np

from segfix_data.atomic import atomic_path
from .codec import EncodedArray, _derive_window, decode_boundary_direction, decode_direction_band, filter_args

FORMAT_NAME = "segfix-shards"
#: 3: direction targets on a band wider than the boundary (``params["direction_band"]``, field
#: ``<v>/direction_band``; issue 17). 2: target tiles in Blosc-LZ4 (hdf5plugin; issue 13).
#: 1: deflate. Readers read all three.
FORMAT_VERSION = 3
MANIFEST = "manifest.json"
SHARD_PATTERN = "shard-{:05d}.h5"
VARIANTS = ("semantic", "instance")


#: Chunk length of 1-D byte datasets (``image_file``, ``records``): Fletcher-32 needs chunks.
BYTES_CHUNK = 1 << 20


def _write_bytes(group: h5py.Group, name: str, data: np.ndarray) -> None:
    """A 1-D (or any) array stored chunked with the Fletcher-32 filter (checked on every read)."""
    data = np.ascontiguousarray(data)
    chunks = (max(1, min(len(data), BYTES_CHUNK)),) if data.ndim == 1 else True
    group.create_dataset(name, data=data, chunks=chunks, fletcher32=True)


def _write_encoded(group: h5py.Group, name: str, enc: EncodedArray) -> None:
    if enc.chunks is None:
        _write_bytes(group, name, np.frombuffer(enc.blocks[0][1], dtype=enc.dtype).reshape(enc.shape))
        return
    # Fletcher-32 last in the pipeline (h5py's order): each stored chunk ends with the sum of the
    # compressed bytes before it, which :func:`codec.encode_array` has appended.
    ds = group.create_dataset(name, shape=enc.shape, dtype=np.dtype(enc.dtype), chunks=enc.chunks,
                              fletcher32=True, **filter_args(enc))
    masks = enc.masks or [0] * len(enc.blocks)
    for (offset, data), mask in zip(enc.blocks, masks):
        ds.id.write_direct_chunk(offset, data, filter_mask=mask)


class ShardWriter:
    """Write one shard under a temporary name and publish it with ``os.replace`` on success.

    Example::

        with ShardWriter(path) as w:
            w.add_sample(0, {"label": encode_array(label), ...})
            w.set_records(records)
        # path now exists; on an exception nothing is left at path or under the temporary name
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        self._file = None
        self._records = None

    def __enter__(self) -> "ShardWriter":
        self._file = h5py.File(self.tmp, "w", libver=("v110", "v110"))
        self._file.attrs["format"] = FORMAT_NAME
        self._file.attrs["format_version"] = FORMAT_VERSION
        return self

    def add_sample(self, index: int, arrays: dict) -> None:
        """Store one sample's arrays (name -> :class:`EncodedArray`) as ``samples/<index>``."""
        group = self._file.create_group(f"samples/{index:05d}")
        for name, enc in arrays.items():
            _write_encoded(group, name, enc)

    def set_records(self, records: dict) -> None:
        """JSON-able description of the shard's samples and failures (stored as ``records``)."""
        self._records = records

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                payload = json.dumps(self._records, sort_keys=True).encode()
                _write_bytes(self._file, "records", np.frombuffer(payload, dtype=np.uint8))
            self._file.close()
            if exc_type is None:
                with open(self.tmp, "rb+") as f:
                    os.fsync(f.fileno())
                os.replace(self.tmp, self.path)
        finally:
            if self.tmp.exists():
                self.tmp.unlink()


def read_records(path: str | os.PathLike) -> dict:
    """The ``records`` JSON of a shard file."""
    with h5py.File(path, "r") as f:
        return json.loads(f["records"][()].tobytes().decode())


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    """Write JSON to ``path`` through a temporary file and ``os.replace``."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())


# --------------------------------------------------------------------------------------------
# Reader


DEFAULT_FIELDS = ("image", "label", "semantic/boundary", "semantic/direction")


class ManifestError(ValueError):
    """A manifest or shard file that the reader refuses: invalid JSON, a shard path leaving the
    split directory, HDF5 links or external storage, records that disagree with the manifest."""


class ShardReadError(ValueError):
    """Stored data failed its checks on read (Fletcher-32 of a chunk, a missing group): the message
    names the shard file, the sample and ``segfix-gt verify``."""


def shard_path(root: str | os.PathLike, name) -> Path:
    """``root / name`` for a shard file name taken from a manifest, refused unless it stays inside.

    A manifest is untrusted input: ``name`` must be a plain file name (no directory part, no
    ``..``, not absolute, not hidden) and must not be a symbolic link resolving outside ``root``.
    Raises :class:`ManifestError` naming ``root`` otherwise.
    """
    root = Path(root)
    if (not isinstance(name, str) or not name or name.startswith(".") or "/" in name or "\\" in name
            or os.path.isabs(name) or "\0" in name):
        raise ManifestError(f"{root / MANIFEST}: shard path {name!r} is not a file name inside {root}; "
                            "refusing it (a manifest names its shards by file name only; rebuild the split)")
    path = root / name
    real, base = os.path.realpath(path), os.path.realpath(root)
    if os.path.commonpath([real, base]) != base:
        raise ManifestError(f"{path}: resolves to {real}, outside the split directory {root}; refusing it "
                            "(remove the link and rebuild the split)")
    return path


def is_plain_name(name) -> bool:
    """True for a non-empty file name without a directory part (no ``/``, ``\\``, NUL, ``.``, ``..``)."""
    return (isinstance(name, str) and bool(name) and name not in (".", "..")
            and not any(c in name for c in "/\\\0"))


def output_path(dest: str | os.PathLike, *parts: str) -> Path:
    """``dest / parts...`` for names derived from a manifest or a frame stem, refused
    (:class:`ManifestError`) unless each part is a plain file name, so it stays inside ``dest``."""
    for p in parts:
        if not is_plain_name(p):
            raise ManifestError(f"{p!r}: not a plain file name; refusing to write outside {dest}")
    return Path(dest).joinpath(*parts)


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


def _load_manifest(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            manifest = json.loads(f.read().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: not valid JSON ({exc}); rebuild the split with `segfix-gt build`") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise ManifestError(f"{path}: not a {FORMAT_NAME} manifest")
    samples = manifest.get("samples")
    if not isinstance(samples, list) or not isinstance(manifest.get("params"), dict):
        raise ManifestError(f"{path}: no 'samples' list or 'params' object; rebuild the split")
    stems = set()
    for i, s in enumerate(samples):
        ok = (isinstance(s, dict) and isinstance(s.get("stem"), str) and isinstance(s.get("shard"), str)
              and type(s.get("index")) is int and s["index"] >= 0 and isinstance(s.get("shape"), list)
              and len(s["shape"]) == 2 and all(type(v) is int and v > 0 for v in s["shape"]))
        if not ok:
            raise ManifestError(f"{path}: sample {i} is not a valid record (stem, shard, index, shape); "
                                "rebuild the split")
        if not is_plain_name(s["stem"]):
            raise ManifestError(f"{path}: sample {i} has the key {s['stem']!r}, not a plain file name "
                                "(outputs are named after it); refusing the manifest: rebuild the split")
        if s["stem"] in stems:
            raise ManifestError(f"{path}: sample key {s['stem']!r} appears twice; rebuild the split")
        stems.add(s["stem"])
    return manifest


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
        self.manifest = _load_manifest(path)
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
                ``<variant>/direction``, ``<variant>/direction_band`` (the direction on the whole
                direction band, format 3; older shards: on the boundary only), ``instance/segments``, ``<variant>/openseg_depth``,
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
        if name in ("boundary", "direction", "direction_band") and f"{variant}/boundary_direction" in g:
            if variant not in codes:
                codes[variant] = g[f"{variant}/boundary_direction"][sl]
            if name == "direction_band":  # issue 17 (format 3; older shards: the boundary's)
                return decode_direction_band(codes[variant])
            if variant + "/decoded" not in codes:
                codes[variant + "/decoded"] = decode_boundary_direction(codes[variant])
            return codes[variant + "/decoded"][0 if name == "boundary" else 1]
        if name == "direction_band" and f"{variant}/direction" in g:  # format 1 without a code
            return g[f"{variant}/direction"][sl]
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
                return _derive_window(g[source], window, info["ignore_value"], info["cap"],
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
