"""The build's frame step as it was before the one-pass targets: two target passes per variant
(gamma, then the direction band) and each source file read twice (once for its digest, once to
decode it). The reference of ``tests/segfix_data/shards/test_one_pass.py`` (the arrays and records
of :func:`segfix_data.shards.process.process_frame` must equal these) and the "before" side of
``benchmarks/bench_build.py``.
"""
from __future__ import annotations

import functools

from segfix_data import datasets as _datasets
from segfix_data.ignore import IGNORE_INDEX
from segfix_data.shards import codec as _codec
from segfix_data.shards import process as _process
from segfix_data.shards.process import NO_STAGES, _image_arrays, _instance_segments, _sparse, _variant_arrays


def _two_pass_kwargs(config) -> tuple[dict, dict | None]:
    """``(kwargs at gamma, kwargs at the band or None)``: the two calls of a frame's variant."""
    from segfix_data.targets import min_distance_bound

    over = config.target_overrides()
    band = config.resolved_direction_band()
    if config.preset != "paper":
        return over, None
    p = config.resolved_targets()
    narrow = {**over, "distance_bound": min_distance_bound(p["gamma"], p["ksize"])}
    wide = {**over, "gamma": band, "distance_bound": min_distance_bound(band, p["ksize"])} if band else None
    return narrow, wide


def two_pass_variant_targets(variant, label, frame, preset, narrow: dict, wide: dict | None):
    """A variant's targets by two calls: at gamma, and (with a band) at gamma = band for the band's
    directions, stored as the first call's ``band_direction``."""
    from segfix_data.targets import instance_targets, semantic_targets

    if variant == "semantic":
        seg, ignore, make = label, IGNORE_INDEX, semantic_targets
    else:
        ids = _datasets.read_instance_ids(frame.instance, expect_shape=label.shape, label_path=frame.label)
        seg, ignore = _instance_segments(ids, preset)
        make = instance_targets
    t = make(seg, ignore_index=ignore, preset=preset, **narrow)
    if wide is not None:
        t.band_direction = make(seg, ignore_index=ignore, preset=preset, **wide).direction
    return _process._VariantTargets(seg, ignore, t)


def process_frame_two_pass(frame, config, class_map=None, *, stages=NO_STAGES) -> dict:
    """:func:`~segfix_data.shards.process.process_frame` with two target passes per variant and
    every source read once for its digest and once more to decode it (the same steps and stage
    names otherwise)."""
    from segfix_data.datasets import pixels as _pixels

    _pixels.set_max_image_pixels(config.max_image_pixels)
    with stages("read sources"):
        stats = _process.source_stats(frame, config.variants)
    with stages("source digests"):
        hashes = _process.source_hashes(frame, config.variants)  # reads every file in full
    enc = functools.partial(_codec.encode_array, tile=config.tile, level=config.level, codec=config.codec)
    arrays, shape = _image_arrays(frame, config, None, stages)  # reads the image again
    with stages("label decode"):
        label = _datasets.read_label(frame.label, config.layout, expect_shape=shape,
                                    image_path=frame.image, class_map=class_map,
                                    reduce_zero_label=config.reduce_zero_label)
    with stages("label encode"):
        arrays["label"] = enc(label)
    narrow, wide = _two_pass_kwargs(config)
    record = {"stem": frame.stem, "shape": [int(label.shape[0]), int(label.shape[1])],
              "sources": frame.sources(), "source_stats": stats, "source_hashes": hashes,
              "class_pixels": {}, "class_boundary_pixels": {}, "distance": {}}
    for variant in config.variants:
        with stages("targets"):
            targets = two_pass_variant_targets(variant, label, frame, config.preset, narrow, wide)
        encoded, info, pixels, bpixels = _variant_arrays(variant, targets, label, config.preset, enc, stages)
        arrays.update(encoded)
        record["distance"][variant] = info
        record["class_pixels"] = _sparse(pixels)
        record["class_boundary_pixels"][variant] = _sparse(bpixels)
    with stages("record"):
        record["checksums"] = {name: a.checksum for name, a in arrays.items()}
        record["bytes"] = sum(a.nbytes for a in arrays.values())
    return {"ok": True, "stem": frame.stem, "arrays": arrays, "record": record}
