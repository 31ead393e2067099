"""Look at targets before training on them: a readable PNG panel and per-class boundary statistics.

* :func:`render_panel` draws one sample's image, label colours, distance heatmap, boundary band,
  direction colour wheel and a zoomed crop with one arrow per boundary pixel into a single RGB
  array (no I/O; :func:`save_panel` writes it).
* :func:`boundary_width_stats` counts, per class, the share of the class's pixels that lie within
  ``w`` pixels of another label (the paper's Table 12), using the exact distance transform;
  :func:`format_boundary_width_table` prints it. Stats of several images add up with ``+``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from segfix_data.atomic import atomic_path
from .direction import angle_to_bin, bin_centres, check_num_directions
from .edt import multilabel_distance
from .labels import CITYSCAPES_CLASS_NAMES

#: Cityscapes colours of the 19 train ids (the official palette).
CITYSCAPES_PALETTE = np.array([
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
    (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152),
    (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100),
    (0, 80, 100), (0, 0, 230), (119, 11, 32)], dtype=np.uint8)

# Anchors of a perceptually ordered colour map (viridis-like), dark = near the boundary.
_HEAT_ANCHORS = np.array([(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)], float)


def label_palette(ignore_index: int = 255) -> np.ndarray:
    """uint8 (256, 3) colour of every id: Cityscapes colours for 0..18, distinct generated colours
    (the PASCAL VOC bit pattern) above, black for ``ignore_index``."""
    pal = np.zeros((256, 3), dtype=np.uint8)
    ids = np.arange(256)
    for bit in range(8):
        for ch in range(3):
            pal[:, ch] |= (((ids >> (3 * bit + ch)) & 1) << (7 - bit)).astype(np.uint8)
    pal[: len(CITYSCAPES_PALETTE)] = CITYSCAPES_PALETTE
    if 0 <= ignore_index < 256:
        pal[ignore_index] = 0
    return pal


def colourise_labels(label: np.ndarray, ignore_index: int = 255) -> np.ndarray:
    """(H, W) integer train ids -> uint8 (H, W, 3) colours (ignore black; ids >= 256 wrap)."""
    label = np.asarray(label).astype(np.int64)
    return label_palette(ignore_index)[np.where(label == ignore_index, ignore_index, label % 256)]


def colourise_segments(segments: np.ndarray, ignore: np.ndarray | None = None) -> np.ndarray:
    """(H, W) integer segment ids -> uint8 (H, W, 3), one hashed colour per id (ignore black)."""
    ids, inverse = np.unique(np.asarray(segments).astype(np.int64), return_inverse=True)
    h = (ids * 2654435761 + 12345) % (1 << 32)
    cols = np.stack([(h >> 8) & 255, (h >> 16) & 255, (h >> 24) & 255], axis=1)
    cols = (60 + (cols * 195) // 255).astype(np.uint8)  # never too dark to tell from ignore
    out = cols[inverse.reshape(np.shape(segments))]
    if ignore is not None:
        out[ignore] = 0
    return out


def heatmap(values: np.ndarray, vmax: float) -> np.ndarray:
    """float (H, W) in ``[0, vmax]`` -> uint8 (H, W, 3) colours (values above vmax saturate)."""
    t = np.clip(np.nan_to_num(values / max(vmax, 1e-9), posinf=1.0), 0.0, 1.0) * (len(_HEAT_ANCHORS) - 1)
    lo = np.minimum(t.astype(np.int64), len(_HEAT_ANCHORS) - 2)
    frac = (t - lo)[..., None]
    return (_HEAT_ANCHORS[lo] * (1 - frac) + _HEAT_ANCHORS[lo + 1] * frac).astype(np.uint8)


def hue_colours(angles_deg: np.ndarray) -> np.ndarray:
    """Fully saturated colours (float (..., 3), 0..255) whose hue is the angle (0 deg = red)."""
    h = (np.mod(np.asarray(angles_deg, float), 360.0) / 60.0)[..., None]
    k = np.mod(np.array([5.0, 3.0, 1.0]) + h, 6.0)
    return 255.0 * (1.0 - np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0))


def direction_colours(num_directions: int) -> np.ndarray:
    """uint8 (256, 3): colour of each direction bin (hue = the bin's centre angle); 255 -> grey."""
    m = check_num_directions(num_directions)
    table = np.full((256, 3), 60, dtype=np.uint8)
    table[:m] = hue_colours(bin_centres(m)).astype(np.uint8)
    return table


# ----------------------------------------------------------------------------------- panel
def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _nearest(arr: np.ndarray, h: int, w: int) -> np.ndarray:
    rows = (np.arange(h) * arr.shape[0]) // h
    cols = (np.arange(w) * arr.shape[1]) // w
    return arr[rows][:, cols]


def _pool_min(arr: np.ndarray, h: int, w: int) -> np.ndarray:
    """Resize to (h, w) keeping the minimum of each source block (nearest when enlarging), so
    that thin structures with small codes survive downscaling."""
    rows = (np.arange(h) * arr.shape[0]) // h
    cols = (np.arange(w) * arr.shape[1]) // w
    return np.minimum.reduceat(np.minimum.reduceat(arr, rows, axis=0), cols, axis=1)


def busiest_window(direction: np.ndarray, num_directions: int, size: tuple[int, int]) -> tuple[int, int]:
    """Top-left ``(y0, x0)`` of the ``size = (h, w)`` window holding the most boundary pixels with a
    defined direction, counting each bin as ``sqrt(count)`` so that varied directions win."""
    h, w = min(size[0], direction.shape[0]), min(size[1], direction.shape[1])
    stride = max(min(h, w) // 4, 1)
    ys = np.arange(0, direction.shape[0] - h + 1, stride)
    xs = np.arange(0, direction.shape[1] - w + 1, stride)
    score = np.zeros((ys.size, xs.size))
    for b in range(num_directions):
        integral = np.pad(np.cumsum(np.cumsum(direction == b, 0, dtype=np.int64), 1), ((1, 0), (1, 0)))
        count = (integral[ys[:, None] + h, xs[None, :] + w] - integral[ys[:, None], xs[None, :] + w]
                 - integral[ys[:, None] + h, xs[None, :]] + integral[ys[:, None], xs[None, :]])
        score += np.sqrt(count)
    iy, ix = np.unravel_index(int(np.argmax(score)), score.shape)
    return int(ys[iy]), int(xs[ix])


def _wheel(radius: int, num_directions: int) -> np.ndarray:
    """uint8 (2r+1, 2r+1, 4) RGBA legend disc: each angle in its bin's colour."""
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    bins = angle_to_bin(np.degrees(np.arctan2(yy, xx)), num_directions)
    rgba = np.zeros(yy.shape + (4,), dtype=np.uint8)
    rgba[..., :3] = direction_colours(num_directions)[bins]
    rgba[..., 3] = np.where(yy ** 2 + xx ** 2 <= radius ** 2, 255, 0)
    return rgba


def _zoom_tile(image, label, colours, boundary, direction, m, window, tile_w, tile_h):
    """Crop ``window`` of the maps, enlarge it with nearest neighbours, and draw one arrow per
    boundary pixel along its direction bin's centre angle. ``label`` gives the white edges and
    ``colours`` (H, W, 3) the fill."""
    y0, x0, ch, cw = window
    sl = np.s_[y0:y0 + ch, x0:x0 + cw]
    base = colours[sl].astype(np.float32)
    if image is not None:
        base = 0.55 * base + 0.45 * image[sl].astype(np.float32)
    band = boundary[sl] == 1
    base[band] = 0.6 * base[band] + 0.4 * 255.0
    zoom = max(min(tile_w // cw, tile_h // ch), 1)
    big = np.repeat(np.repeat(base.astype(np.uint8), zoom, 0), zoom, 1)
    canvas = Image.fromarray(big)
    draw = ImageDraw.Draw(canvas)
    lab = label[sl]
    edge_y = np.flatnonzero((lab[:-1] != lab[1:]).ravel())  # label edges as thin white lines
    for idx in edge_y:
        r, c = divmod(int(idx), cw)
        draw.line([(c * zoom, (r + 1) * zoom), ((c + 1) * zoom, (r + 1) * zoom)], fill=(255, 255, 255))
    for idx in np.flatnonzero((lab[:, :-1] != lab[:, 1:]).ravel()):
        r, c = divmod(int(idx), cw - 1)
        draw.line([((c + 1) * zoom, r * zoom), ((c + 1) * zoom, (r + 1) * zoom)], fill=(255, 255, 255))
    centres = np.radians(bin_centres(m))
    rr, cc = np.nonzero(direction[sl] < m)
    length = 0.42 * zoom
    for r, c in zip(rr.tolist(), cc.tolist()):
        a = centres[direction[y0 + r, x0 + c]]
        cy, cx = (r + 0.5) * zoom, (c + 0.5) * zoom
        dy, dx = np.sin(a) * length, np.cos(a) * length
        tip = (cx + dx, cy + dy)
        draw.line([(cx - dx, cy - dy), tip], fill=(0, 0, 0), width=max(zoom // 8, 1))
        for side in (-1, 1):  # arrow head
            ha = a + np.pi + side * 0.5
            draw.line([tip, (tip[0] + np.cos(ha) * 0.45 * length, tip[1] + np.sin(ha) * 0.45 * length)],
                      fill=(0, 0, 0), width=max(zoom // 8, 1))
    out = np.full((tile_h, tile_w, 3), 255, dtype=np.uint8)
    arr = np.asarray(canvas)[:tile_h, :tile_w]
    out[: arr.shape[0], : arr.shape[1]] = arr
    return out, zoom


def _check_panel_inputs(image, label, distance, boundary, direction):
    label = np.asarray(label)
    if label.ndim != 2 or not np.issubdtype(label.dtype, np.integer):
        raise ValueError(f"label must be an integer (H, W) array, got shape {label.shape} dtype {label.dtype}")
    shape = label.shape
    for name, arr in (("distance", distance), ("boundary", boundary), ("direction", direction)):
        if np.shape(arr) != shape:
            raise ValueError(f"{name} must have the label's shape {shape}, got {np.shape(arr)}")
    if image is not None:
        image = np.asarray(image)
        if image.shape != shape + (3,) or image.dtype != np.uint8:
            raise ValueError(f"image must be uint8 (H, W, 3) = {shape + (3,)}, got {image.shape} {image.dtype}")
    return image, label


def render_panel(image, label, distance, boundary, direction, num_directions: int, *,
                 ignore_index: int = 255, tile_width: int = 640, crop_rows: int = 28,
                 distance_vmax: float | None = None, title: str | None = None,
                 segments: np.ndarray | None = None) -> np.ndarray:
    """One sample's targets as a 2 x 3 grid of titled tiles, for a person to check.

    Tiles: the image; label colours (Cityscapes palette for train ids, ignore black); the distance
    heatmap (dark = near another label); the boundary band in red over the image (ignore grey);
    the direction bins coloured by angle (hue = bin centre, legend disc in the corner, white box =
    the zoomed window); a zoomed crop of the busiest boundary region with label edges in white and
    one arrow per boundary pixel pointing along its direction (into its object).

    Args:
        image: uint8 (H, W, 3) RGB, or None (label colours are shown instead).
        label: integer (H, W) train ids; ``ignore_index`` marks ignored pixels.
        distance: float (H, W) distance in pixels (``Targets.distance``).
        boundary: uint8 (H, W) 1 / 0 / 255 (``Targets.boundary``).
        direction: uint8 (H, W) bins ``0..m-1``, 255 none (``Targets.direction``).
        num_directions: m (4, 8 or 16).
        tile_width: width of each tile in pixels; tiles keep the frame's aspect ratio.
        crop_rows: height of the zoomed window in source pixels (its width follows the tiles).
        distance_vmax: distance shown at full brightness; default the 99th percentile (>= 10 px).
        title: optional line drawn above the grid (e.g. the sample's stem).
        segments: optional integer (H, W) segment map of instance targets: the label tile and the
            zoom then show one colour per segment and the segments' edges.

    Returns:
        uint8 (P, Q, 3) RGB panel.
    """
    image, label = _check_panel_inputs(image, label, distance, boundary, direction)
    m = check_num_directions(num_directions)
    h, w = label.shape
    tile_w = int(tile_width)
    tile_h = max(int(round(h * tile_w / w)), 8)
    distance = np.asarray(distance, dtype=np.float32)
    boundary, direction = np.asarray(boundary), np.asarray(direction)
    ignore = label == ignore_index
    valid_d = distance[~ignore & np.isfinite(distance)]
    if distance_vmax is None:
        distance_vmax = max(float(np.percentile(valid_d, 99)) if valid_d.size else 10.0, 10.0)

    labels_rgb = colourise_labels(label, ignore_index)
    shown = image if image is not None else labels_rgb
    regions, regions_rgb = label, labels_rgb
    if segments is not None:
        if np.shape(segments) != label.shape or not np.issubdtype(np.asarray(segments).dtype, np.integer):
            raise ValueError(f"segments must be an integer array of the label's shape {label.shape}, "
                             f"got {np.shape(segments)}")
        regions = np.asarray(segments)
        regions_rgb = colourise_segments(regions, boundary == 255)
    small_img = np.asarray(Image.fromarray(shown).resize((tile_w, tile_h), Image.BILINEAR))
    small_lab = _nearest(regions_rgb, tile_h, tile_w)
    heat = heatmap(distance, distance_vmax)
    heat[ignore] = 0
    small_heat = _nearest(heat, tile_h, tile_w)
    # 0 = band, 1 = ignore, 2 = neither: the min-pool keeps thin bands visible after downscaling
    b_code = np.where(boundary == 1, 0, np.where(boundary == 255, 1, 2)).astype(np.uint8)
    b_small = _pool_min(b_code, tile_h, tile_w)
    overlay = (small_img * 0.6).astype(np.uint8)
    overlay[b_small == 0] = (255, 40, 40)
    overlay[b_small == 1] = (110, 110, 110)
    d_small = _pool_min(direction, tile_h, tile_w)
    dir_tile = (small_img.mean(axis=2, keepdims=True) * 0.25).astype(np.uint8).repeat(3, axis=2)
    has_dir = d_small < m
    dir_tile[has_dir] = direction_colours(m)[d_small[has_dir]]

    ch = min(int(crop_rows), h)
    cw = min(max(int(round(ch * tile_w / tile_h)), 1), w)
    y0, x0 = busiest_window(direction, m, (ch, cw))
    zoom_tile, zoom = _zoom_tile(image, regions, regions_rgb, boundary, direction, m, (y0, x0, ch, cw),
                                 tile_w, tile_h)

    dir_img = Image.fromarray(dir_tile)
    radius = max(min(tile_h, tile_w) // 8, 6)
    wheel = Image.fromarray(_wheel(radius, m), "RGBA")
    dir_img.paste(wheel, (tile_w - 2 * radius - 6, 5), wheel)
    ImageDraw.Draw(dir_img).rectangle(
        [x0 * tile_w / w, y0 * tile_h / h, (x0 + cw) * tile_w / w, (y0 + ch) * tile_h / h],
        outline=(255, 255, 255), width=2)

    n_band = int((boundary == 1).sum())
    tiles = [
        (small_img, "image" if image is not None else "image (not stored: label colours)"),
        (small_lab, "label (train ids; ignore black)" if segments is None
         else "segments (one colour per instance / stuff class; ignore black)"),
        (small_heat, f"distance to another label, 0..{distance_vmax:.0f} px (bright = far)"),
        (overlay, f"boundary band (red, {n_band} px; grey = ignore)"),
        (np.asarray(dir_img), f"direction: hue = bin angle ({m} bins, legend top right)"),
        (zoom_tile, f"zoom x{zoom} of rows {y0}..{y0 + ch - 1}, cols {x0}..{x0 + cw - 1}: arrows = direction"),
    ]
    font_px = max(12, min(18, tile_w // 36))
    font = _font(font_px)
    bar, gap = font_px + 8, 6
    top = bar if title else 0
    panel = Image.new("RGB", (3 * tile_w + 4 * gap, top + 2 * (tile_h + bar) + 3 * gap), (255, 255, 255))
    draw = ImageDraw.Draw(panel)
    if title:
        draw.text((gap, 3), title, fill=(0, 0, 0), font=font)
    for i, (tile, text) in enumerate(tiles):
        r, c = divmod(i, 3)
        x = gap + c * (tile_w + gap)
        y = top + gap + r * (tile_h + bar + gap)
        draw.text((x, y + 2), text, fill=(0, 0, 0), font=font)
        panel.paste(Image.fromarray(np.ascontiguousarray(tile)), (x, y + bar))
    return np.asarray(panel)


def save_panel(path, panel: np.ndarray) -> Path:
    """Write a panel (uint8 (H, W, 3)) as PNG, under a temporary name then renamed into place."""
    panel = np.asarray(panel)
    if panel.ndim != 3 or panel.shape[2] != 3 or panel.dtype != np.uint8:
        raise ValueError(f"panel must be uint8 (H, W, 3), got {panel.shape} {panel.dtype}")
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(panel).save(tmp, format="PNG")
    return path


# ------------------------------------------------------------------------------ statistics
@dataclass
class BoundaryWidthStats:
    """Per-class pixel counts near boundaries (add several images' stats with ``+``).

    Attributes:
        widths: the widths ``w`` in pixels.
        pixels: int64 (K,) pixels of each class.
        within: int64 (K, len(widths)) pixels of each class with distance <= w to another label.
    """

    widths: tuple
    pixels: np.ndarray
    within: np.ndarray

    @property
    def share(self) -> np.ndarray:
        """float64 (K, len(widths)): ``within / pixels``; NaN for classes without pixels."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.pixels[:, None] > 0, self.within / np.maximum(self.pixels, 1)[:, None], np.nan)

    def __add__(self, other: "BoundaryWidthStats") -> "BoundaryWidthStats":
        if tuple(self.widths) != tuple(other.widths) or self.pixels.shape != other.pixels.shape:
            raise ValueError("cannot add stats with different widths or numbers of classes")
        return BoundaryWidthStats(tuple(self.widths), self.pixels + other.pixels, self.within + other.within)


def boundary_width_stats(label: np.ndarray, num_classes: int, widths=(1, 2, 3, 4, 5),
                         ignore_index: int = 255) -> BoundaryWidthStats:
    """Per class, the pixels within ``w`` pixels of a boundary (paper's Table 12).

    A pixel is within width ``w`` when its exact Euclidean distance to the nearest pixel of another
    label (ignore pixels count as another label; the image border does not) is ``<= w``.

    Args:
        label: integer (H, W) train ids ``0..num_classes-1``; ``ignore_index`` is left out.
        num_classes: K.
        widths: increasing positive widths in pixels.

    Returns:
        :class:`BoundaryWidthStats`; ``.share`` gives the fractions.
    """
    label = np.asarray(label)
    if label.ndim != 2 or not np.issubdtype(label.dtype, np.integer):
        raise ValueError(f"label must be an integer (H, W) array, got shape {label.shape} dtype {label.dtype}")
    widths = tuple(float(x) for x in widths)
    if not widths or min(widths) <= 0:
        raise ValueError(f"widths must be positive numbers of pixels, got {widths}")
    valid = label != ignore_index
    bad = valid & ((label < 0) | (label >= num_classes))
    if bad.any():
        raise ValueError(f"label holds ids outside 0..{num_classes - 1} (and ignore {ignore_index}): "
                         f"{np.unique(label[bad])[:10].tolist()}")
    dist = multilabel_distance(label)
    cls = label[valid].astype(np.int64)
    d = dist[valid]
    pixels = np.bincount(cls, minlength=num_classes).astype(np.int64)
    within = np.stack([np.bincount(cls[d <= w], minlength=num_classes) for w in widths], axis=1)
    return BoundaryWidthStats(widths, pixels, within.astype(np.int64))


def format_boundary_width_table(stats: BoundaryWidthStats, class_names=None) -> str:
    """Text table: one row per class with pixels, then the share (%) within each width."""
    k = stats.pixels.size
    if class_names is None:
        class_names = CITYSCAPES_CLASS_NAMES if k == len(CITYSCAPES_CLASS_NAMES) else [str(i) for i in range(k)]
    name_w = max(8, max(len(n) for n in class_names))
    head = f"{'class':<{name_w}} {'pixels':>11} " + " ".join(f"{'w<=' + format(w, 'g'):>7}" for w in stats.widths)
    lines = [head, "-" * len(head)]
    share = stats.share
    for i in range(k):
        if stats.pixels[i] == 0:
            continue
        lines.append(f"{class_names[i]:<{name_w}} {stats.pixels[i]:>11d} "
                     + " ".join(f"{100 * s:>6.1f}%" for s in share[i]))
    total = stats.pixels.sum()
    if total:
        all_share = stats.within.sum(0) / total
        lines.append("-" * len(head))
        lines.append(f"{'all':<{name_w}} {total:>11d} " + " ".join(f"{100 * s:>6.1f}%" for s in all_share))
    return "\n".join(lines)
