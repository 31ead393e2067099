"""The HDF5 shard format: tile encoding, the shard writer (atomic publish), the reader, checksums.

``OUT_DIR/<split>/`` holds ``shard-NNNNN.h5`` files and ``manifest.json`` (see ``docs/shards.md``).
A shard holds a group ``samples/NNNNN`` per sample with the arrays below, each chunked in square
tiles (``tile`` x ``tile`` pixels, 128 by default) and deflate-compressed, so a window read touches
only the tiles it overlaps, plus a ``records`` dataset (UTF-8 JSON bytes) describing its samples.

Arrays of a sample (``H x W`` pixels):

=========================  ==============  =====================================================
``image``                  uint8 (H,W,3)   RGB pixels (``--image-format tiles``)
``image_file``             uint8 (N,)      the source image file's bytes (``--image-format file``)
``label``                  uint8 (H,W)     train ids, 255 ignore
``<v>/boundary``           uint8 (H,W)     ``v`` = ``semantic`` or ``instance``: 1, 0, 255 ignore
``<v>/direction``          uint8 (H,W)     bins 0..m-1, 255 none
``<v>/distance``           float32 (H,W)   only where it cannot be derived (see below)
``instance/segments``      int32 (H,W)     the segment map the instance targets were made from
``<v>/openseg_depth``      uint8 (H,W)     ``--preset openseg``: the authors' ``depth``
``<v>/openseg_dir_deg``    uint8 (H,W)     ``--preset openseg``: the authors' ``dir_deg``
=========================  ==============  =====================================================

Distance is not stored when it is an exact function of the stored map: :func:`derive_distance`
(one multi-label EDT of ``label`` / ``instance/segments``, capped, 0 on ignore) recomputes it
bit-for-bit on read. The build checks that equality for every sample and stores ``<v>/distance``
as float32 when it does not hold, so a read always returns the Targets values exactly.

Workers encode arrays (:func:`encode_array`: tiles -> zlib bytes, checksum) so that the process
writing the shard (:class:`ShardWriter`) only copies bytes with ``write_direct_chunk``; the chunks
are standard HDF5 deflate chunks any HDF5 reader can decode.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import zlib
from pathlib import Path

import h5py
import numpy as np

FORMAT_NAME = "segfix-shards"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SHARD_PATTERN = "shard-{:05d}.h5"

#: Fields of ShardSet.read and their dtypes.
TARGET_FIELDS = ("distance", "boundary", "direction")
VARIANTS = ("semantic", "instance")


def checksum(arr: np.ndarray) -> str:
    """blake2b-128 hex digest of an array's C-order bytes (dtype and shape are checked apart)."""
    return hashlib.blake2b(np.ascontiguousarray(arr).tobytes(), digest_size=16).hexdigest()


@dataclasses.dataclass
class EncodedArray:
    """An array cut into HDF5 chunks and deflate-compressed, ready for ``write_direct_chunk``.

    ``blocks`` holds ``(chunk offset, zlib bytes)`` per chunk; edge chunks are zero-padded to the
    full chunk shape, as HDF5 stores them. ``level`` 0: uncompressed, in tiles, or, when
    ``chunks`` is None, contiguous (``blocks`` then holds the raw bytes once, offset ``None``).
    """

    shape: tuple
    dtype: str
    chunks: tuple | None
    level: int
    blocks: list
    checksum: str

    @property
    def nbytes(self) -> int:
        """Stored (compressed) bytes."""
        return sum(len(b) for _, b in self.blocks)


def encode_array(arr: np.ndarray, *, tile: int = 128, level: int = 4, raw_tiles: bool = False) -> EncodedArray:
    """Cut ``arr`` ((H, W) or (H, W, C)) into ``tile`` x ``tile`` chunks and deflate each.

    ``level`` 1..9 is the zlib level; 0 stores ``arr`` uncompressed: in tiles if ``raw_tiles``
    (fast crops, large files), else contiguous (used for 1-D byte strings such as image files).
    """
    arr = np.ascontiguousarray(arr)
    if level == 0 and not raw_tiles:
        return EncodedArray(arr.shape, arr.dtype.str, None, 0, [(None, arr.tobytes())], checksum(arr))
    if arr.ndim not in (2, 3) or tile < 1:
        raise ValueError(f"encode_array expects an (H, W) or (H, W, C) array and tile >= 1, "
                         f"got shape {arr.shape}, tile {tile}")
    h, w = arr.shape[:2]
    chunks = (min(tile, h), min(tile, w)) + arr.shape[2:]
    ch, cw = chunks[:2]
    blocks = []
    for y in range(0, h, ch):
        for x in range(0, w, cw):
            block = arr[y:y + ch, x:x + cw]
            if block.shape[:2] != (ch, cw):
                padded = np.zeros(chunks, dtype=arr.dtype)
                padded[: block.shape[0], : block.shape[1]] = block
                block = padded
            offset = (y, x) + (0,) * (arr.ndim - 2)
            raw = np.ascontiguousarray(block).tobytes()
            blocks.append((offset, zlib.compress(raw, level) if level else raw))
    return EncodedArray(arr.shape, arr.dtype.str, chunks, level, blocks, checksum(arr))


def _write_encoded(group: h5py.Group, name: str, enc: EncodedArray) -> None:
    if enc.chunks is None:
        group.create_dataset(name, data=np.frombuffer(enc.blocks[0][1], dtype=enc.dtype).reshape(enc.shape))
        return
    ds = group.create_dataset(name, shape=enc.shape, dtype=np.dtype(enc.dtype), chunks=enc.chunks,
                              **({"compression": "gzip", "compression_opts": enc.level} if enc.level else {}))
    for offset, data in enc.blocks:
        ds.id.write_direct_chunk(offset, data, filter_mask=0)


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
                self._file.create_dataset("records", data=np.frombuffer(payload, dtype=np.uint8))
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
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


# --------------------------------------------------------------------------------------------
# Derived distance


def derive_distance(seg: np.ndarray, *, ignore_value: int | None, cap: float,
                    border_is_boundary: bool = False) -> np.ndarray:
    """Distance target from the map it was made from: exact EDT to the nearest other value.

    Args:
        seg: (H, W) integer train ids or segment ids.
        ignore_value: the value of ignored pixels (distance 0 there), or None.
        cap: the distance cap (Targets ``params["distance_cap"]``).
        border_is_boundary: as in the targets parameters.

    Returns:
        float32 (H, W) distance in pixels, ``min(d, cap)``, 0 on ignore pixels.
    """
    from segfix_data.edt import multilabel_distance

    d = np.minimum(multilabel_distance(seg, border_is_boundary=border_is_boundary), cap).astype(np.float32)
    if ignore_value is not None:
        d[seg == ignore_value] = 0.0
    return d


def _derive_window(ds: h5py.Dataset, window, ignore_value, cap: float, border: bool) -> np.ndarray:
    """Derived distance of a window: EDT of the window grown by the cap (exact, see docs)."""
    h, w = ds.shape
    y0, x0, wh, ww = window
    if border:  # the crop edge would act as a boundary: use the whole map
        return derive_distance(ds[()], ignore_value=ignore_value, cap=cap,
                               border_is_boundary=True)[y0:y0 + wh, x0:x0 + ww]
    m = int(np.ceil(cap)) + 1
    ya, xa = max(0, y0 - m), max(0, x0 - m)
    yb, xb = min(h, y0 + wh + m), min(w, x0 + ww + m)
    d = derive_distance(ds[ya:yb, xa:xb], ignore_value=ignore_value, cap=cap)
    return d[y0 - ya:y0 - ya + wh, x0 - xa:x0 - xa + ww]


# --------------------------------------------------------------------------------------------
# Reader


DEFAULT_FIELDS = ("image", "label", "semantic/boundary", "semantic/direction")


class ShardSet:
    """Read the samples of ``OUT_DIR/<split>`` (built by ``segfix-gt build``).

    HDF5 files are opened lazily and per process, so a ShardSet may be passed to DataLoader
    workers (fork or spawn) and used after a fork.

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
        with open(path) as f:
            self.manifest = json.load(f)
        if self.manifest.get("format") != FORMAT_NAME:
            raise ValueError(f"{path}: not a {FORMAT_NAME} manifest")
        self.samples = self.manifest["samples"]
        self.params = self.manifest["params"]
        self._index = {s["stem"]: i for i, s in enumerate(self.samples)}
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
            f = h5py.File(self.root / shard, "r", rdcc_nbytes=self.cache_bytes)
            self._files[shard] = f
        return f

    def group(self, i: int) -> h5py.Group:
        """The HDF5 group of sample ``i``."""
        s = self.samples[i]
        return self._file(s["shard"])[f"samples/{s['index']:05d}"]

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
        out = {}
        for field in fields:
            out[field] = self._read_field(g, i, field, (y0, x0, h, w))
        return out

    def _read_field(self, g: h5py.Group, i: int, field: str, window) -> np.ndarray:
        y0, x0, h, w = window
        sl = (slice(y0, y0 + h), slice(x0, x0 + w))
        if field in g:
            return g[field][sl]
        if field == "image" and "image_file" in g:
            from PIL import Image

            with Image.open(io.BytesIO(g["image_file"][()].tobytes())) as im:
                return np.asarray(im.convert("RGB"))[sl]
        variant, _, name = field.partition("/")
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


# --------------------------------------------------------------------------------------------
# Verification


def verify_samples(root: str | os.PathLike, samples: list, progress=None) -> list[dict]:
    """Re-read every stored array of ``samples`` (manifest records) under ``root``.

    Checks that each shard opens, each array decodes, and that its shape and checksum match the
    record. Returns one dict per damaged sample: ``stem``, ``shard``, ``index``, ``problems``.
    """
    root = Path(root)
    damaged = []
    files: dict = {}
    try:
        for s in samples:
            problems = []
            try:
                if s["shard"] not in files:
                    files[s["shard"]] = h5py.File(root / s["shard"], "r")
                g = files[s["shard"]][f"samples/{s['index']:05d}"]
            except Exception as exc:
                problems.append(f"cannot open: {type(exc).__name__}: {exc}")
            else:
                for name, digest in sorted(s["checksums"].items()):
                    try:
                        arr = g[name][()]
                    except Exception as exc:
                        problems.append(f"{name}: cannot read ({type(exc).__name__}: {exc})")
                        continue
                    if name != "image_file" and list(arr.shape[:2]) != list(s["shape"]):
                        problems.append(f"{name}: shape {list(arr.shape)} != {s['shape']}")
                    elif checksum(arr) != digest:
                        problems.append(f"{name}: checksum mismatch")
            if problems:
                damaged.append({"stem": s["stem"], "shard": s["shard"], "index": s["index"],
                                "problems": problems})
            if progress is not None:
                progress(1)
    finally:
        for f in files.values():
            f.close()
    return damaged


def list_splits(out_dir: str | os.PathLike) -> list[str]:
    """Names of the splits under ``out_dir`` that have a manifest, sorted."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise FileNotFoundError(f"{out_dir}: no such directory (the OUT_DIR of `segfix-gt build`)")
    return sorted(p.name for p in out_dir.iterdir() if (p / MANIFEST).is_file())


def verify_split(out_dir: str | os.PathLike, split: str, progress=None) -> tuple[int, list[dict]]:
    """Verify every sample of ``OUT_DIR/<split>`` against its manifest.

    Returns:
        ``(number of samples, damaged)`` with ``damaged`` as :func:`verify_samples`; a shard file
        listed in the manifest but missing makes each of its samples damaged.
    """
    ds = ShardSet(out_dir, split)
    try:
        return len(ds), verify_samples(ds.root, ds.samples, progress)
    finally:
        ds.close()
