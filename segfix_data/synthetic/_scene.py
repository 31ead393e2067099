"""Camera geometry and the 3-D things of the synthetic street scenes (:mod:`segfix_data.synthetic`).

A pinhole camera ``CAMERA_HEIGHT_M`` above a flat street looks along +Z; X grows to the right and
heights grow upward, all in metres; :meth:`_Scene.proj` maps a point to (row, column). Each drawer
paints one object (a person, a bicycle with its rider, a car / bus / truck, a pole with a sign or a
light, a tree) into the scene's :class:`~segfix_data.synthetic._canvas.Canvas`, taking every random choice
from the scene's generator.
"""
from __future__ import annotations

import numpy as np

from ._canvas import Canvas, line_polygon

# Cityscapes labelIds used here.
UNLABELED, EGO, OUT_OF_ROI, STATIC, DYNAMIC, GROUND = 0, 1, 3, 4, 5, 6
ROAD, SIDEWALK, PARKING, BUILDING, WALL, FENCE = 7, 8, 9, 11, 12, 13
POLE, LIGHT, SIGN, VEGETATION, TERRAIN, SKY = 17, 19, 20, 21, 22, 23
PERSON, RIDER, CAR, TRUCK, BUS, MOTORCYCLE, BICYCLE = 24, 25, 26, 27, 28, 32, 33

CAMERA_HEIGHT_M = 1.25
MIN_INSTANCES = 20  # visible thing instances per frame (more are drawn; some end up hidden)
FOCAL_PER_WIDTH = 1.1


class _Scene:
    """Camera geometry plus the canvas; helpers project metres to pixels and draw 3-D things."""

    def __init__(self, rng: np.random.Generator, height: int, width: int) -> None:
        self.rng = rng
        self.c = Canvas(height, width)
        self.h, self.w = height, width
        self.f = FOCAL_PER_WIDTH * width
        self.cam = CAMERA_HEIGHT_M
        self.yh = height * rng.uniform(0.40, 0.46)   # horizon row
        self.vx = width * rng.uniform(0.45, 0.55)    # vanishing-point column
        self.counts: dict[int, int] = {}

    # geometry ------------------------------------------------------------------------------
    def proj(self, x_m: float, z_m: float, h_m: float = 0.0) -> tuple[float, float]:
        """(row, col) of the point at lateral ``x_m``, depth ``z_m`` and height ``h_m`` (metres)."""
        s = self.f / z_m
        return self.yh + (self.cam - h_m) * s, self.vx + x_m * s

    def new_instance(self, label: int) -> int:
        k = self.counts.get(label, 0)
        self.counts[label] = k + 1
        return label * 1000 + k

    def app(self, colour, fine=6.0, coarse=0.0, vgrad=0.0, jitter=0.0) -> int:
        col = np.asarray(colour, float) + self.rng.uniform(-jitter, jitter, 3)
        return self.c.add_appearance(np.clip(col, 0, 255), fine, coarse, vgrad)

    # 3-D primitives --------------------------------------------------------------------------
    def box(self, x0, x1, z0, z1, h0, h1, label, inst, app, side_app=None, shade=0.25) -> None:
        """An axis-aligned box seen from the camera: the near face and the side facing the road."""
        top, _ = self.proj(0.0, z0, h1)
        bottom, _ = self.proj(0.0, z0, h0)
        span = (top, bottom, shade)
        side = x1 if x1 < 0 else (x0 if x0 > 0 else None)
        if side is not None:
            pts = [self.proj(side, z0, h0), self.proj(side, z1, h0), self.proj(side, z1, h1),
                   self.proj(side, z0, h1)]
            self.c.polygon([p[0] for p in pts], [p[1] for p in pts], label, inst,
                           app if side_app is None else side_app, span)
        (ya, xa), (yb, xb) = self.proj(x0, z0, h1), self.proj(x1, z0, h0)
        self.c.rect(ya, yb, xa, xb, label, inst, app, span)

    def plane_block(self, lateral, side, z_lo, z_hi, h_lo, h_hi_of_z):
        """The vertical wall ``|X| = lateral`` on one side (-1 left, +1 right) between depths
        ``[z_lo, z_hi)`` and heights ``[h_lo, h_hi_of_z(z))`` (metres).

        Returns ``(x0, inside, z, height)``: the block covers all rows and columns
        ``x0 .. x0 + n - 1``; ``inside`` bool (H, n); ``z`` float32 (n,) depth of each column;
        ``height`` float32 (H, n) height above the ground of each pixel. ``None`` when empty.
        """
        cols = np.arange(self.w)
        t = (self.vx - cols) if side < 0 else (cols - self.vx)
        ok = t > 0.5
        z = np.where(ok, lateral * self.f / np.maximum(t, 0.5), np.inf)
        ok &= (z >= z_lo) & (z < z_hi)
        if not ok.any():
            return None
        idx = np.flatnonzero(ok)          # contiguous: depth is monotonic in the column
        x0, x1 = idx[0], idx[-1] + 1
        z = z[x0:x1].astype(np.float32)
        rows = np.arange(self.h, dtype=np.float32)[:, None]
        height = self.cam + (self.yh - rows) * (z / self.f)[None, :]
        inside = (height >= h_lo) & (height < h_hi_of_z(z)[None, :])
        return x0, inside, z, height

def _person(sc: _Scene, x_m, z_m, label, inst, crouch=False) -> None:
    """A pedestrian (or a seated rider when ``crouch``) standing at ground point (x_m, z_m)."""
    rng, c = sc.rng, sc.c
    s = sc.f / z_m
    tall = rng.uniform(1.55, 1.95)
    foot_y, cx = sc.proj(x_m, z_m, 0.9 if crouch else 0.0)
    top = foot_y - tall * s * (0.62 if crouch else 1.0)
    span = (top, foot_y, 0.2)
    skin = sc.app((200, 160, 130), 5, jitter=40)
    shirt = sc.app(rng.uniform(20, 230, 3), 6, 4)
    trousers = sc.app(rng.uniform(20, 120, 3), 6, 3)
    hip = foot_y - (0.0 if crouch else 0.48 * tall * s)
    shoulder = top + 0.18 * tall * s
    half = 0.19 * s
    stride = rng.uniform(-0.15, 0.15) * s
    leg_w = 0.13 * s
    if crouch:  # legs hang down to the pedals
        for dx in (-0.5 * half, 0.5 * half):
            ys, xs = line_polygon(hip, cx + dx, hip + 0.45 * tall * s, cx + dx + 0.15 * s, leg_w)
            c.polygon(ys, xs, label, inst, trousers, span)
    else:
        for sgn in (-1, 1):
            ys, xs = line_polygon(hip, cx + sgn * 0.4 * half, foot_y, cx + sgn * (0.4 * half + stride), leg_w)
            c.polygon(ys, xs, label, inst, trousers, span)
    lean = 0.25 * s if crouch else 0.0
    c.polygon([shoulder, shoulder, hip, hip], [cx - half + lean, cx + half + lean, cx + half, cx - half],
              label, inst, shirt, span)
    for sgn in (-1, 1):
        ys, xs = line_polygon(shoulder + 0.03 * s, cx + lean + sgn * half, hip - 0.05 * s,
                              cx + lean + sgn * (half + rng.uniform(0.0, 0.12) * s), 0.09 * s)
        c.polygon(ys, xs, label, inst, shirt, span)
    head_r = 0.11 * tall * s
    c.ellipse(top + head_r, cx + lean, head_r * 1.1, head_r * 0.85, label, inst, skin, span)


def _two_wheeler(sc: _Scene, x_m, z_m, motor: bool) -> None:
    """A bicycle or motorcycle seen from the side with its rider (two touching instances)."""
    c, rng = sc.c, sc.rng
    s = sc.f / z_m
    label = MOTORCYCLE if motor else BICYCLE
    inst = sc.new_instance(label)
    frame_app = sc.app(rng.uniform(20, 200, 3), 5)
    tyre = sc.app((25, 25, 25), 3)
    radius = (0.32 if motor else 0.35) * s
    y_ground, cx = sc.proj(x_m, z_m, 0.0)
    hub_y = y_ground - radius
    half_base = (0.7 if motor else 0.55) * s
    thick = (0.1 if motor else 0.05) * s
    for dx in (-half_base, half_base):
        c.ring(hub_y, cx + dx, radius, thick, label, inst, tyre)
    seat_y = hub_y - 0.55 * s
    tube = max(0.04 * s, 1.5)
    for (ya, xa, yb, xb) in ((hub_y, cx - half_base, seat_y, cx - 0.1 * s), (seat_y, cx - 0.1 * s, hub_y, cx),
                             (hub_y, cx, hub_y, cx - half_base), (hub_y, cx, seat_y, cx + 0.5 * s),
                             (seat_y, cx + 0.5 * s, hub_y, cx + half_base),
                             (seat_y - 0.12 * s, cx + 0.45 * s, seat_y - 0.12 * s, cx + 0.62 * s)):
        ys, xs = line_polygon(ya, xa, yb, xb, tube)
        c.polygon(ys, xs, label, inst, frame_app)
    if motor:
        c.ellipse(hub_y - 0.3 * s, cx, 0.22 * s, 0.55 * s, label, inst, frame_app)
    rider = sc.new_instance(RIDER)
    _person(sc, x_m - 0.1, z_m, RIDER, rider, crouch=True)


def _car(sc: _Scene, x_c, z0, label=CAR, length=4.4, width=1.8, height=1.45) -> None:
    """A car (or, with other sizes, a bus or truck) whose rear face is at depth z0."""
    rng = sc.rng
    inst = sc.new_instance(label)
    colours = [(230, 230, 230), (25, 25, 30), (160, 165, 170), (150, 25, 25), (30, 50, 130), (90, 95, 80)]
    body = sc.app(colours[rng.integers(len(colours))], 5, 2, jitter=20)
    side = sc.app(np.asarray(sc.c._colours[body]) * 0.8, 5, 2)
    glass = sc.app((45, 55, 65), 4)
    tyre = sc.app((20, 20, 20), 3)
    x0, x1 = x_c - width / 2, x_c + width / 2
    z1 = z0 + length
    big = label != CAR
    low, belt = 0.3, (height * 0.45 if big else 0.9)
    sc.box(x0, x1, z0, z1, low, belt, label, inst, body, side)
    if big:
        sc.box(x0, x1, z0, z1, belt, height, label, inst, body, side)
        sc.box(x0 + 0.05, x1 - 0.05, z0 - 0.01, z1 - 0.3, belt + 0.2, height - 0.5, label, inst, glass, glass)
    else:
        sc.box(x0 + 0.15, x1 - 0.15, z0 + 0.9, z1 - 1.2, belt, height, label, inst, body, side)
        sc.box(x0 + 0.25, x1 - 0.25, z0 + 0.89, z1 - 1.3, belt + 0.08, height - 0.08, label, inst, glass, glass)
    for xa, xb in ((x0 + 0.05, x0 + 0.3), (x1 - 0.3, x1 - 0.05)):  # tyres under the rear face
        sc.box(xa, xb, z0 + 0.3, z0 + 0.31, 0.0, low, label, inst, tyre)
    lamp = sc.app((200, 30, 30), 4)
    for xa, xb in ((x0 + 0.05, x0 + 0.3), (x1 - 0.3, x1 - 0.05)):
        sc.box(xa, xb, z0 - 0.01, z0, belt - 0.2, belt - 0.08, label, inst, lamp)
    side_x = x1 if x1 < 0 else (x0 if x0 > 0 else None)
    if side_x is not None:  # wheels on the visible side
        for zw in (z0 + 0.8, z1 - 0.9):
            yw, xw = sc.proj(side_x, zw, 0.33)
            r = 0.33 * sc.f / zw
            sc.c.ellipse(yw, xw, r, r * 0.45, label, inst, tyre)


def _pole(sc: _Scene, x_m, z_m) -> None:
    """A pole 3..8 px wide with a traffic sign or a traffic light on top."""
    c, rng = sc.c, sc.rng
    s = sc.f / z_m
    tall = rng.uniform(3.5, 7.0)
    yb, cx = sc.proj(x_m, z_m, 0.0)
    yt, _ = sc.proj(x_m, z_m, tall)
    half = float(np.clip(round(0.15 * s), 3, 8)) / 2
    c.rect(yt, yb, cx - half, cx + half, POLE, POLE, sc.app((105, 105, 110), 4, vgrad=0.1), (yt, yb, 0.3))
    if rng.random() < 0.5:
        box_w, box_h = 0.35 * s, 0.95 * s
        dark = sc.app((30, 32, 30), 4)
        c.rect(yt - 0.2 * box_h, yt + 0.8 * box_h, cx - box_w / 2, cx + box_w / 2, LIGHT, LIGHT, dark)
        lit = rng.integers(3)
        for i, col in enumerate(((220, 40, 30), (230, 180, 40), (40, 200, 90))):
            bright = sc.app(col if i == lit else np.asarray(col) * 0.35, 3)
            c.ellipse(yt + (0.1 + 0.3 * i) * box_h, cx, 0.11 * s, 0.11 * s, LIGHT, LIGHT, bright)
    else:
        size = rng.uniform(0.5, 0.8) * s
        col = [(200, 30, 30), (30, 70, 170), (230, 200, 40)][rng.integers(3)]
        app = sc.app(col, 5, jitter=15)
        shape = rng.integers(3)
        if shape == 0:
            c.ellipse(yt, cx, size / 2, size / 2, SIGN, SIGN, app)
        elif shape == 1:
            c.polygon([yt - size / 2, yt + size / 2, yt + size / 2], [cx, cx + size / 2, cx - size / 2], SIGN, SIGN, app)
        else:
            c.rect(yt - size / 2, yt + size / 2, cx - size * 0.7, cx + size * 0.7, SIGN, SIGN, app)


def _tree(sc: _Scene, x_m, z_m) -> None:
    c, rng = sc.c, sc.rng
    s = sc.f / z_m
    yb, cx = sc.proj(x_m, z_m, 0.0)
    trunk_top = yb - rng.uniform(2.0, 3.5) * s
    leaves = sc.app((50, 90, 35), 12, 20, jitter=20)
    c.rect(trunk_top, yb, cx - max(0.15 * s, 1.5), cx + max(0.15 * s, 1.5), VEGETATION, VEGETATION,
           sc.app((80, 60, 40), 6))
    for _ in range(rng.integers(3, 7)):
        r = rng.uniform(1.0, 2.3) * s
        c.ellipse(trunk_top - rng.uniform(0.2, 1.5) * s, cx + rng.uniform(-1.2, 1.2) * s, r, r * rng.uniform(0.8, 1.2),
                  VEGETATION, VEGETATION, leaves)
