"""The build's frame step: one target pass per frame and variant, one read per source file, and
the arrays and records of the two-pass build (``tests/support/build_reference.py``) bit for bit."""
from __future__ import annotations

import builtins
import dataclasses
import hashlib
import os

import pytest

import segfix_data.targets as targets_mod
from segfix_data import datasets
from segfix_data.datasets import io as io_mod
from segfix_data.shards import BuildConfig
from segfix_data.shards import process
from tests.support.build_reference import process_frame_two_pass

CONFIGS = {
    "paper, band 15": dict(variant="both"),
    "paper, no band": dict(variant="both", direction_band=0),
    "paper, gamma 3, band 7.5, ksize 5": dict(gamma=3, ksize=5, direction_band=7.5),
    "openseg": dict(variant="both", preset="openseg"),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_one_pass_frames_equal_the_two_pass_build(cityscapes_dir, name):
    config = BuildConfig(**CONFIGS[name])
    band_pixels = 0
    for frame in datasets.cityscapes_frames(cityscapes_dir, "train")[:3]:
        one, two = process.process_frame(frame, config), process_frame_two_pass(frame, config)
        assert one["ok"], one
        assert one["record"] == two["record"]  # checksums of every array included
        assert sorted(one["arrays"]) == sorted(two["arrays"])
        for k, a in one["arrays"].items():  # the stored bytes, tile by tile
            b = two["arrays"][k]
            assert (a.shape, a.dtype, a.chunks, a.codec) == (b.shape, b.dtype, b.chunks, b.codec), k
            assert [(o, bytes(d)) for o, d in a.blocks] == [(o, bytes(d)) for o, d in b.blocks], k
        t = targets_mod.semantic_targets(datasets.read_label(frame.label, "cityscapes"),
                                         **process._TargetArgs.of(config).kwargs, preset=config.preset)
        if t.band_direction is not None:
            band_pixels += int(((t.band_direction != 255) & (t.boundary == 0)).sum())
    assert (band_pixels > 0) == bool(config.resolved_direction_band())  # the band is exercised


@pytest.mark.parametrize("name", list(CONFIGS))
def test_one_target_call_per_variant_and_no_band_where_none_is_stored(cityscapes_dir, monkeypatch, name):
    config = BuildConfig(**CONFIGS[name])
    calls = []
    for fn in ("semantic_targets", "instance_targets"):
        real = getattr(targets_mod, fn)
        monkeypatch.setattr(targets_mod, fn, lambda *a, _real=real, _fn=fn, **k: calls.append((_fn, k)) or _real(*a, **k))
    frame = datasets.cityscapes_frames(cityscapes_dir, "train")[0]
    assert process.process_frame(frame, config)["ok"]
    assert [c[0] for c in calls] == [f"{v}_targets" for v in config.variants]
    band = config.resolved_direction_band()
    for _, kw in calls:
        assert kw.get("direction_band") == (band or None)
        assert ("distance_bound" in kw) == (config.preset == "paper")
    if config.preset == "openseg":
        assert band == 0 and process._TargetArgs.of(config).kwargs == {}


def test_each_source_is_read_once_and_its_digest_is_of_those_bytes(cityscapes_dir, monkeypatch):
    pytest.importorskip("pyspng")  # without it PIL decodes from the path (the fallback)
    opened = []

    def spy(module):
        def open_(path, *a, **k):
            opened.append((module, os.fspath(path)))
            return builtins.open(path, *a, **k)
        return open_

    regular = process._open_regular  # the build opens its sources through it (regular files only)

    def spy_regular(path):
        opened.append(("process", os.fspath(path)))
        return regular(path)

    monkeypatch.setattr(process, "_open_regular", spy_regular)
    monkeypatch.setattr(process, "open", spy("process"), raising=False)
    monkeypatch.setattr(io_mod, "open", spy("io"), raising=False)
    frame = datasets.cityscapes_frames(cityscapes_dir, "train")[0]
    r = process.process_frame(frame, BuildConfig(variant="both"))
    assert r["ok"], r
    for path in (frame.image, frame.label, frame.instance):
        assert opened.count(("process", path)) == 1 and ("io", path) not in opened, (path, opened)
        with open(path, "rb") as f:
            assert r["record"]["source_hashes"][path] == hashlib.blake2b(f.read(), digest_size=16).hexdigest()


def test_sources_that_cannot_be_read_once_are_left_to_the_decoders(cityscapes_dir, tmp_path, monkeypatch):
    frame = datasets.cityscapes_frames(cityscapes_dir, "train")[0]
    monkeypatch.setattr(process, "MAX_READ_ONCE_BYTES", os.path.getsize(frame.label))
    contents = process.read_sources(frame, ("semantic",))
    assert contents[frame.label] is not None and contents[frame.image] is None  # the image is larger
    r = process.process_frame(frame, BuildConfig(), stages=process.StageTimes())
    assert r["ok"] and r["record"] == process_frame_two_pass(frame, BuildConfig())["record"]
    fifo = tmp_path / "fifo_leftImg8bit.png"
    os.mkfifo(fifo)  # opening it to read would wait for a writer: never opened, the decoder names it
    bad = dataclasses.replace(frame, image=str(fifo))
    assert process.read_sources(bad, ("semantic",))[str(fifo)] is None
    assert process.source_hashes(bad, ("semantic",))[str(fifo)] is None
    r = process.process_frame(bad, BuildConfig())
    assert not r["ok"] and r["path"] == str(fifo) and "not a regular file" in r["error"]
