"""Refinement: replace boundary pixels' labels by the labels their offsets point to (numba).

Definition (``docs/targets.md`` section 5): the offset of pixel ``p`` is
``o(p) = s * bin_to_offset(dir(p))`` on boundary pixels with a direction and ``(0, 0)`` elsewhere
(``s`` = ``scale``: 2 by default for label maps, paper scheme (i); 1 in the authors' instance script).
The refined map is an exact index shift

    L'(p) = L(q_n(p)),   q_0 = p,   q_{k+1} = clamp(q_k + o(q_k)),

with ``clamp`` to the image and ``n = iterations``. ``iterations = 1`` is the plain shift (scheme (i));
``iterations > 1`` is the paper's scheme (ii): the shift is repeated while the target pixel is itself
a boundary pixel (a "fake" interior pixel), up to ``iterations`` steps. Because ``o`` is zero off the
boundary, a chain stops by itself as soon as it reaches an interior pixel.

Unlike the authors' bilinear ``grid_sample`` this never mixes labels: every output value is a
value of the input at some pixel, so no new label id can appear, and binary masks stay binary.

Offsets come either from a boundary mask and direction bins (``segfix predict``, shards) or as a
ready ``(H, W, 2)`` integer field ``(dy, dx)`` (the authors' ``.mat`` files); in the latter case the
boundary is "offset non-zero".
"""
from __future__ import annotations

import numba
import numpy as np

from segfix_data.targets.direction import DIRECTION_IGNORE, bin_offsets, check_num_directions


def _check_shape2(name: str, arr: np.ndarray, shape: tuple | None = None) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (H, W) array, got shape {arr.shape}")
    if shape is not None and arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)} (the label map's), got {arr.shape}")
    return arr


def _check_direction(direction: np.ndarray, shape: tuple) -> np.ndarray:
    """Direction bins as contiguous uint8; values >= m (255 = none) mean "no offset"."""
    direction = _check_shape2("direction", direction, shape)
    if not np.issubdtype(direction.dtype, np.integer):
        raise ValueError(f"direction must be a uint8 array of bins (255 = none), got dtype {direction.dtype}")
    if direction.dtype != np.uint8 and direction.size and (direction.min() < 0 or direction.max() > 255):
        raise ValueError("direction must hold uint8 bins (0..m-1, 255 = none)")
    return np.ascontiguousarray(direction.astype(np.uint8, copy=False))


def _check_iterations(iterations: int) -> int:
    if int(iterations) != iterations or iterations < 1:
        raise ValueError(f"iterations must be an integer >= 1, got {iterations!r}")
    return int(iterations)


def _check_scale(scale: int) -> int:
    if int(scale) != scale or scale < 0:
        raise ValueError(f"scale must be a non-negative integer, got {scale!r}")
    return int(scale)


def offset_table(num_directions: int, scale: int = 2) -> np.ndarray:
    """Scaled bin -> offset table padded to 256 rows: int64 ``(256, 2)`` ``(dy, dx)`` in pixels.

    Row ``b < m`` holds ``scale * bin_offsets(m)[b]``; every other row (255 = no direction) is 0.
    """
    m = check_num_directions(num_directions)
    table = np.zeros((256, 2), dtype=np.int64)
    table[:m] = _check_scale(scale) * bin_offsets(m)
    return table


def offsets_from_direction(
    boundary: np.ndarray, direction: np.ndarray, num_directions: int, scale: int = 2
) -> np.ndarray:
    """The offset field ``o(p)`` of targets.md section 5.

    Args:
        boundary: (H, W) integer; a pixel is a boundary pixel iff its value is 1 (255 = ignore
            counts as not boundary).
        direction: (H, W) uint8 bins ``0 .. m-1``; 255 (or any value >= m) = no direction.
        num_directions: ``m`` (4, 8, 16).
        scale: integer factor ``s`` on every offset.

    Returns:
        int16 (H, W, 2): ``(dy, dx)`` in pixels; ``(0, 0)`` off the boundary.
    """
    boundary = _check_shape2("boundary", boundary)
    d = _check_direction(direction, boundary.shape).copy()
    table = offset_table(num_directions, scale).astype(np.int16)
    d[boundary != 1] = DIRECTION_IGNORE
    out = np.empty(d.shape + (2,), dtype=np.int16)
    out[..., 0] = table[:, 0][d]
    out[..., 1] = table[:, 1][d]
    return out


# The kernels spell the chain out inline: a helper returning a (y, x) tuple made them ~7x slower.


@numba.njit(cache=True, nogil=True)
def _shift_by_direction(label, boundary, direction, table, iterations, out):
    h, w = label.shape
    for y in range(h):
        for x in range(w):  # copy the row first: a tight loop the compiler vectorises
            out[y, x] = label[y, x]
        for x in range(w):
            if boundary[y, x] == 1:
                b = direction[y, x]
                qy = min(max(y + table[b, 0], 0), h - 1)
                qx = min(max(x + table[b, 1], 0), w - 1)
                for _ in range(iterations - 1):  # scheme (ii): only while on the boundary
                    if boundary[qy, qx] != 1:
                        break
                    b = direction[qy, qx]
                    qy = min(max(qy + table[b, 0], 0), h - 1)
                    qx = min(max(qx + table[b, 1], 0), w - 1)
                out[y, x] = label[qy, qx]


@numba.njit(cache=True, nogil=True)
def _shift_once_words(label, boundary, words, direction, table, out):
    """One shift (scheme i) when W % 8 == 0: ``words`` is ``boundary`` viewed as uint64
    (H, W // 8), so eight pixels without a boundary pixel cost one test (2x faster)."""
    h, w = label.shape
    for y in range(h):
        for x in range(w):
            out[y, x] = label[y, x]
        for k in range(w // 8):
            if words[y, k] == 0:
                continue
            for x in range(8 * k, 8 * k + 8):
                if boundary[y, x] == 1:
                    b = direction[y, x]
                    qy = min(max(y + table[b, 0], 0), h - 1)
                    qx = min(max(x + table[b, 1], 0), w - 1)
                    out[y, x] = label[qy, qx]


@numba.njit(cache=True, nogil=True)
def _shift_by_offsets(label, offsets, iterations, out):
    h, w = label.shape
    for y in range(h):
        for x in range(w):
            out[y, x] = label[y, x]
        for x in range(w):
            dy = offsets[y, x, 0]
            dx = offsets[y, x, 1]
            if dy == 0 and dx == 0:
                continue
            qy = min(max(y + dy, 0), h - 1)
            qx = min(max(x + dx, 0), w - 1)
            for _ in range(iterations - 1):
                dy = offsets[qy, qx, 0]
                dx = offsets[qy, qx, 1]
                if dy == 0 and dx == 0:
                    break
                qy = min(max(qy + dy, 0), h - 1)
                qx = min(max(qx + dx, 0), w - 1)
            out[y, x] = label[qy, qx]


@numba.njit(cache=True, nogil=True)
def _source_pairs(boundary, direction, table, iterations):
    """Flat (destination, source) index pairs of every pixel whose source differs from itself."""
    h, w = boundary.shape
    n = 0
    dst = np.empty(h * w, np.int64)
    src = np.empty(h * w, np.int64)
    for y in range(h):
        for x in range(w):
            if boundary[y, x] == 1:
                b = direction[y, x]
                qy = min(max(y + table[b, 0], 0), h - 1)
                qx = min(max(x + table[b, 1], 0), w - 1)
                for _ in range(iterations - 1):
                    if boundary[qy, qx] != 1:
                        break
                    b = direction[qy, qx]
                    qy = min(max(qy + table[b, 0], 0), h - 1)
                    qx = min(max(qx + table[b, 1], 0), w - 1)
                if qy != y or qx != x:
                    dst[n] = y * w + x
                    src[n] = qy * w + qx
                    n += 1
    return dst[:n].copy(), src[:n].copy()


def _prepare_label(label: np.ndarray) -> np.ndarray:
    label = _check_shape2("label", label)
    if not (np.issubdtype(label.dtype, np.integer) or label.dtype == np.bool_):
        raise ValueError(f"label must be an integer (or bool) array, got dtype {label.dtype}")
    return np.ascontiguousarray(label.view(np.uint8) if label.dtype == np.bool_ else label)


def refine_labels(
    label: np.ndarray,
    boundary: np.ndarray,
    direction: np.ndarray,
    num_directions: int,
    *,
    scale: int = 2,
    iterations: int = 1,
) -> np.ndarray:
    """Refine a label map with a boundary mask and direction bins (targets.md section 5).

    Args:
        label: (H, W) integer (or bool) label map, any ids; returned with the same dtype.
        boundary: (H, W) integer, 1 = boundary pixel (0 and 255 are not).
        direction: (H, W) uint8 bins ``0 .. m-1``, 255 = no direction (offset 0).
        num_directions: ``m`` (4, 8 or 16).
        scale: integer factor on the offsets (2 = paper scheme (i) for label maps).
        iterations: number of shifts (1 = scheme (i); > 1 = scheme (ii), stops at interior pixels).

    Returns:
        (H, W) array of ``label``'s dtype; every value is a value of ``label``.
    """
    lab = _prepare_label(label)
    boundary = np.ascontiguousarray(_check_shape2("boundary", boundary, lab.shape))
    if not np.issubdtype(boundary.dtype, np.integer) and boundary.dtype != np.bool_:
        raise ValueError(f"boundary must be an integer (uint8) array, got dtype {boundary.dtype}")
    boundary = boundary.view(np.uint8) if boundary.dtype.itemsize == 1 else (boundary == 1).view(np.uint8)
    direction = _check_direction(direction, lab.shape)
    table = offset_table(num_directions, scale)
    iterations = _check_iterations(iterations)
    out = np.empty_like(lab)
    if iterations == 1 and lab.shape[1] % 8 == 0:
        _shift_once_words(lab, boundary, boundary.view(np.uint64), direction, table, out)
    else:
        _shift_by_direction(lab, boundary, direction, table, iterations, out)
    return out.view(np.bool_) if np.asarray(label).dtype == np.bool_ else out


def refine_labels_with_offsets(label: np.ndarray, offsets: np.ndarray, *, iterations: int = 1) -> np.ndarray:
    """Refine a label map with a ready offset field (e.g. the authors' ``.mat`` offsets).

    Args:
        label: (H, W) integer (or bool) label map; returned with the same dtype.
        offsets: (H, W, 2) integer ``(dy, dx)`` in pixels (already scaled); a pixel with a non-zero
            offset is a boundary pixel for scheme (ii).
        iterations: as in :func:`refine_labels`.

    Returns:
        (H, W) array of ``label``'s dtype.
    """
    lab = _prepare_label(label)
    offsets = np.asarray(offsets)
    if offsets.shape != lab.shape + (2,):
        raise ValueError(f"offsets must have shape {lab.shape + (2,)} (H, W, 2), got {offsets.shape}")
    if not np.issubdtype(offsets.dtype, np.integer):
        if not np.array_equal(offsets, np.round(offsets)):
            raise ValueError(f"offsets must be integer pixel shifts, got non-integer {offsets.dtype} values")
    if offsets.dtype.kind not in "iu":
        offsets = offsets.astype(np.int64)
    offsets = np.ascontiguousarray(offsets)
    out = np.empty_like(lab)
    _shift_by_offsets(lab, offsets, _check_iterations(iterations), out)
    return out.view(np.bool_) if np.asarray(label).dtype == np.bool_ else out


def source_index_pairs(
    boundary: np.ndarray, direction: np.ndarray, num_directions: int, *, scale: int = 1, iterations: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """The shift as flat index pairs, to apply it to many masks of one image cheaply.

    Returns:
        ``(dst, src)`` int64 1-D arrays of flat indices into an (H, W) map: ``out.flat[dst] =
        in.flat[src]`` and every other pixel unchanged gives :func:`refine_labels`'s result.
    """
    boundary = np.ascontiguousarray(_check_shape2("boundary", boundary))
    direction = _check_direction(direction, boundary.shape)
    table = offset_table(num_directions, scale)
    return _source_pairs(boundary, direction, table, _check_iterations(iterations))


def refine_masks(
    masks,
    boundary: np.ndarray,
    direction: np.ndarray,
    num_directions: int,
    *,
    scale: int = 1,
    iterations: int = 1,
):
    """Refine instance masks one at a time with the same shift (binary in, binary out).

    Args:
        masks: iterable of (H, W) masks (bool or 0/1 / 0/255 integer); each keeps its dtype and
            its two values.
        boundary, direction, num_directions, iterations: as in :func:`refine_labels`.
        scale: 1 by default (the authors' instance script).

    Returns:
        A list of refined masks, same order, shapes and dtypes.
    """
    boundary = _check_shape2("boundary", boundary)
    dst, src = source_index_pairs(boundary, direction, num_directions, scale=scale, iterations=iterations)
    out = []
    for i, mask in enumerate(masks):
        mask = np.asarray(mask)
        if mask.shape != boundary.shape:
            raise ValueError(f"mask {i} must have shape {boundary.shape} (the offsets'), got {mask.shape}")
        refined = np.array(mask, copy=True, order="C")
        refined.reshape(-1)[dst] = mask.reshape(-1)[src]
        out.append(refined)
    return out
