"""A tiny painter for synthetic scenes: labelIds, instanceIds and an appearance map drawn together.

Every drawing call writes three maps at once inside the shape: the Cityscapes ``labelId`` (uint8),
the Cityscapes ``instanceId`` (int32) and an *appearance* index (int32) into a table of colours and
texture strengths that :meth:`Canvas.render` turns into an RGB image. Shapes are clipped to the
image; later calls paint over earlier ones (painter's order), so occlusion is the drawing order.

Only vectorised numpy and :mod:`skimage.draw` are used; no randomness lives here (the caller owns
the seeded generator), so the same calls give the same bytes.
"""
from __future__ import annotations

import numpy as np
from skimage import draw
from segfix_data.errors import InputError


class Canvas:
    """Label, instance and appearance maps of one (H, W) frame, plus the appearance table.

    Attributes:
        label_ids: uint8 (H, W) Cityscapes labelIds.
        instance_ids: int32 (H, W) Cityscapes instanceIds.
        appearance: int32 (H, W) index into the appearance table.
        shade: float32 (H, W) multiplicative shading (1 = none), written per object.
    """

    def __init__(self, height: int, width: int) -> None:
        if height < 16 or width < 16:
            raise InputError(f"frame must be at least 16x16 pixels, got height={height}, width={width}")
        self.height, self.width = int(height), int(width)
        shape = (self.height, self.width)
        self.label_ids = np.zeros(shape, dtype=np.uint8)
        self.instance_ids = np.zeros(shape, dtype=np.int32)
        self.appearance = np.zeros(shape, dtype=np.int32)
        self.shade = np.ones(shape, dtype=np.float32)
        self._colours: list[tuple[float, float, float]] = []
        self._fine: list[float] = []
        self._coarse: list[float] = []
        self._vgrad: list[float] = []
        self.add_appearance((0, 0, 0))  # index 0: black, for anything never painted

    def add_appearance(self, colour, fine: float = 6.0, coarse: float = 0.0, vgrad: float = 0.0) -> int:
        """Register a look: RGB ``colour`` (0..255), ``fine`` pixel-noise std (grey levels),
        ``coarse`` blotchy-noise std (grey levels) and ``vgrad`` brightness change from the top to
        the bottom of the image (fraction). Returns its appearance index."""
        self._colours.append(tuple(float(c) for c in colour))
        self._fine.append(float(fine))
        self._coarse.append(float(coarse))
        self._vgrad.append(float(vgrad))
        return len(self._colours) - 1

    # ------------------------------------------------------------------ drawing primitives
    def _put(self, rr, cc, label: int, inst: int, app: int, shade_span=None) -> None:
        if rr.size == 0:
            return
        self.label_ids[rr, cc] = label
        self.instance_ids[rr, cc] = inst
        self.appearance[rr, cc] = app
        if shade_span is not None:
            top, bottom, strength = shade_span
            rel = (rr - top) / max(bottom - top, 1.0)
            self.shade[rr, cc] = (1.0 + strength * (0.5 - rel)).astype(np.float32)

    def rect(self, y0, y1, x0, x1, label, inst, app, shade_span=None) -> None:
        """Fill rows ``[y0, y1)`` and columns ``[x0, x1)`` (floats are rounded, then clipped)."""
        r0, r1 = max(int(round(y0)), 0), min(int(round(y1)), self.height)
        c0, c1 = max(int(round(x0)), 0), min(int(round(x1)), self.width)
        if r0 >= r1 or c0 >= c1:
            return
        self.label_ids[r0:r1, c0:c1] = label
        self.instance_ids[r0:r1, c0:c1] = inst
        self.appearance[r0:r1, c0:c1] = app
        if shade_span is not None:
            top, bottom, strength = shade_span
            rel = (np.arange(r0, r1, dtype=np.float32) - top) / max(bottom - top, 1.0)
            self.shade[r0:r1, c0:c1] = (1.0 + strength * (0.5 - rel))[:, None]

    def polygon(self, ys, xs, label, inst, app, shade_span=None) -> None:
        """Fill the polygon with vertex rows ``ys`` and columns ``xs`` (floats)."""
        rr, cc = draw.polygon(np.asarray(ys, float), np.asarray(xs, float), (self.height, self.width))
        self._put(rr, cc, label, inst, app, shade_span)

    def ellipse(self, cy, cx, ry, rx, label, inst, app, shade_span=None) -> None:
        """Fill the axis-aligned ellipse with centre ``(cy, cx)`` and radii ``(ry, rx)`` >= 0.5 px."""
        rr, cc = draw.ellipse(cy, cx, max(ry, 0.5), max(rx, 0.5), (self.height, self.width))
        self._put(rr, cc, label, inst, app, shade_span)

    def ring(self, cy, cx, radius, thickness, label, inst, app) -> None:
        """Fill a circular ring (a wheel): outer ``radius``, at least 1 px thick; the hole is left."""
        r_out = max(radius, 1.0)
        r_in = max(r_out - max(thickness, 1.0), 0.0)
        y0, y1 = int(np.floor(cy - r_out)), int(np.ceil(cy + r_out)) + 1
        x0, x1 = int(np.floor(cx - r_out)), int(np.ceil(cx + r_out)) + 1
        y0, y1, x0, x1 = max(y0, 0), min(y1, self.height), max(x0, 0), min(x1, self.width)
        if y0 >= y1 or x0 >= x1:
            return
        yy, xx = np.mgrid[y0:y1, x0:x1]
        d2 = (yy - cy) ** 2 + (xx - cx) ** 2
        m = (d2 <= r_out * r_out) & (d2 >= r_in * r_in)
        self._put(yy[m], xx[m], label, inst, app)

    def where(self, m: np.ndarray, label, inst, app, y0: int = 0, x0: int = 0) -> None:
        """Fill where the boolean mask ``m`` is True; ``m`` covers the block whose top-left pixel
        is ``(y0, x0)`` (default: the full frame). ``app`` may be an int array shaped like ``m``."""
        sl = np.s_[y0:y0 + m.shape[0], x0:x0 + m.shape[1]]
        self.label_ids[sl][m] = label
        self.instance_ids[sl][m] = inst
        self.appearance[sl][m] = app if np.isscalar(app) else np.asarray(app)[m]

    # ------------------------------------------------------------------ image
    def render(self, rng: np.random.Generator) -> np.ndarray:
        """RGB image uint8 (H, W, 3): appearance colours x shading + fine and blotchy noise."""
        h, w = self.height, self.width
        colours = np.asarray(self._colours, dtype=np.float32)
        fine = np.asarray(self._fine, dtype=np.float32)
        coarse = np.asarray(self._coarse, dtype=np.float32)
        vgrad = np.asarray(self._vgrad, dtype=np.float32)
        rows = (np.arange(h, dtype=np.float32) / h - 0.5)[:, None]
        app = self.appearance
        # Slow illumination change over the frame (clouds, shadows) and a blotchy texture.
        illum = _smooth_noise(rng, h, w, 64)
        blot = _smooth_noise(rng, h, w, 6)
        grain = rng.standard_normal((h, w), dtype=np.float32)
        # In-place float32 arithmetic, one channel at a time: few full-frame temporaries.
        light = vgrad[app]
        light *= rows
        light += 1.0
        light *= self.shade
        illum *= 0.06
        illum += 1.0
        light *= illum
        offset = fine[app]
        offset *= grain
        blot *= coarse[app]
        offset += blot
        image = np.empty((h, w, 3), dtype=np.uint8)
        for c in range(3):
            chan = colours[:, c][app]
            chan *= light
            chan += offset
            np.clip(chan, 0.0, 255.0, out=chan)
            image[..., c] = chan  # truncation to uint8, as astype
        return image


def _linear_weights(n_out: int, n_in: int):
    """Indices and weights to resample ``n_in`` samples to ``n_out`` by linear interpolation."""
    pos = np.linspace(0.0, n_in - 1.0, n_out, dtype=np.float32)
    lo = np.minimum(pos.astype(np.int64), n_in - 2)
    return lo, (pos - lo).astype(np.float32)


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """float32 (h, w) noise, linearly interpolated from about one N(0, 1) sample per ``cell`` px."""
    small = rng.standard_normal((max(h // cell, 2), max(w // cell, 2)), dtype=np.float32)
    iy, ty = _linear_weights(h, small.shape[0])
    ix, tx = _linear_weights(w, small.shape[1])
    cols = small[:, ix] * (1.0 - tx) + small[:, ix + 1] * tx           # (h_small, w)
    return cols[iy] * (1.0 - ty)[:, None] + cols[iy + 1] * ty[:, None]  # (h, w)


def line_polygon(y0: float, x0: float, y1: float, x1: float, width: float):
    """Vertex rows and columns of a quad of ``width`` px (at least 1) around segment (y0,x0)-(y1,x1)."""
    dy, dx = y1 - y0, x1 - x0
    n = max(float(np.hypot(dy, dx)), 1e-6)
    half = max(width, 1.0) / 2.0
    oy, ox = -dx / n * half, dy / n * half
    return [y0 + oy, y1 + oy, y1 - oy, y0 - oy], [x0 + ox, x1 + ox, x1 - ox, x0 - ox]
