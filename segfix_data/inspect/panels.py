"""Look at targets before training on them: a readable PNG panel of one sample.

:func:`render_panel` draws one sample's image, label colours, distance heatmap, boundary band,
direction colour wheel and a zoomed crop with one arrow per boundary pixel into a single RGB array
(no I/O; :func:`save_panel` writes it).
"""
from __future__ import annotations

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
    h, w = label.shape
    tile_w = int(tile_width)
    tile_h = max(int(round(h * tile_w / w)), 8)
    distance = np.asarray(distance, dtype=np.float32)
    boundary, direction = np.asarray(boundary), np.asarray(direction)
    ignore = label == ignore_index
    valid_d = distance[~ignore & np.isfinite(distance)]
    if distance_vmax is None:
        distance_vmax = max(float(np.percentile(valid_d, 99)) if valid_d.size else 10.0, 10.0)

    labels_rgb = colourise_labels(label, ignore_index, palette)
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
        (small_lab, ("label (VOC colours; ignore cream)" if palette == "voc" else "label (train ids; ignore black)")
         if segments is None
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


