"""Look at targets before training on them: a readable PNG panel of one sample.

:func:`render_panel` draws one sample's image, label colours, distance heatmap, boundary band,
direction colour wheel and a zoomed crop with one arrow per boundary pixel into a single RGB array
(no I/O; :func:`save_panel` writes it).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from segfix_data.atomic import atomic_path
from segfix_data.ignore import IGNORE_INDEX
from segfix_data.targets.direction import angle_to_bin, bin_centres, check_num_directions

from .colours import colourise_labels, colourise_segments, direction_colours, heatmap


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
                 ignore_index: int = IGNORE_INDEX, tile_width: int = 640, crop_rows: int = 28,
                 distance_vmax: float | None = None, title: str | None = None,
                 segments: np.ndarray | None = None, palette: str = "cityscapes") -> np.ndarray:
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
        palette: label colours, "cityscapes" or "voc" (:func:`~.colours.label_palette`).

    Returns:
        uint8 (P, Q, 3) RGB panel.
    """
    image, label = _check_panel_inputs(image, label, distance, boundary, direction)
    m = check_num_directions(num_directions)
    distance = np.asarray(distance, dtype=np.float32)
    boundary, direction = np.asarray(boundary), np.asarray(direction)
    grid = _Grid.of(label.shape, tile_width)
    ignore = label == ignore_index
    if distance_vmax is None:
        distance_vmax = _default_vmax(distance, ignore)
    labels_rgb = colourise_labels(label, ignore_index, palette)
    regions, regions_rgb = _regions(label, labels_rgb, segments, boundary)
    small_img = grid.resize(image if image is not None else labels_rgb)
    window = _zoom_window(direction, m, crop_rows, grid)
    tiles = [
        (small_img, "image" if image is not None else "image (not stored: label colours)"),
        (_nearest(regions_rgb, grid.tile_h, grid.tile_w), _label_caption(palette, segments is not None)),
        (_distance_tile(distance, ignore, distance_vmax, grid),
         f"distance to another label, 0..{distance_vmax:.0f} px (bright = far)"),
        _boundary_tile(boundary, small_img, grid),
        _direction_tile(direction, m, small_img, window, grid),
        _zoom(image, regions, regions_rgb, boundary, direction, m, window, grid),
    ]
    return _compose(tiles, grid, title)


@dataclass(frozen=True)
class _Grid:
    """The frame's size ``(h, w)`` and that of every tile (``tile_w`` wide, the frame's aspect)."""

    h: int
    w: int
    tile_w: int
    tile_h: int

    @classmethod
    def of(cls, shape: tuple[int, int], tile_width: int) -> "_Grid":
        h, w = shape
        tile_w = int(tile_width)
        return cls(h, w, tile_w, max(int(round(h * tile_w / w)), 8))

    def resize(self, rgb: np.ndarray) -> np.ndarray:
        """uint8 (tile_h, tile_w, 3): an RGB frame resized bilinearly to a tile."""
        return np.asarray(Image.fromarray(rgb).resize((self.tile_w, self.tile_h), Image.BILINEAR))


def _default_vmax(distance: np.ndarray, ignore: np.ndarray) -> float:
    """The 99th percentile of the finite distances off ignore pixels, at least 10 px."""
    valid_d = distance[~ignore & np.isfinite(distance)]
    return max(float(np.percentile(valid_d, 99)) if valid_d.size else 10.0, 10.0)


def _regions(label, labels_rgb, segments, boundary) -> tuple[np.ndarray, np.ndarray]:
    """The map whose regions the label tile and the zoom show, and its colours: the label, or the
    instance ``segments`` (one colour each, ignore black where the boundary says ignore)."""
    if segments is None:
        return label, labels_rgb
    if np.shape(segments) != label.shape or not np.issubdtype(np.asarray(segments).dtype, np.integer):
        raise ValueError(f"segments must be an integer array of the label's shape {label.shape}, "
                         f"got {np.shape(segments)}")
    regions = np.asarray(segments)
    return regions, colourise_segments(regions, boundary == IGNORE_INDEX)


def _label_caption(palette: str, instance: bool) -> str:
    if instance:
        return "segments (one colour per instance / stuff class; ignore black)"
    return "label (VOC colours; ignore cream)" if palette == "voc" else "label (train ids; ignore black)"


def _distance_tile(distance, ignore, vmax: float, grid: _Grid) -> np.ndarray:
    """The distance heatmap (black on ignore), nearest-neighbour sized to a tile."""
    heat = heatmap(distance, vmax)
    heat[ignore] = 0
    return _nearest(heat, grid.tile_h, grid.tile_w)


def _boundary_tile(boundary, small_img, grid: _Grid) -> tuple[np.ndarray, str]:
    """The boundary band red and ignore grey over the darkened image tile, with its caption."""
    # 0 = band, 1 = ignore, 2 = neither: the min-pool keeps thin bands visible after downscaling
    b_code = np.where(boundary == 1, 0, np.where(boundary == IGNORE_INDEX, 1, 2)).astype(np.uint8)
    b_small = _pool_min(b_code, grid.tile_h, grid.tile_w)
    overlay = (small_img * 0.6).astype(np.uint8)
    overlay[b_small == 0] = (255, 40, 40)
    overlay[b_small == 1] = (110, 110, 110)
    return overlay, f"boundary band (red, {int((boundary == 1).sum())} px; grey = ignore)"


def _zoom_window(direction, m: int, crop_rows: int, grid: _Grid) -> tuple[int, int, int, int]:
    """``(y0, x0, h, w)`` of the zoomed window: ``crop_rows`` rows (at most the frame's), as wide
    as the tiles' aspect gives, placed on the busiest boundary region (:func:`busiest_window`)."""
    ch = min(int(crop_rows), grid.h)
    cw = min(max(int(round(ch * grid.tile_w / grid.tile_h)), 1), grid.w)
    y0, x0 = busiest_window(direction, m, (ch, cw))
    return y0, x0, ch, cw


def _direction_tile(direction, m: int, small_img, window, grid: _Grid) -> tuple[np.ndarray, str]:
    """Direction bins in their colours over the dark image tile, the legend disc top right and the
    zoomed ``window`` outlined in white, with its caption."""
    d_small = _pool_min(direction, grid.tile_h, grid.tile_w)
    dir_tile = (small_img.mean(axis=2, keepdims=True) * 0.25).astype(np.uint8).repeat(3, axis=2)
    has_dir = d_small < m
    dir_tile[has_dir] = direction_colours(m)[d_small[has_dir]]
    dir_img = Image.fromarray(dir_tile)
    radius = max(min(grid.tile_h, grid.tile_w) // 8, 6)
    wheel = Image.fromarray(_wheel(radius, m), "RGBA")
    dir_img.paste(wheel, (grid.tile_w - 2 * radius - 6, 5), wheel)
    y0, x0, ch, cw = window
    th, tw, h, w = grid.tile_h, grid.tile_w, grid.h, grid.w
    ImageDraw.Draw(dir_img).rectangle([x0 * tw / w, y0 * th / h, (x0 + cw) * tw / w, (y0 + ch) * th / h],
                                      outline=(255, 255, 255), width=2)
    return np.asarray(dir_img), f"direction: hue = bin angle ({m} bins, legend top right)"


def _zoom(image, regions, regions_rgb, boundary, direction, m: int, window, grid: _Grid) -> tuple[np.ndarray, str]:
    """The zoomed crop (:func:`_zoom_tile`) with its caption."""
    y0, x0, ch, cw = window
    tile, zoom = _zoom_tile(image, regions, regions_rgb, boundary, direction, m, window, grid.tile_w, grid.tile_h)
    return tile, f"zoom x{zoom} of rows {y0}..{y0 + ch - 1}, cols {x0}..{x0 + cw - 1}: arrows = direction"


def _compose(tiles: list, grid: _Grid, title: str | None) -> np.ndarray:
    """uint8 (P, Q, 3): the six ``(tile, caption)`` pairs in 2 rows of 3 on white, each caption
    above its tile, the ``title`` (if any) above the grid."""
    font_px = max(12, min(18, grid.tile_w // 36))
    font = _font(font_px)
    bar, gap = font_px + 8, 6
    top = bar if title else 0
    panel = Image.new("RGB", (3 * grid.tile_w + 4 * gap, top + 2 * (grid.tile_h + bar) + 3 * gap),
                      (255, 255, 255))
    draw = ImageDraw.Draw(panel)
    if title:
        draw.text((gap, 3), title, fill=(0, 0, 0), font=font)
    for i, (tile, text) in enumerate(tiles):
        r, c = divmod(i, 3)
        x = gap + c * (grid.tile_w + gap)
        y = top + gap + r * (grid.tile_h + bar + gap)
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


