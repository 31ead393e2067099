"""The fast PNG path (pyspng) gives exactly today's arrays, and falls back to PIL cleanly.

Every file of the corpus is read with the fast path and with PIL alone (``io._spng = False``, what a
machine without the ``fast`` extra does); the arrays, dtypes and error messages must be identical.
"""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from segfix_data.datasets import FrameError, io, read_image, read_instance_ids, read_label


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(path, arr, colour: int, depth: int, palette=None, trns=None, interlace=0):
    """A PNG written by hand (any colour type and bit depth PIL cannot write), filter 0 rows."""
    arr = np.asarray(arr)
    h, w = arr.shape[:2]
    rows = []
    for row in arr.reshape(h, w, -1):
        if depth == 16:
            raw = row.astype(">u2").tobytes()
        elif depth == 8:
            raw = row.astype(np.uint8).tobytes()
        else:  # 1, 2, 4 bits: pack
            raw = np.packbits(np.unpackbits(row.astype(np.uint8)[:, :, None], axis=2)[:, :, 8 - depth:]
                              .reshape(-1)).tobytes()
        rows.append(b"\0" + raw)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, interlace)
    data = _chunk(b"IHDR", ihdr)
    if palette is not None:
        data += _chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).reshape(-1)))
    if trns is not None:
        data += _chunk(b"tRNS", trns)
    data += _chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + _chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + data)
    return path


def _corpus(tmp, seed=0, h=13, w=17):
    rng = np.random.default_rng(seed)
    u8 = lambda *s: rng.integers(0, 256, s).astype(np.uint8)  # noqa: E731
    ids8 = rng.integers(0, 34, (h, w)).astype(np.uint8)
    files = {}

    def pil(name, arr, mode=None):
        p = tmp / f"{name}.png"
        (Image.fromarray(arr, mode) if mode else Image.fromarray(arr)).save(p)
        files[name] = p

    pil("rgb8", u8(h, w, 3))
    pil("rgba8", u8(h, w, 4))
    pil("grey8", u8(h, w))
    pil("ids8", ids8)
    pil("la8", u8(h, w, 2), "LA")
    pil("ids16", rng.integers(0, 34000, (h, w)).astype(np.uint16))
    pil("inst16", np.where(rng.random((h, w)) < .5, 26001 + rng.integers(0, 3, (h, w)), 7).astype(np.uint16))
    pal = Image.fromarray(ids8, "L").convert("P")
    pal.putpalette(list(rng.integers(0, 256, 768)))
    pal.save(tmp / "pal8.png")
    files["pal8"] = tmp / "pal8.png"
    im = Image.fromarray(u8(h, w, 3))
    im.save(tmp / "rgb8_trns.png", transparency=(1, 2, 3))
    files["rgb8_trns"] = tmp / "rgb8_trns.png"
    files["rgb16"] = write_png(tmp / "rgb16.png", rng.integers(0, 65536, (h, w, 3)), 2, 16)
    files["rgba16"] = write_png(tmp / "rgba16.png", rng.integers(0, 65536, (h, w, 4)), 6, 16)
    files["la16"] = write_png(tmp / "la16.png", rng.integers(0, 65536, (h, w, 2)), 4, 16)
    files["grey16"] = write_png(tmp / "grey16.png", rng.integers(0, 65536, (h, w)), 0, 16)
    files["grey4"] = write_png(tmp / "grey4.png", rng.integers(0, 16, (h, w)), 0, 4)
    files["grey1"] = write_png(tmp / "grey1.png", rng.integers(0, 2, (h, w)), 0, 1)
    files["pal4_trns"] = write_png(tmp / "pal4_trns.png", rng.integers(0, 16, (h, w)), 3, 4,
                                   palette=rng.integers(0, 256, (16, 3)), trns=bytes(range(16)))
    files["grey8_trns"] = write_png(tmp / "grey8_trns.png", ids8, 0, 8, trns=b"\x00\x07")
    data = files["rgb8"].read_bytes()
    (tmp / "trunc.png").write_bytes(data[: len(data) // 2])
    files["trunc"] = tmp / "trunc.png"
    Image.fromarray(u8(h, w, 3)).save(tmp / "jpeg.png", format="JPEG")
    files["jpeg"] = tmp / "jpeg.png"
    return files


def _outcome(fn):
    try:
        a = fn()
        return ("ok", a.dtype.str, a.shape, a.tobytes())
    except (FrameError, ValueError) as exc:
        return ("error", type(exc).__name__, str(exc))


def _both(monkeypatch, fn):
    fast = _outcome(fn)
    monkeypatch.setattr(io, "_spng", False)  # a machine without pyspng
    slow = _outcome(fn)
    monkeypatch.setattr(io, "_spng", None)
    return fast, slow


READERS = {
    "image": lambda p: read_image(str(p)),
    "cityscapes": lambda p: read_label(str(p), "cityscapes"),
    "ade20k": lambda p: read_label(str(p), "ade20k"),
    "folder": lambda p: read_label(str(p), "folder", class_map=np.where(np.arange(65536) % 3 == 0, -1,
                                                                          np.arange(65536) % 200).astype(np.int16)),
    "instance": lambda p: read_instance_ids(str(p)),
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_every_corpus_file_reads_the_same_with_and_without_pyspng(tmp_path, monkeypatch, reader):
    for name, path in _corpus(tmp_path).items():
        fast, slow = _both(monkeypatch, lambda: READERS[reader](path))
        assert fast == slow, (name, reader, fast[:3], slow[:3])


def test_images_equal_pil_convert_rgb(tmp_path):
    for name, path in _corpus(tmp_path).items():
        if name in ("trunc",):
            continue
        with Image.open(path) as im:
            want = np.asarray(im.convert("RGB"))
        if Image.open(path).mode in ("I;16", "I", "I;16B", "1") or name == "jpeg":
            continue  # modes read_image refuses, and JPEG (lossy; PIL path either way)
        got = read_image(str(path))
        assert got.dtype == np.uint8 and np.array_equal(got, want), name


def test_fast_path_takes_the_common_kinds_and_declines_the_rest(tmp_path):
    pytest.importorskip("pyspng")
    files = _corpus(tmp_path)
    for name in ("rgb8", "rgba8", "grey8", "rgb8_trns"):
        assert io.decode_png(str(files[name]), "rgb") is not None, name
    for name in ("ids8", "ids16", "inst16", "grey16", "grey8_trns"):
        assert io.decode_png(str(files[name]), "ids") is not None, name
    for name in ("la8", "pal8", "rgb16", "rgba16", "la16", "grey4", "grey1", "pal4_trns", "trunc", "jpeg"):
        assert io.decode_png(str(files[name]), "rgb") is None, name
        assert io.decode_png(str(files[name]), "ids") is None, name
    interlaced = bytearray(files["rgb8"].read_bytes())
    interlaced[28] = 1
    (tmp_path / "adam7.png").write_bytes(bytes(interlaced))
    assert io.decode_png(str(tmp_path / "adam7.png"), "rgb") is None
    assert io.decode_png(str(tmp_path / "missing.png"), "rgb") is None


def test_without_pyspng_decode_png_declines(tmp_path, monkeypatch):
    p = tmp_path / "a.png"
    Image.fromarray(np.zeros((3, 4, 3), np.uint8)).save(p)
    monkeypatch.setattr(io, "_spng", False)
    assert io.decode_png(str(p), "rgb") is None
    assert read_image(str(p)).shape == (3, 4, 3)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 40), st.integers(1, 40))
def test_random_frames_read_the_same_with_and_without_pyspng(tmp_path_factory, seed, h, w):
    import _pytest.monkeypatch

    tmp = tmp_path_factory.mktemp("png")
    mp = _pytest.monkeypatch.MonkeyPatch()
    try:
        for name, path in _corpus(tmp, seed, h, w).items():
            for reader in ("image", "cityscapes", "instance"):
                fast, slow = _both(mp, lambda: READERS[reader](path))
                assert fast == slow, (name, reader)
    finally:
        mp.undo()


def test_map_ids_counts_the_pixels_outside_the_table():
    table = np.full(256, -1, np.int16)
    table[:3] = [5, 6, 255]
    out, bad = io._map_ids(np.array([[0, 1, 2], [2, 9, 0]], np.uint8), table)
    assert bad == 1 and out[0].tolist() == [5, 6, 255]
