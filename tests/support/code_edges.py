"""Comparing the authors' 2-degree ``dir_deg`` codes across processors.

The authors' semantic and ADE20K generator scripts encode a pixel's direction as
``uint8((degrees(arctan2(gy, gx)) + 180) / 2)`` of *float32* gradients. numpy's float32 ``arctan2``
runs different SIMD code on processors with AVX-512 than on those with AVX2 only, and the last
bit of the angle moves. Where the exact angle code ``(deg + 180) / 2`` is an integer (exactly
horizontal or vertical gradients, 179/180 and 44/45) or within a rounding of one, truncation puts
the pixel one code apart on one kind of processor than on the other. The authors' own script does
the same: run on two machines it gives two ``dir_deg`` maps that differ on exactly such pixels
(``../shared/fixtures/openseg_parity/README.md``). Nothing else moves: ``depth``, the boundary and
the 8-direction bins are equal everywhere.

:func:`code_edge_pixels` defines the pixels where a comparison tolerates a one-code step: the
angle code computed in float64 with the C library's scalar ``atan2`` (the same result on every
x86-64 processor) from the float32 gradient, within :data:`CODE_EDGE_TOLERANCE` of an integer.
:func:`assert_openseg_codes_equal` compares everything else exactly.
"""
from __future__ import annotations

import math

import numpy as np

from segfix_data.targets.direction import angle_to_bin

#: How close (in 2-degree code units) the float64 angle code must be to an integer for a pixel to
#: count as lying at a code edge: 5e-5 codes = 1e-4 degrees, about 2.5x the largest error of the
#: float32 chain ``arctan2`` (2 ulp at pi), ``degrees`` and ``+ 180`` (half an ulp at 360 each),
#: and 5x the farthest pixel seen to move (9.8e-6 codes).
CODE_EDGE_TOLERANCE = 5e-5

#: The most pixels of a map whose code may differ (a fraction of its pixels): every one of them
#: must lie in the code-edge class, and more would mean a change beyond rounding. The parity
#: fixtures differ between the two processors on 0.16-0.27%.
MAX_DIFFERING_FRACTION = 0.01


def angle_code_f64(gy: np.ndarray, gx: np.ndarray) -> np.ndarray:
    """The exact (untruncated) angle code ``(degrees(atan2(gy, gx)) + 180) / 2`` in float64.

    Args:
        gy, gx: (H, W) gradients (any float dtype; float32 ones are widened exactly).

    Returns:
        (H, W) float64 codes in [0, 180], computed with the scalar C ``atan2`` (not numpy's SIMD
        loops), so the same on every processor.
    """
    gy64 = np.asarray(gy, np.float64).ravel()
    gx64 = np.asarray(gx, np.float64).ravel()
    deg = np.fromiter((math.degrees(math.atan2(a, b)) for a, b in zip(gy64, gx64)), np.float64, gy64.size)
    return ((deg + 180.0) / 2.0).reshape(np.shape(gy))


def code_edge_pixels(gy: np.ndarray, gx: np.ndarray, tol: float = CODE_EDGE_TOLERANCE) -> np.ndarray:
    """(H, W) bool: the pixels whose angle lies at a 2-degree code edge.

    A pixel is in the class when its float64 angle code (:func:`angle_code_f64`) is within ``tol``
    codes of an integer, so that a float32 ``arctan2`` one ulp above or below the exact angle
    truncates to codes one apart (k - 1 or k): in practice gradients a float32 rounding away from
    horizontal or vertical (``gy`` of 1e-6 beside ``gx`` of -4, code 179.99999). Pixels with a
    zero component are not in it: ``arctan2`` of a zero is a special case every implementation
    returns exactly (0, +-pi/2, +-pi), so exactly horizontal or vertical gradients and pixels with
    no gradient get the same code on every processor.
    """
    gy, gx = np.asarray(gy), np.asarray(gx)
    code = angle_code_f64(gy, gx)
    return (gy != 0) & (gx != 0) & (np.abs(code - np.rint(code)) <= tol)


def assert_openseg_codes_equal(depth, dir_deg, ref_depth, ref_dir_deg, gradient, valid=None,
                               num_directions: int = 8, gamma: float = 5.0) -> dict:
    """Assert that ``(depth, dir_deg)`` equal the authors' arrays up to the code-edge class.

    Exact: ``depth``, the boundary (``depth <= gamma`` on ``valid`` pixels, their loader's rule),
    and the ``num_directions`` bins of ``2 * dir_deg - 180`` on every pixel. ``dir_deg`` exactly,
    except on :func:`code_edge_pixels` of ``gradient``, where it may differ by one code, on at most
    :data:`MAX_DIFFERING_FRACTION` of the pixels.

    Args:
        depth, dir_deg: (H, W) uint8, ours. ref_depth, ref_dir_deg: (H, W) uint8, the authors'.
        gradient: (2, H, W) float, (gy, gx) the codes were encoded from.
        valid: (H, W) bool, pixels that are not ignore (None: all).

    Returns:
        ``{"differ": n, "code_edge": n, "pixels": n}``: how many pixels' codes differ, how many the
        class holds, and the map's size.
    """
    valid = np.ones(depth.shape, bool) if valid is None else valid
    np.testing.assert_array_equal(depth, ref_depth, err_msg="depth")
    np.testing.assert_array_equal(valid & (depth <= gamma), valid & (ref_depth <= gamma), err_msg="boundary")
    bins = angle_to_bin(2.0 * dir_deg.astype(np.float64) - 180.0, num_directions)
    ref_bins = angle_to_bin(2.0 * ref_dir_deg.astype(np.float64) - 180.0, num_directions)
    np.testing.assert_array_equal(bins, ref_bins, err_msg=f"{num_directions}-direction bins")
    edge = code_edge_pixels(gradient[0], gradient[1])
    differ = dir_deg != ref_dir_deg
    off_edge = differ & ~edge
    assert not off_edge.any(), (
        f"dir_deg differs on {int(off_edge.sum())} pixel(s) outside the code-edge class (pixels whose "
        f"float64 angle code lies within {CODE_EDGE_TOLERANCE} of an integer), first at "
        f"{tuple(int(i) for i in np.argwhere(off_edge)[0])}")
    step = np.abs(dir_deg.astype(np.int16) - ref_dir_deg.astype(np.int16))[differ]
    assert (step == 1).all(), f"dir_deg codes at the code edge differ by more than one: {sorted(set(step))}"
    assert differ.sum() <= MAX_DIFFERING_FRACTION * differ.size, (
        f"dir_deg differs on {int(differ.sum())} of {differ.size} code-edge pixels, over "
        f"{MAX_DIFFERING_FRACTION:.0%}: more than rounding moves")
    return {"differ": int(differ.sum()), "code_edge": int(edge.sum()), "pixels": int(edge.size)}


def processor_proof_dir_deg(dir_deg: np.ndarray, gradient: np.ndarray) -> np.ndarray:
    """``dir_deg`` with its code-edge pixels set to 255 (no code is 255): the same bytes on every
    processor, for digests."""
    out = np.array(dir_deg, np.uint8, copy=True)
    out[code_edge_pixels(gradient[0], gradient[1])] = 255
    return out
