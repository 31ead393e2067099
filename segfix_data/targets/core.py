"""SegFix ground-truth targets: ``Targets``, ``semantic_targets``, ``instance_targets``, presets.

Definitions: ``docs/targets.md`` (sections 2-4 for ``paper``, section 6 for
``openseg``). One exact multi-label distance transform (:mod:`segfix_data.targets.edt`) and one
label-masked filter (:mod:`segfix_data.targets.gradient`) give every class's targets at once.

Output arrays (H, W):

==============  ========  ===================================================================
``distance``    float32   Euclidean distance in pixels to the nearest pixel of another label;
                          >= 1 on valid pixels, capped at ``params["distance_cap"]``; 0 on
                          ignore pixels (openseg: also 0 on skipped small classes, as theirs)
``boundary``    uint8     1 where ``distance <= gamma``, 0 elsewhere, 255 on ignore pixels
``direction``   uint8     direction bin ``0 .. m-1`` on boundary pixels whose direction is
                          defined, :data:`~segfix_data.targets.direction.DIRECTION_IGNORE` (255) elsewhere
==============  ========  ===================================================================
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .direction import DIRECTION_IGNORE, angle_to_bin, check_num_directions, direction_kernels
from .edt import multilabel_distance
from .gradient import masked_gradient_torch_order, narrow_to_boundary, paper_fields
from segfix_data.errors import InputError
from segfix_data.ignore import IGNORE_INDEX

#: Default parameters of each preset. ``openseg`` reproduces the authors' generator.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": dict(gamma=5.0, ksize=9, num_directions=8, border_is_boundary=False,
                  distance_cap=255.0),
    "openseg": dict(gamma=5.0, ksize=5, num_directions=8, border_is_boundary=False,
                    distance_cap=250.0, min_class_pixels=100),
}

#: A gradient whose norm is at most this is "numerically zero": its direction is undefined.
ZERO_GRADIENT = 1e-9

OPENSEG_DEG_REDUCE = 2


@dataclass
class Targets:
    """SegFix targets of one label map (see the module docstring for the arrays' meaning).

    Attributes:
        distance: float32 (H, W), pixels.
        boundary: uint8 (H, W), 1 / 0 / 255 (ignore).
        direction: uint8 (H, W), bins 0..m-1 / 255 (ignore or undefined).
        num_directions: m, the number of direction bins.
        preset: "paper" or "openseg".
        params: the resolved parameters.
        gradient: float32 (2, H, W) ``(gy, gx)`` where it was computed (boundary pixels for
            ``paper``; every pixel the authors filter for ``openseg``), 0 elsewhere.
        band_direction: uint8 (H, W) or None: with ``direction_band`` (``paper``), the direction
            bins of the valid pixels with ``distance <= direction_band`` (the ``direction`` that
            gamma = ``direction_band`` gives), 255 elsewhere; None without a band.
    """

    distance: np.ndarray
    boundary: np.ndarray
    direction: np.ndarray
    num_directions: int
    preset: str
    params: dict
    gradient: np.ndarray
    band_direction: np.ndarray | None = None
    _openseg: dict | None = field(default=None, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        return self.distance.shape

    def to_openseg(self) -> dict:
        """The authors' on-disk encoding: ``{"depth": uint8, "dir_deg": uint8, "deg_reduce": 2}``.

        For the ``openseg`` preset these are bit-compatible with the authors' ``.mat`` files.
        For ``paper`` they are encoded from this object's distance and gradient the same way
        (depth = truncated distance capped at 250, ignore 0; ``dir_deg`` = 90 where no gradient).
        """
        if self._openseg is not None:
            return dict(self._openseg)
        depth = np.minimum(self.distance, np.float32(250.0)).astype(np.uint8)
        return {
            "depth": depth,
            "dir_deg": encode_dir_deg(self.gradient[0], self.gradient[1]),
            "deg_reduce": OPENSEG_DEG_REDUCE,
        }


def encode_dir_deg(gy: np.ndarray, gx: np.ndarray) -> np.ndarray:
    """The authors' 2-degree angle encoding: ``uint8((degrees(atan2(gy, gx)) + 180) / 2)``.

    Computed in the dtype of ``gy``/``gx`` (their semantic script works in float32, the
    instance script in float64), truncating, values 0..180.
    """
    deg = np.degrees(np.arctan2(gy, gx)) + gy.dtype.type(180)
    return (deg / gy.dtype.type(OPENSEG_DEG_REDUCE)).astype(np.uint8)


def resolve_params(preset: str, overrides: dict) -> dict:
    """A preset's target parameters with ``overrides`` applied and validated.

    Args:
        preset: a key of :data:`PRESETS` ("paper" or "openseg").
        overrides: parameters given explicitly (``gamma``, ``ksize``, ``num_directions``,
            ``border_is_boundary``, ...); unknown keys are refused.

    Returns:
        The full parameter dict (``gamma`` a float in pixels, ``preset`` added). Raises
        ValueError naming the bad parameter.
    """
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    params = dict(PRESETS[preset])
    unknown = set(overrides) - set(params)
    if unknown:
        raise InputError(
            f"unknown target parameter(s) {sorted(unknown)} for preset {preset!r}; "
            f"known: {sorted(params)}"
        )
    params.update(overrides)
    params["num_directions"] = check_num_directions(params["num_directions"])
    direction_kernels(params["ksize"])  # validates ksize
    if not params["gamma"] > 0:
        raise InputError(f"gamma must be > 0 pixels, got {params['gamma']!r}")
    params["gamma"] = float(params["gamma"])
    params["border_is_boundary"] = bool(params["border_is_boundary"])
    params["preset"] = preset
    return params


def _check_map(label: np.ndarray, name: str, ignore_index: int | None) -> np.ndarray:
    arr = np.asarray(label)
    if arr.ndim != 2:
        raise InputError(f"{name} must be a 2-D (H, W) array, got shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{name} is empty (shape {arr.shape})")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    if not np.issubdtype(arr.dtype, np.integer):
        raise InputError(
            f"{name} must be an integer map of ids, got dtype {arr.dtype}; float label maps are "
            "ambiguous (interpolated?): convert with .astype(np.int32) once you know they hold ids"
        )
    if np.issubdtype(arr.dtype, np.signedinteger) and arr.size:
        negative = arr < 0
        if ignore_index is not None and ignore_index < 0:
            negative &= arr != ignore_index
        if negative.any():
            raise InputError(
                f"{name} holds negative ids (e.g. {int(arr[negative].min())}); ids must be >= 0 "
                "(pass the negative value as ignore_index if it marks ignored pixels)"
            )
    return arr


def min_distance_bound(gamma: float, ksize: int) -> float:
    """Smallest ``distance_bound`` (pixels) that leaves boundary and direction unchanged.

    A boundary pixel ``p`` has ``d(p) <= gamma``; the filter reads ``d(q)`` for pixels ``q`` of
    ``p``'s label in its ``ksize x ksize`` window, and ``d(q) <= d(p) + |q - p| <=
    gamma + (ksize // 2) * sqrt(2)`` (the distance is 1-Lipschitz). Every value the targets
    read is below this bound, so an EDT that is exact only up to it gives the same boundary,
    direction and gradient, bit for bit. (``+ 1e-6``: a margin over the rounding of the sum.)
    """
    return float(gamma) + (int(ksize) // 2) * float(np.sqrt(2.0)) + 1e-6


def _paper_targets(lab: np.ndarray, ignore_index: int | None, params: dict,
                   distance_bound: float | None = None, direction_band: float | None = None) -> Targets:
    """The ``paper`` targets in one pass: one EDT (capped at ``distance_bound``) and one filter
    scan of the pixels with ``distance <= reach``, where ``reach`` is ``direction_band`` (when
    given) or gamma. With a band, the scan's boundary and direction are the band's; the pixels
    beyond gamma are then taken out of ``boundary``, ``direction`` and ``gradient``
    (:func:`~segfix_data.targets.gradient.narrow_to_boundary`), which leaves them as a scan at
    gamma makes them: a pixel's direction does not depend on gamma (docs/targets.md, section 4).
    """
    gamma = params["gamma"]
    reach = gamma
    if direction_band is not None:
        reach = float(direction_band)
        if not reach >= gamma:
            raise InputError(f"direction_band {direction_band!r} is below gamma = {gamma} pixels; "
                             "the band holds the boundary: pass at least gamma, or None for no band")
        params["direction_band"] = reach
    if distance_bound is not None:
        need = min_distance_bound(reach, params["ksize"])
        if not float(distance_bound) >= need:
            what = "direction_band" if direction_band is not None else "gamma"
            raise InputError(
                f"distance_bound {distance_bound!r} is below {need:.3f} pixels = {what} + "
                "(ksize // 2) * sqrt(2), the distances the boundary and direction targets read; "
                "pass at least that, or None for the full distance")
        params["distance_bound"] = float(distance_bound)
    dist = multilabel_distance(lab, border_is_boundary=params["border_is_boundary"],
                               cap=distance_bound)
    distance, boundary, direction, gradient = paper_fields(
        lab, dist, ignore_index, reach, params["distance_cap"], params["ksize"],
        params["num_directions"], ZERO_GRADIENT,
    )
    band_direction = None
    if direction_band is not None:
        band_direction = narrow_to_boundary(dist, gamma, boundary, direction, gradient)
    return Targets(distance=distance, boundary=boundary, direction=direction,
                   num_directions=params["num_directions"], preset="paper", params=params,
                   gradient=gradient, band_direction=band_direction)


def _no_bound_for_openseg(distance_bound, direction_band=None) -> None:
    if distance_bound is not None:
        raise InputError("distance_bound applies to the paper preset only: the openseg preset "
                         "stores the authors' full depth")
    if direction_band is not None:
        raise InputError("direction_band applies to the paper preset only: the openseg preset "
                         "stores the authors' directions on their boundary only")


def _openseg_targets(lab: np.ndarray, valid: np.ndarray, computed: np.ndarray, params: dict,
                     float32_sums: bool) -> Targets:
    """The authors' generator, in one pass (targets.md section 6).

    ``computed`` marks the pixels whose segment the authors run their per-segment EDT and filter
    on; elsewhere depth and gradient are 0. ``float32_sums``: the semantic script accumulates in
    float32 arrays, the instance script in float64.
    """
    dist = multilabel_distance(lab, border_is_boundary=params["border_is_boundary"])
    if np.isinf(dist).any():
        # One value fills the map. scipy's EDT of an all-True mask measures the distance to a
        # phantom background pixel at (-1, 0); the authors' files hold exactly that.
        ys, xs = np.indices(lab.shape)
        dist = np.sqrt(((ys + 1) ** 2 + xs ** 2).astype(np.float64))
    dist[~computed] = 0.0
    ky, kx = direction_kernels(params["ksize"])
    gy32, gx32 = masked_gradient_torch_order(lab, dist.astype(np.float32), computed, ky, kx)
    acc = np.float32 if float32_sums else np.float64
    depth_f = dist.astype(acc)
    depth_f[depth_f > 250] = 250
    depth = depth_f.astype(np.uint8)
    dir_deg = encode_dir_deg(gy32.astype(acc), gx32.astype(acc))
    # Their loader: boundary = depth <= gamma on valid pixels; angle = 2 * dir_deg - 180, 8 bins.
    m = params["num_directions"]
    boundary_mask = valid & (depth <= params["gamma"])
    angle = OPENSEG_DEG_REDUCE * dir_deg.astype(np.float64) - 180.0
    direction = np.where(boundary_mask, angle_to_bin(angle, m), DIRECTION_IGNORE).astype(np.uint8)
    boundary = boundary_mask.astype(np.uint8)
    boundary[~valid] = IGNORE_INDEX
    distance = np.where(valid, np.minimum(dist, float(params["distance_cap"])), 0.0)
    return Targets(
        distance=distance.astype(np.float32),
        boundary=boundary,
        direction=direction,
        num_directions=m,
        preset="openseg",
        params=params,
        gradient=np.stack([gy32, gx32]),
        _openseg={"depth": depth, "dir_deg": dir_deg, "deg_reduce": OPENSEG_DEG_REDUCE},
    )


def semantic_targets(label: np.ndarray, *, ignore_index: int | None = IGNORE_INDEX, preset: str = "paper",
                     distance_bound: float | None = None, direction_band: float | None = None,
                     **overrides: Any) -> Targets:
    """Targets of a semantic label map.

    Args:
        label: (H, W) integer map of train ids (any integer dtype, ids >= 0; labels above 255
            and non-contiguous ids are fine).
        ignore_index: the value of ignored pixels (None: no pixel is ignored).
        preset: "paper" (default: ksize 9, gamma 5, 8 directions) or "openseg" (the authors'
            generator bit for bit: classes under 100 pixels skipped, ksize 5, float32 sums).
        distance_bound: ``paper`` only. None (default): the full distance. A number of pixels
            (at least :func:`min_distance_bound`, 10.66 for the defaults): distances are
            computed exactly only up to it (a capped EDT, ~0.75x the time), so ``distance``
            saturates at ``min(distance_bound, distance_cap)``; boundary, direction and
            gradient are unchanged to the bit. For callers that use only boundary and
            direction (the shard build); recorded as ``params["distance_bound"]``. With
            ``direction_band``, at least ``min_distance_bound(direction_band, ksize)``.
        direction_band: ``paper`` only. None (default): no band. A number of pixels (at least
            gamma): also fill :attr:`Targets.band_direction`, the directions of the pixels with
            ``distance <= direction_band``, in the same pass (one EDT, one filter scan; the
            other arrays are those without a band, bit for bit); recorded as
            ``params["direction_band"]``.
        **overrides: gamma, ksize, num_directions, border_is_boundary, distance_cap
            (and min_class_pixels for openseg).

    Returns:
        :class:`Targets`.

    Example:
        >>> import numpy as np
        >>> label = np.zeros((6, 8), np.uint8); label[:, 4:] = 1
        >>> t = semantic_targets(label, gamma=1)
        >>> t.boundary[3].tolist()
        [0, 0, 0, 1, 1, 0, 0, 0]
        >>> t.direction[3, 3:5].tolist()   # bin 0 points left (into label 0), bin 4 right
        [0, 4]
        >>> t.direction[0, 3:5].tolist()   # on the top row they tilt downward (7 down-left, 5 down-right)
        [7, 5]
    """
    params = resolve_params(preset, overrides)
    lab = _check_map(label, "label", ignore_index)
    valid = np.ones(lab.shape, bool) if ignore_index is None else lab != ignore_index
    if preset == "paper":
        return _paper_targets(lab, ignore_index, params, distance_bound, direction_band)
    _no_bound_for_openseg(distance_bound, direction_band)
    # openseg semantic: loop over classes 0..254 with >= min_class_pixels pixels.
    ids, counts = np.unique(lab[valid], return_counts=True)
    kept = ids[(counts >= params["min_class_pixels"]) & (ids < IGNORE_INDEX)]
    computed = np.isin(lab, kept) & valid
    return _openseg_targets(lab, valid, computed, params, float32_sums=True)


def instance_targets(segments: np.ndarray, *, ignore_index: int | None = None,
                     preset: str = "paper", distance_bound: float | None = None,
                     direction_band: float | None = None, **overrides: Any) -> Targets:
    """Targets of a segment map: every distinct value is one segment.

    Two touching instances of one class are separated by a boundary. Build ``segments`` from
    Cityscapes ``instanceIds`` with :func:`segfix_data.datasets.labels.cityscapes_instance_ids_to_segments`
    (or, for ``openseg``, ``cityscapes_instance_ids_to_openseg_segments`` with
    ``ignore_index=255``).

    Args:
        segments: (H, W) integer segment map (ids >= 0, or equal to a negative ignore_index).
        ignore_index: value of ignored pixels, or None. With ``openseg`` the ignored region is
            still one segment of the authors' depth/dir_deg (their instance script treats 255 as
            a segment), but it is ignore in ``boundary``/``direction``/``distance``.
        preset, distance_bound, direction_band, overrides: as for :func:`semantic_targets` (openseg instance:
            no small-segment skip, float64 sums).
    """
    params = resolve_params(preset, overrides)
    seg = _check_map(segments, "segments", ignore_index)
    valid = np.ones(seg.shape, bool) if ignore_index is None else seg != ignore_index
    if preset == "paper":
        return _paper_targets(seg, ignore_index, params, distance_bound, direction_band)
    _no_bound_for_openseg(distance_bound, direction_band)
    return _openseg_targets(seg, valid, np.ones(seg.shape, bool), params, float32_sums=False)
