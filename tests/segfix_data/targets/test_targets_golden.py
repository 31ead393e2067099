"""Bit-for-bit pins of the targets on a spread of maps (generated, dense, noisy, every parameter).

The digests were recorded from a plain version of the targets code (before the capped EDT, the
faster masked filter and the cheaper binning) and must never change unless a definition in
``docs/targets.md`` changes. Each digest covers the dtype, shape and bytes of
``distance``, ``boundary``, ``direction`` and ``gradient`` (and the openseg arrays), so a sign of
zero or one rounding step anywhere fails the test.

Each array pinned is the same on every processor, with one exception handled here: the openseg
preset's ``dir_deg`` comes from a float32 ``arctan2``, whose last bit differs between AVX-512 and
AVX2 machines, so its code-edge pixels (``tests/support/code_edges.py``) are blanked before
hashing. Its gradient, depth and 8-direction bins are hashed whole, and they determine every other
code.

Regenerate (only after a deliberate change of definition): ``python3 -m tests.segfix_data.targets.test_targets_golden``.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from segfix_data import instance_targets, semantic_targets
from segfix_data.datasets.labels import cityscapes_instance_ids_to_segments, cityscapes_label_ids_to_train_ids
from segfix_data.synthetic import synthetic_cityscapes_frame
from tests.support.code_edges import processor_proof_dir_deg


def _digest(*arrays) -> str:
    h = hashlib.blake2b(digest_size=12)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.reshape(-1).view(np.uint8))
    return h.hexdigest()


def _frame(seed, h=192, w=384):
    f = synthetic_cityscapes_frame(seed, height=h, width=w)
    return cityscapes_label_ids_to_train_ids(f.label_ids), f.instance_ids


def _dense(train, k=3):
    """A denser scene: the frame subsampled by ``k`` and tiled k x k (~20% boundary pixels)."""
    h, w = train.shape
    return np.tile(train[::k, ::k], (k, k))[:h, :w].copy()


def _noise(seed, h=48, w=80, n=3):
    return np.random.default_rng(seed).integers(0, n, (h, w)).astype(np.uint8)


def _blocky(seed, h=60, w=90, n=5, block=3):
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, n, (h // block + 1, w // block + 1))
    lab = np.repeat(np.repeat(coarse, block, 0), block, 1)[:h, :w].astype(np.uint8)
    lab[rng.random(lab.shape) < 0.04] = 255
    return lab


def _cases():
    t0, inst0 = _frame(0)
    t1, _ = _frame(1)
    t2, _ = _frame(2, 128, 256)
    dense = _dense(_frame(3, 384, 768)[0])
    full = _frame(4, 1024, 2048)[0]
    seg0, seg_ignore = cityscapes_instance_ids_to_segments(inst0)
    sem = lambda lab, **kw: (lambda: semantic_targets(lab, **kw))  # noqa: E731
    cases = {
        "frame0": sem(t0), "frame1": sem(t1), "frame2": sem(t2), "dense3": sem(dense),
        "dense3_k5_m16": sem(dense, ksize=5, num_directions=16),
        "frame1_k3": sem(t1, ksize=3), "frame1_k5": sem(t1, ksize=5),
        "frame1_m4": sem(t1, num_directions=4), "frame1_m16": sem(t1, num_directions=16),
        "frame1_g1": sem(t1, gamma=1), "frame1_g2.5": sem(t1, gamma=2.5), "frame1_g10": sem(t1, gamma=10),
        "frame1_border": sem(t1, border_is_boundary=True),
        "frame1_noignore": sem(t1, ignore_index=None), "frame1_cap20": sem(t1, distance_cap=20.0),
        "noise": sem(_noise(0)), "noise_k9_m16": sem(_noise(1), num_directions=16, gamma=3),
        "noise_border": sem(_noise(2, n=2), border_is_boundary=True),
        "blocky": sem(_blocky(0)), "blocky_k3_m4": sem(_blocky(1), ksize=3, num_directions=4),
        "one_label": sem(np.full((20, 30), 4, np.uint8)),
        "instance0": lambda: instance_targets(seg0, ignore_index=seg_ignore),
        "full4": sem(full), "full4_dense3": sem(_dense(full)),
        "openseg0": sem(t0, preset="openseg"),
        "openseg_dense": sem(dense, preset="openseg"),
    }
    return cases


def _targets_digest(t) -> str:
    arrays = [t.distance, t.boundary, t.direction, t.gradient]
    if t.preset == "openseg":
        o = t.to_openseg()
        arrays += [o["depth"], processor_proof_dir_deg(o["dir_deg"], t.gradient)]
    return _digest(*arrays)


GOLDEN = {  # recorded before the targets' speed work (capped EDT, masked filter, binning); openseg rows
    # recorded again when their dir_deg hash left out the code-edge pixels
    'blocky': 'b99a7a28712ad41dc444cc91',  # 0.959 boundary
    'blocky_k3_m4': 'e3426886da001d5378bf42a9',  # 0.962 boundary
    'dense3': '62a24016286d2ac81ae134ad',  # 0.378 boundary
    'dense3_k5_m16': '04d0a3af241e300d0cf5873b',  # 0.378 boundary
    'frame0': '06a102e67f1e7bdd075df5a2',  # 0.295 boundary
    'frame1': 'dff2869f4278210e9bfcb7f8',  # 0.292 boundary
    'frame1_border': '5a1a9e94fb64c28ddee10492',  # 0.330 boundary
    'frame1_cap20': '5b6035b6b97b2c2c5a27edf8',  # 0.292 boundary
    'frame1_g1': '424560615ac15e57023b5136',  # 0.072 boundary
    'frame1_g10': 'f3590ed8ad67f94c116c8369',  # 0.494 boundary
    'frame1_g2.5': '5b1c046035f5fbd9a51f2904',  # 0.141 boundary
    'frame1_k3': '8a6b96fc19cbbf6b0c15125c',  # 0.292 boundary
    'frame1_k5': 'b4d6ceffaefcc5f50eb0e10e',  # 0.292 boundary
    'frame1_m16': 'efa46cf4b0cd4a591839df06',  # 0.292 boundary
    'frame1_m4': '1415e37489432e04546f61d5',  # 0.292 boundary
    'frame1_noignore': 'e45b22acb3357b9eeee49983',  # 0.317 boundary
    'frame2': '3d40df0f052fe0281adb7aa7',  # 0.396 boundary
    'full4': 'fce7f5fbbe6f277185caafcb',  # 0.083 boundary
    'full4_dense3': '5790df2a0dd9c35be4a36805',  # 0.218 boundary
    'instance0': '4d0ac0c655ba113517c8d307',  # 0.308 boundary
    'noise': '3abfa70d0345dfbccfae107c',  # 1.000 boundary
    'noise_border': '97bd9794552fe5406a06e637',  # 1.000 boundary
    'noise_k9_m16': 'bb9dfd158489322ae6a06f81',  # 1.000 boundary
    'one_label': '8bbcde588c7a5870f7962a63',  # 0.000 boundary
    'openseg0': '5603249c23a9f6bfebb5d87e',  # 0.315 boundary
    'openseg_dense': 'a8e8a63c1cd24ef0af947b22',  # 0.403 boundary
}


@pytest.fixture(scope="module")
def cases():
    return _cases()


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_targets_are_bit_identical_to_the_recorded_ones(cases, name):
    assert _targets_digest(cases[name]()) == GOLDEN[name]


def test_every_case_is_pinned(cases):
    assert sorted(cases) == sorted(GOLDEN)


if __name__ == "__main__":
    for name, fn in sorted(_cases().items()):
        t = fn()
        print(f"    {name!r}: {_targets_digest(t)!r},  # {np.mean(t.boundary == 1):.3f} boundary")
