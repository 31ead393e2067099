"""How shard arrays are represented: tiles, checksums, the boundary/direction code, derived distance.

Pure array functions (no file I/O) used by :mod:`segfix_data.shards` and the build workers:

* :func:`encode_array` cuts an array into square tiles and compresses each one (``zlib``: the
  bytes HDF5's standard gzip filter would write; ``lz4``, format 2's target tiles: the Blosc
  filter's bytes, made by that filter in an in-memory HDF5 file), so workers compress and the
  writer only copies bytes;
* :func:`filter_args`: the dataset-creation filter arguments of an encoded array (the one place
  the writer learns the codec);
* :func:`checksum`: CRC-32 of an array's bytes, stored per array in the manifest;
* :func:`fletcher32`: HDF5's per-chunk Fletcher-32 checksum, appended to every stored chunk so that
  HDF5 itself checks each tile it reads (a damaged tile raises instead of returning wrong pixels);
* :func:`encode_boundary_direction` / :func:`decode_boundary_direction`: the boundary and direction
  targets in one uint8 array (exact; half the tiles to read per crop); from format 3 the same array
  also holds the direction of the non-boundary pixels of the direction band
  (:func:`decode_direction_band`);
* :func:`derive_distance`: the ``paper`` distance target recomputed exactly from the stored map.
"""
from __future__ import annotations

import dataclasses
import zlib
from typing import TYPE_CHECKING

import numba
import numpy as np

from segfix_data.errors import InputError
from segfix_data.targets.edt import multilabel_distance

try:  # registers the Blosc filter (format-2 target tiles) with HDF5, for reads too
    import hdf5plugin
except ImportError:  # zlib shards are written and read without it (e.g. a GPU image that lacks it)
    hdf5plugin = None

if TYPE_CHECKING:  # only named in annotations
    import h5py


def checksum(arr: np.ndarray) -> str:
    """``"crc32:xxxxxxxx"`` of an array's C-order bytes (dtype and shape are checked apart).

    CRC-32 detects accidental damage (any burst of up to 32 flipped bits, and all but one in 2^32
    other changes) at ~4 GB/s, so it does not slow the build; it is not a defence against tampering.
    """
    return f"crc32:{zlib.crc32(np.ascontiguousarray(arr).reshape(-1).view(np.uint8)):08x}"


#: Tile codecs: ``lz4`` (format 2's default for targets: Blosc + LZ4 through hdf5plugin, ~0.4x
#: zlib-1's write time and ~0.5x its crop-read time, ~1.5x its bytes) and ``zlib`` (format 1's
#: deflate, readable by any HDF5 without plugins).
CODECS = ("lz4", "zlib")

#: Blosc compression level of ``lz4`` tiles (for LZ4, how hard it looks for matches).
LZ4_CLEVEL = 5


#: Words summed per block by :func:`_fletcher32_sums`: the block's plain and weighted sums of
#: 16-bit words stay below 2**32 (255 * 65535 * 256 / 2 < 2**32), so the inner loop runs in
#: 32-bit SIMD lanes.
_F32_BLOCK = 256


@numba.njit(cache=True, nogil=True)
def _fletcher32_sums(words):
    """Fletcher-32 sums of big-endian 16-bit words read as native uint16: ``(s1, s2, nonzero)``.

    HDF5 (``H5_checksum_fletcher32``) adds the words one at a time (``s1 += w; s2 += s1``) and
    folds both sums mod 65535 every 360 words. Here each block of 256 words adds
    ``s1 += sum(w)`` and ``s2 += 256 * s1 + sum(w) + sum((255 - j) * w_j)`` at once (the same
    totals, without the serial dependency), reduced mod 65535. ``nonzero`` tells an all-zero
    input apart, the only case where HDF5's end-around-carry folds give 0 instead of 65535.
    """
    n = words.size
    full = n - n % _F32_BLOCK
    s1, s2, nonzero = np.int64(0), np.int64(0), False
    byte, shift = np.uint32(0xFF), np.uint32(8)
    for base in range(0, full, _F32_BLOCK):
        b1, bw = np.uint32(0), np.uint32(0)
        for j in range(_F32_BLOCK):
            x = np.uint32(words[base + j])
            w = ((x & byte) << shift) | (x >> shift)
            b1 += w
            bw += np.uint32(_F32_BLOCK - 1 - j) * w
        s2 = (s2 + _F32_BLOCK * s1 + np.int64(b1) + np.int64(bw)) % 65535
        s1 = (s1 + np.int64(b1)) % 65535
        nonzero = nonzero or b1 != 0
    for k in range(full, n):
        x = np.int64(words[k])
        w = ((x & 0xFF) << 8) | (x >> 8)
        s1 = (s1 + w) % 65535
        s2 = (s2 + s1) % 65535
        nonzero = nonzero or w != 0
    return s1, s2, nonzero


def fletcher32(data: bytes) -> int:
    """HDF5's Fletcher-32 checksum of a stored chunk's bytes (what its ``fletcher32`` filter computes).

    Every chunk a shard stores ends with these 4 bytes (little-endian), and its dataset has the
    standard Fletcher-32 filter last in its pipeline, after any compression: HDF5 recomputes the
    sum whenever it reads a chunk and raises on a mismatch. This is what makes damaged tiles
    (raw image tiles included) fail on read instead of returning wrong pixels, whatever the
    compression filter before it.
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    n = raw.size // 2
    # native uint16 view of the words; _fletcher32_sums swaps the bytes (little-endian hosts)
    s1, s2, nonzero = _fletcher32_sums(raw[: 2 * n].view(np.uint16))
    s1, s2, nonzero = int(s1), int(s2), bool(nonzero)
    if raw.size % 2:  # an odd last byte is the high half of one more word
        tail = int(raw[-1]) << 8
        s1 = (s1 + tail) % 65535
        s2 = (s2 + s1) % 65535
        nonzero = nonzero or tail != 0
    if not nonzero:
        return 0
    return ((s2 or 65535) << 16) | (s1 or 65535)


def with_fletcher32(data: bytes) -> bytes:
    """``data`` followed by its :func:`fletcher32` sum: a chunk as the Fletcher-32 filter stores it."""
    return data + fletcher32(data).to_bytes(4, "little")

@dataclasses.dataclass
class EncodedArray:
    """An array ready for the shard writer, in HDF5 chunks.

    ``blocks`` holds ``(chunk offset, stored bytes)`` per chunk, ready for ``write_direct_chunk``
    into a dataset created with ``fletcher32=True`` and :func:`filter_args`: the zlib (or raw)
    bytes (codec ``"zlib"``) or the Blosc-LZ4 frame (``"lz4"``), followed by their 4-byte
    :func:`fletcher32` sum; edge chunks are zero-padded to the full chunk shape, as HDF5 stores
    them. ``level`` 0 (zlib): uncompressed, in tiles, or, when ``chunks`` is None, contiguous
    (``blocks`` then holds the raw bytes once, offset ``None``).
    """

    shape: tuple
    dtype: str
    chunks: tuple | None
    level: int
    blocks: list
    checksum: str
    codec: str = "zlib"
    #: per block, the HDF5 filter mask to write it with (None: all 0). Blosc is an optional
    #: filter: a chunk it cannot shrink is stored raw with mask 1, as HDF5 itself does.
    masks: list | None = None

    @property
    def nbytes(self) -> int:
        """Stored (compressed) bytes."""
        return sum(len(b) for _, b in self.blocks)


def require_hdf5plugin() -> None:
    """Raise ``InputError`` when the ``lz4`` codec is asked for without the hdf5plugin package."""
    if hdf5plugin is None:
        raise InputError("the lz4 tile codec needs the hdf5plugin package (pip install hdf5plugin); "
                         "without it, build with --codec zlib")


def filter_args(enc: EncodedArray) -> dict:
    """h5py ``create_dataset`` keyword arguments of the compression filter of ``enc``.

    The writer adds ``fletcher32=True`` (last in the pipeline, after this filter).
    ``lz4``: Blosc (id 32001) with LZ4, byte shuffle for multi-byte dtypes (hdf5plugin; a plain
    h5py reader needs ``import hdf5plugin`` first). ``zlib``: HDF5's standard deflate at
    ``enc.level`` (none for level 0).
    """
    if enc.codec == "lz4":
        require_hdf5plugin()
        shuffle = hdf5plugin.Blosc.NOSHUFFLE if np.dtype(enc.dtype).itemsize == 1 else hdf5plugin.Blosc.SHUFFLE
        return dict(hdf5plugin.Blosc(cname="lz4", clevel=LZ4_CLEVEL, shuffle=shuffle))
    if enc.level:
        return {"compression": "gzip", "compression_opts": enc.level}
    return {}


def _encode_lz4(arr: np.ndarray, chunks: tuple) -> EncodedArray:
    """Blosc-LZ4 chunks made by HDF5's own filter in an in-memory file, read back raw.

    (No Python binding of Blosc is needed, and the bytes are by construction what the filters
    decode, Fletcher-32 sum included; in a worker this also keeps the compression off the
    writing process.)
    """
    import h5py

    masks: list = []
    enc = EncodedArray(arr.shape, arr.dtype.str, chunks, 0, [], checksum(arr), codec="lz4", masks=masks)
    with h5py.File(f"segfix-lz4-{id(arr)}.h5", "w", driver="core", backing_store=False) as f:
        ds = f.create_dataset("a", shape=arr.shape, dtype=arr.dtype, chunks=chunks, fletcher32=True,
                              **filter_args(enc))
        ds.write_direct(arr)
        ds.flush()
        h, w = arr.shape[:2]
        for y in range(0, h, chunks[0]):
            for x in range(0, w, chunks[1]):
                offset = (y, x) + (0,) * (arr.ndim - 2)
                mask, data = ds.id.read_direct_chunk(offset)
                enc.blocks.append((offset, data))
                masks.append(int(mask))
    return enc


def encode_array(arr: np.ndarray, *, tile: int = 128, level: int = 4, raw_tiles: bool = False,
                 codec: str = "zlib") -> EncodedArray:
    """Cut ``arr`` ((H, W) or (H, W, C)) into ``tile`` x ``tile`` chunks and compress each.

    ``codec`` ``"zlib"``: ``level`` 1..9 is the zlib level; 0 stores ``arr`` uncompressed: in
    tiles if ``raw_tiles`` (fast crops, large files), else contiguous (used for 1-D byte strings
    such as image files). ``codec`` ``"lz4"``: Blosc-LZ4 tiles (``level`` is ignored).
    """
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; choose one of {CODECS}")
    arr = np.ascontiguousarray(arr)
    if level == 0 and not raw_tiles and codec == "zlib":
        return EncodedArray(arr.shape, arr.dtype.str, None, 0, [(None, arr.tobytes())], checksum(arr))
    if arr.ndim not in (2, 3) or tile < 1:
        raise ValueError(f"encode_array expects an (H, W) or (H, W, C) array and tile >= 1, "
                         f"got shape {arr.shape}, tile {tile}")
    h, w = arr.shape[:2]
    chunks = (min(tile, h), min(tile, w)) + arr.shape[2:]
    if codec == "lz4":
        return _encode_lz4(arr, chunks)
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
            blocks.append((offset, with_fletcher32(zlib.compress(raw, level) if level else raw)))
    return EncodedArray(arr.shape, arr.dtype.str, chunks, level, blocks, checksum(arr))



# --------------------------------------------------------------------------------------------
# Boundary and direction in one array

#: Codes of ``<v>/boundary_direction`` besides the direction bins 0..m-1 (boundary pixels).
BD_NOT_BOUNDARY, BD_NO_DIRECTION, BD_IGNORE = 253, 254, 255
#: Format 3: ``BD_BAND + bin`` on a valid non-boundary pixel of the direction band (its direction
#: target is defined; the boundary target is 0). Formats 1-2 never write codes 128..252.
BD_BAND = 128
#: code -> the direction band's bin (the boundary's bins, then the band's off-boundary bins), 255 none
_LUT_DIRECTION_BAND = np.arange(256, dtype=np.uint8)
_LUT_DIRECTION_BAND[BD_BAND:BD_NOT_BOUNDARY] = np.arange(BD_NOT_BOUNDARY - BD_BAND, dtype=np.uint8)
_LUT_DIRECTION_BAND[BD_NOT_BOUNDARY:] = 255


@numba.njit(cache=True, nogil=True)
def _encode_bd(b, d, lab, with_counts, code, pix, bnd):
    """One pass: the code array, and per-label pixel / boundary-pixel counts. False if not exact."""
    h, w = b.shape
    for y in range(h):
        for x in range(w):
            bv, dv = b[y, x], d[y, x]
            if bv == 1:
                if dv == 255:
                    c = BD_NO_DIRECTION
                elif dv < BD_BAND:
                    c = dv
                else:
                    return False
            elif bv == 0 or bv == 255:
                if dv != 255:
                    return False
                c = BD_NOT_BOUNDARY if bv == 0 else BD_IGNORE
            else:
                return False
            code[y, x] = c
            if with_counts:
                k = lab[y, x]
                pix[k] += 1
                if bv == 1:
                    bnd[k] += 1
    return True


def encode_boundary_direction(boundary: np.ndarray, direction: np.ndarray, label: np.ndarray | None = None,
                              band_direction: np.ndarray | None = None):
    """One uint8 (H, W) array holding both targets (half the tiles to read per crop).

    Code: the direction bin ``0..m-1`` on a boundary pixel with a direction,
    :data:`BD_NO_DIRECTION` (254) on a boundary pixel without one, :data:`BD_NOT_BOUNDARY` (253)
    on a valid non-boundary pixel, :data:`BD_IGNORE` (255) on an ignore pixel; with
    ``band_direction`` (format 3), ``BD_BAND + bin`` (128..) on a valid non-boundary pixel whose
    band direction is defined. Exact when the direction is 255 off the boundary (the Targets
    contract); raises ValueError otherwise.

    Args:
        boundary, direction: uint8 (H, W) Targets arrays.
        label: optional uint8 (H, W) train ids: then also count pixels per label (same pass).
        band_direction: optional uint8 (H, W) bins (255 none) of the direction band (a wider
            band's ``Targets.direction``); only its non-boundary pixels are stored (boundary
            pixels keep ``direction``).

    Returns:
        code uint8 (H, W); with ``label``: ``(code, pixels, boundary_pixels)``, the last two int64
        (256,) counts per label value of all pixels and of boundary pixels.
    """
    b, d = np.asarray(boundary), np.asarray(direction)
    if b.shape != d.shape or b.dtype != np.uint8 or d.dtype != np.uint8 or b.ndim != 2:
        raise ValueError(f"boundary and direction must be uint8 (H, W) arrays of one shape, got "
                         f"{b.dtype}{b.shape} and {d.dtype}{d.shape}")
    with_counts = label is not None
    lab = np.asarray(label) if with_counts else np.zeros((1, 1), np.uint8)
    if with_counts and (lab.shape != b.shape or lab.dtype != np.uint8):
        raise ValueError(f"label must be uint8 {b.shape}, got {lab.dtype}{lab.shape}")
    code = np.empty(b.shape, np.uint8)
    pix, bnd = np.zeros(256, np.int64), np.zeros(256, np.int64)
    if not _encode_bd(b, d, lab, with_counts, code, pix, bnd):
        raise ValueError("boundary/direction cannot share one array: boundary must be 0/1/255 and "
                         f"direction a bin < {BD_BAND} on boundary pixels, 255 elsewhere")
    if band_direction is not None:
        band = np.asarray(band_direction)
        if band.shape != b.shape or band.dtype != np.uint8:
            raise ValueError(f"band_direction must be uint8 {b.shape}, got {band.dtype}{band.shape}")
        off = (code == BD_NOT_BOUNDARY) & (band != 255)
        if (band[off] >= BD_NOT_BOUNDARY - BD_BAND).any():
            raise ValueError(f"band_direction bins must be < {BD_NOT_BOUNDARY - BD_BAND} or 255")
        code[off] = band[off] + BD_BAND
    return (code, pix, bnd) if with_counts else code


@numba.njit(cache=True, nogil=True)
def _decode_bd(code, b, d):
    h, w = code.shape
    for y in range(h):
        for x in range(w):
            c = code[y, x]
            if c < BD_BAND:
                b[y, x] = 1
                d[y, x] = c
            elif c < BD_NOT_BOUNDARY:  # format 3: band pixel off the boundary
                b[y, x] = 0
                d[y, x] = 255
            else:
                b[y, x] = 0 if c == BD_NOT_BOUNDARY else (1 if c == BD_NO_DIRECTION else 255)
                d[y, x] = 255


def decode_boundary_direction(code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(boundary, direction) uint8 (H, W) from a code array of :func:`encode_boundary_direction`.

    One numba pass (a 256-entry table lookup in numpy costs ~30x more on a 512x512 crop).
    """
    code = np.ascontiguousarray(code, dtype=np.uint8)
    if code.ndim != 2:
        raise ValueError(f"code must be a (H, W) uint8 array, got shape {code.shape}")
    b, d = np.empty_like(code), np.empty_like(code)
    _decode_bd(code, b, d)
    return b, d


def decode_direction_band(code: np.ndarray) -> np.ndarray:
    """uint8 direction (bin, 255 none) on the whole direction band: the boundary pixels' bins and,
    in format 3, those of the band's non-boundary pixels (formats 1-2: the boundary pixels only)."""
    return _LUT_DIRECTION_BAND[code]


# --------------------------------------------------------------------------------------------
# Derived distance


def derive_distance(seg: np.ndarray, *, ignore_index: int | None, cap: float,
                    border_is_boundary: bool = False) -> np.ndarray:
    """Distance target from the map it was made from: exact EDT to the nearest other value.

    Args:
        seg: (H, W) integer train ids or segment ids.
        ignore_index: the value of ignored pixels (distance 0 there), or None.
        cap: the distance cap (Targets ``params["distance_cap"]``).
        border_is_boundary: as in the targets parameters.

    Returns:
        float32 (H, W) distance in pixels, ``min(d, cap)``, 0 on ignore pixels.
    """
    # the capped EDT is np.minimum(full EDT, cap) to the bit, and skips the far sites
    d = multilabel_distance(seg, border_is_boundary=border_is_boundary, cap=cap).astype(np.float32)
    if ignore_index is not None:
        d[seg == ignore_index] = 0.0
    return d


def derive_window(ds: "h5py.Dataset", window, ignore_index, cap: float, border: bool) -> np.ndarray:
    """Derived distance of a window: EDT of the window grown by the cap (exact, see docs)."""
    h, w = ds.shape
    y0, x0, wh, ww = window
    if border:  # the crop edge would act as a boundary: use the whole map
        return derive_distance(ds[()], ignore_index=ignore_index, cap=cap,
                               border_is_boundary=True)[y0:y0 + wh, x0:x0 + ww]
    m = int(np.ceil(cap)) + 1
    ya, xa = max(0, y0 - m), max(0, x0 - m)
    yb, xb = min(h, y0 + wh + m), min(w, x0 + ww + m)
    d = derive_distance(ds[ya:yb, xa:xb], ignore_index=ignore_index, cap=cap)
    return d[y0 - ya:y0 - ya + wh, x0 - xa:x0 - xa + ww]
