"""Deterministic synthetic Cityscapes-like street scenes and a small example dataset on disk.

A frame is drawn through a pinhole camera 1.25 m above a flat street (focal length 1.1 x width,
as Cityscapes), so sizes shrink with depth and everything converges to a vanishing point: a road
with lane markings, sidewalks, terrain verges, building facades with windows and an irregular
skyline on both sides and at the end of the street, walls and fences (with holes), sky, trees,
thin poles (3..8 px wide) carrying traffic signs and lights, parked and moving cars, buses or
trucks, pedestrians (some touching, some in crowds), cyclists and motorcyclists on their bicycles,
bins (``static``), an ego-vehicle bonnet and out-of-ROI corners. Objects are drawn far to near,
so nearer ones occlude farther ones.

The RGB image gives every region its own colour with texture, shading and noise so that the
boundaries can be seen from the image alone.

Everything random comes from one ``numpy.random.Generator`` seeded with ``seed``: the same seed
gives the same bytes.
"""
from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segfix_data._canvas import Canvas, line_polygon

# Cityscapes labelIds used here.
UNLABELED, EGO, OUT_OF_ROI, STATIC, DYNAMIC, GROUND = 0, 1, 3, 4, 5, 6
ROAD, SIDEWALK, PARKING, BUILDING, WALL, FENCE = 7, 8, 9, 11, 12, 13
POLE, LIGHT, SIGN, VEGETATION, TERRAIN, SKY = 17, 19, 20, 21, 22, 23
PERSON, RIDER, CAR, TRUCK, BUS, MOTORCYCLE, BICYCLE = 24, 25, 26, 27, 28, 32, 33

CAMERA_HEIGHT_M = 1.25
MIN_INSTANCES = 20  # visible thing instances per frame (more are drawn; some end up hidden)
FOCAL_PER_WIDTH = 1.1


@dataclass(frozen=True)
class SyntheticFrame:
    """One synthetic frame.

    Attributes:
        image: uint8 (H, W, 3) RGB image.
        label_ids: uint8 (H, W) Cityscapes labelIds (0..33).
        instance_ids: int32 (H, W) Cityscapes instanceIds: ``class_id * 1000 + k`` for a thing
            instance, the plain class id for stuff, ignore classes and crowd regions.
    """

    image: np.ndarray
    label_ids: np.ndarray
    instance_ids: np.ndarray


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


def _street(sc: _Scene) -> dict:
    """Sky, ground (road, sidewalks, verges), facades, the far end, walls and fences."""
    rng, c, h, w = sc.rng, sc.c, sc.h, sc.w
    g = dict(rl=rng.uniform(3.5, 6.5), rr=rng.uniform(4.5, 9.0), swl=rng.uniform(2.0, 4.5),
             swr=rng.uniform(2.0, 4.5), gl=rng.uniform(0.3, 3.0), gr=rng.uniform(0.3, 3.0),
             zfar=rng.uniform(70.0, 140.0))
    fl, fr = g["rl"] + g["swl"] + g["gl"], g["rr"] + g["swr"] + g["gr"]
    g["fl"], g["fr"] = fl, fr

    c.rect(0, h, 0, w, SKY, SKY, sc.app((135, 175, 225), fine=2.0, vgrad=0.35, jitter=15))

    # Ground below the horizon: lateral position X (H_g, W) and depth Z (H_g, 1) in metres.
    r0 = int(np.floor(sc.yh + sc.cam * sc.f / g["zfar"])) + 1
    if r0 < h:
        dy = np.arange(r0, h, dtype=np.float32)[:, None] - np.float32(sc.yh)
        z = sc.cam * sc.f / dy
        x = (np.arange(w, dtype=np.float32)[None, :] - np.float32(sc.vx)) * (sc.cam / dy)
        put = lambda m, label, app: c.where(m, label, label, app, y0=r0)
        c.rect(r0, h, 0, w, TERRAIN, TERRAIN, sc.app((115, 125, 65), fine=10, coarse=14, jitter=12))
        patch = (np.mod(z + rng.uniform(0, 30), 30.0) < rng.uniform(2, 6)) & (np.abs(x) > fl - 3)
        put(patch, GROUND, sc.app((110, 100, 90), fine=8, jitter=10))
        side_walk = (x >= -(g["rl"] + g["swl"])) & (x <= g["rr"] + g["swr"])
        put(side_walk, SIDEWALK, sc.app((158, 146, 140), fine=7, coarse=4, jitter=12))
        curb = side_walk & ((np.abs(x + g["rl"] + 0.12) < 0.12) | (np.abs(x - g["rr"] - 0.12) < 0.12))
        put(curb, SIDEWALK, sc.app((185, 180, 175), fine=4))
        road = (x >= -g["rl"]) & (x <= g["rr"])
        put(road, ROAD, sc.app((82, 82, 88), fine=7, coarse=5, vgrad=0.15, jitter=8))
        marking = sc.app((225, 225, 220), fine=4)
        dashes = np.mod(z, 9.0) < 3.5
        for lane in [-1.75] + ([1.75] if g["rr"] > 5.5 else []):
            put(road & (np.abs(x - lane) < 0.08) & dashes, ROAD, marking)
        if rng.random() < 0.6:  # a parking bay in the right verge (an ignored class)
            za = rng.uniform(8, 30)
            bay = (x > g["rr"] + g["swr"]) & (x < fr - 0.2) & (z > za) & (z < za + rng.uniform(5, 15))
            put(bay, PARKING, sc.app((100, 95, 100), fine=6))

    # Building at the end of the street, then the two side facades with windows.
    zf = g["zfar"]
    x_m = -fl - 10
    while x_m < fr + 10:
        width_m = rng.uniform(6, 25)
        top = rng.uniform(4, 16)
        kind = rng.random()
        label, look = (VEGETATION, sc.app((55, 95, 40), 10, 18, jitter=15)) if kind < 0.2 else \
            (BUILDING, sc.app((150, 130, 115), 8, 6, jitter=25))
        (ya, xa), (yb, xb) = sc.proj(x_m, zf, top), sc.proj(x_m + width_m, zf, 0.0)
        if label == VEGETATION:
            c.ellipse(ya + (yb - ya) * 0.6, (xa + xb) / 2, (yb - ya) * 0.6, (xb - xa) * 0.55, label, label, look)
        else:
            c.rect(ya, yb, xa, xb, label, label, look)
        x_m += width_m
    for side, lateral in ((-1, fl), (1, fr)):
        edges = [0.0]
        while edges[-1] < zf:
            edges.append(edges[-1] + rng.uniform(8, 30))
        edges[-1] = zf
        edges = np.asarray(edges)
        heights = rng.uniform(7, 30, edges.size - 1)
        heights[rng.random(edges.size - 1) < 0.15] = 0.0   # gaps in the row of buildings
        seg_of = lambda zz: np.clip(np.searchsorted(edges, zz, side="right") - 1, 0, heights.size - 1)
        block = sc.plane_block(lateral, side, 0.0, zf, 0.0, lambda zz: heights[seg_of(zz)])
        if block is not None:
            x0, inside, zcol, hmap = block
            seg = seg_of(zcol)
            walls = np.array([sc.app((150, 130, 112), 8, 5, jitter=30) for _ in heights])
            windows = np.array([sc.app((60, 70, 85), 5, jitter=20) for _ in heights])
            spacing = rng.uniform(3.0, 4.5)
            hm = np.mod(hmap, 3.3)
            win = (np.mod(zcol, spacing) < spacing * 0.45)[None, :] & (hm > 1.0) & (hm < 2.5) & \
                  (hmap > 2.5) & (hmap < heights[seg][None, :] - 1.0)
            c.where(inside, BUILDING, BUILDING, np.where(win, windows[seg][None, :], walls[seg][None, :]), x0=x0)

        # A wall or a fence (with holes) along the back of the sidewalk.
        for _ in range(rng.integers(0, 3)):
            za = rng.uniform(5, 50)
            zb = za + rng.uniform(6, 25)
            top = rng.uniform(0.8, 2.2)
            inner = g["rl"] + g["swl"] if side < 0 else g["rr"] + g["swr"]
            block = sc.plane_block(inner + 0.1, side, za, zb, 0.0, lambda zz: np.full_like(zz, top))
            if block is None:
                continue
            x0, inside, zcol, hmap = block
            if rng.random() < 0.5:
                c.where(inside, WALL, WALL, sc.app((170, 160, 140), 6, 8, jitter=20), x0=x0)
            else:
                bars = (np.mod(zcol, 0.35) < 0.12)[None, :] | (hmap > top - 0.12) | (np.abs(hmap - 0.3) < 0.06)
                c.where(inside & bars, FENCE, FENCE, sc.app((95, 85, 70), 6, jitter=20), x0=x0)
    return g


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


def _objects(sc: _Scene, g: dict) -> None:
    """Poles, trees, bins, cars, buses, pedestrians, crowds and cyclists, drawn far to near."""
    rng = sc.rng
    rl, rr = g["rl"], g["rr"]
    walk_l = (-(rl + g["swl"]) + 0.3, -rl - 0.4)
    walk_r = (rr + 0.4, rr + g["swr"] - 0.3)
    todo: list[tuple[float, int, object]] = []   # (depth, tie-break, draw call)

    def add(z, fn, *args):
        todo.append((float(z), len(todo), lambda: fn(sc, *args)))

    for side_x in (-rl + 1.1, rr - 1.1):  # rows of parked cars, some touching
        z = rng.uniform(6.0, 12.0)
        for _ in range(rng.integers(6, 10)):
            if rng.random() > 0.2:
                add(z, _car, side_x + rng.uniform(-0.2, 0.2), z)
            z += 4.4 + rng.uniform(-0.4, 2.0)
    for _ in range(rng.integers(2, 5)):  # traffic in the lanes
        lane = 0.0 if rng.random() < 0.6 or rr < 5.5 else 3.5
        add(z := rng.uniform(10, 60), _car, lane + rng.uniform(-0.3, 0.3), z)
    if rng.random() < 0.6:
        label, length, height = (BUS, 11.0, 3.1) if rng.random() < 0.5 else (TRUCK, 7.5, 3.4)
        add(z := rng.uniform(18, 45), _car, rng.choice([0.0, -rl + 1.5]), z, label, length, 2.5, height)
    for _ in range(rng.integers(10, 16)):  # pedestrians, some in touching pairs
        lo, hi = walk_l if rng.random() < 0.5 else walk_r
        x, z = rng.uniform(lo, hi), rng.uniform(9, 45)
        add(z, _person, x, z, PERSON, sc.new_instance(PERSON))
        if rng.random() < 0.35:
            add(z + 0.2, _person, x + rng.uniform(0.35, 0.5), z + 0.2, PERSON, sc.new_instance(PERSON))
    if rng.random() < 0.8:  # a crowd region: several people annotated as one plain-id region
        lo, hi = walk_l if rng.random() < 0.5 else walk_r
        x0, z0 = rng.uniform(lo, hi), rng.uniform(20, 50)
        for i in range(rng.integers(4, 8)):
            add(z0 + 0.3 * i, _person, x0 + rng.uniform(-0.8, 0.8), z0 + 0.3 * i, PERSON, PERSON)
    for _ in range(rng.integers(1, 4)):  # cyclists / motorcyclists at the road edge
        x = rng.choice([-rl + 0.6, rr - 0.6]) + rng.uniform(-0.3, 0.3)
        add(z := rng.uniform(8, 40), _two_wheeler, x, z, bool(rng.random() < 0.3))
    for _ in range(rng.integers(4, 9)):  # poles with signs and lights at the curb
        x = rng.choice([-rl - 0.5, rr + 0.5])
        add(z := rng.uniform(8, 60), _pole, x, z)
    for _ in range(rng.integers(3, 8)):
        lo, hi = walk_l if rng.random() < 0.5 else walk_r
        add(z := rng.uniform(12, 70), _tree, hi if lo < 0 else lo, z)  # at the back of the sidewalk
    for _ in range(rng.integers(2, 6)):  # bins and boxes: the ignored 'static' / 'dynamic' classes
        lo, hi = walk_l if rng.random() < 0.5 else walk_r
        x, z = rng.uniform(lo, hi), rng.uniform(8, 40)
        label = STATIC if rng.random() < 0.7 else DYNAMIC
        add(z, lambda s_, x_, z_, l_: s_.box(x_ - 0.3, x_ + 0.3, z_, z_ + 0.6, 0.0, 1.0, l_, l_,
                                             s_.app((70, 80, 75), 5, jitter=30)), x, z, label)
    for _, _, draw_fn in sorted(todo, key=lambda t: (-t[0], t[1])):
        draw_fn()
    return walk_l, walk_r


def _visible_instances(sc: _Scene) -> int:
    ids = sc.c.instance_ids
    return int(np.unique(ids[ids >= 1000]).size)


def _top_up(sc: _Scene, walks) -> None:
    """Occlusion can hide many instances: add pedestrians until MIN_INSTANCES are visible."""
    count = _visible_instances(sc)
    for _ in range(4):
        if count >= MIN_INSTANCES:
            return
        for _ in range(3 * (MIN_INSTANCES - count)):
            lo, hi = walks[int(sc.rng.random() < 0.5)]
            inst = sc.new_instance(PERSON)
            _person(sc, sc.rng.uniform(lo, hi), sc.rng.uniform(18, 35), PERSON, inst)
            count += 1  # optimistic: the exact count is taken again below
            if count >= MIN_INSTANCES:
                break
        count = _visible_instances(sc)


def _ego_and_border(sc: _Scene) -> None:
    """The ego vehicle's bonnet at the bottom and the out-of-ROI corners (ignored classes)."""
    c, rng, h, w = sc.c, sc.rng, sc.h, sc.w
    u = (np.arange(w) - w / 2) / (w / 2)
    top = h * rng.uniform(0.91, 0.94) + h * 0.075 * u ** 2
    y0 = int(np.floor(top.min()))
    mask = np.arange(y0, h)[:, None] >= top[None, :]
    c.where(mask, EGO, EGO, sc.app((40, 42, 48), 4, vgrad=0.4), y0=y0)
    cw, ch = w * 0.03, h * 0.1
    c.polygon([h, h - ch, h], [0, 0, cw], OUT_OF_ROI, OUT_OF_ROI, sc.app((0, 0, 0), 1))
    c.polygon([h, h - ch, h], [w, w, w - cw], OUT_OF_ROI, OUT_OF_ROI, sc.app((0, 0, 0), 1))


def synthetic_cityscapes_frame(seed: int, height: int = 1024, width: int = 2048) -> SyntheticFrame:
    """Draw one synthetic Cityscapes-like street scene.

    Args:
        seed: seed of the ``numpy.random.default_rng`` that makes every choice.
        height, width: frame size in pixels (>= 16 each; Cityscapes is 1024 x 2048).

    Returns:
        :class:`SyntheticFrame` with ``image`` uint8 (H, W, 3), ``label_ids`` uint8 (H, W)
        Cityscapes labelIds and ``instance_ids`` int32 (H, W) Cityscapes instanceIds
        (``class * 1000 + k`` for thing instances, the plain class id elsewhere, including crowds).

    Example:
        >>> f = synthetic_cityscapes_frame(0, 256, 512)
        >>> f.image.shape, f.label_ids.dtype, f.instance_ids.dtype
        ((256, 512, 3), dtype('uint8'), dtype('int32'))
    """
    if int(height) < 16 or int(width) < 16:
        raise ValueError(f"height and width must be >= 16 pixels, got {height}x{width}")
    rng = np.random.default_rng(int(seed))
    sc = _Scene(rng, int(height), int(width))
    g = _street(sc)
    walks = _objects(sc, g)
    _ego_and_border(sc)
    _top_up(sc, walks)
    image = sc.c.render(rng)
    return SyntheticFrame(image=image, label_ids=sc.c.label_ids, instance_ids=sc.c.instance_ids)


# ------------------------------------------------------------------------------------ on disk
TRAIN_CITIES = ("aachen", "bochum", "bremen", "cologne")
VAL_CITIES = ("frankfurt", "lindau", "munster")


def _cities_for(split: str) -> tuple[str, ...]:
    return VAL_CITIES if split in ("val", "test") else TRAIN_CITIES


def _frame_seed(seed: int, split: str, index: int) -> int:
    """A per-frame seed from the dataset seed, the split name and the frame's index."""
    ss = np.random.SeedSequence(entropy=int(seed), spawn_key=(zlib.crc32(split.encode()), int(index)))
    return int(ss.generate_state(1, dtype=np.uint64)[0])


def _save_png_atomic(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as a PNG under a temporary name, then rename it into place."""
    from PIL import Image

    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        Image.fromarray(array).save(tmp, format="PNG")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def example_frame_paths(root, split: str, city: str, seq: int, frame: int) -> dict[str, Path]:
    """Paths of one frame's image, labelIds and instanceIds in the Cityscapes layout under ``root``."""
    root = Path(root)
    stem = f"{city}_{seq:06d}_{frame:06d}"
    return {
        "image": root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png",
        "label_ids": root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png",
        "instance_ids": root / "gtFine" / split / city / f"{stem}_gtFine_instanceIds.png",
    }


def write_example_dataset(root, *, splits=None, height: int = 256, width: int = 512, seed: int = 0,
                          progress=None) -> list[dict[str, Path]]:
    """Write a small Cityscapes-layout dataset of synthetic frames under ``root``.

    Layout (as the real dataset)::

        leftImg8bit/<split>/<city>/<city>_<seq:06d>_<frame:06d>_leftImg8bit.png       RGB uint8
        gtFine/<split>/<city>/<city>_<seq:06d>_<frame:06d>_gtFine_labelIds.png        L uint8
        gtFine/<split>/<city>/<city>_<seq:06d>_<frame:06d>_gtFine_instanceIds.png     16-bit

    Frame ``i`` of a split goes to city ``i % n_cities`` with sequence ``i // n_cities`` and frame
    number 19 (the annotated frame of a Cityscapes snippet). Each file is written under a temporary
    name and renamed into place, so an interrupted run leaves no half-written PNG.

    Args:
        root: output directory (created if needed).
        splits: ``{split name: number of frames}``; default ``{"train": 4, "val": 2}``.
            Splits ``val`` and ``test`` use validation city names.
        height, width: frame size in pixels.
        seed: dataset seed; frame seeds derive from it, the split name and the frame index.
        progress: optional callable ``progress(done, total)`` called after each frame.

    Returns:
        One dict of paths (``image``, ``label_ids``, ``instance_ids``) per frame, in writing order.
    """
    splits = {"train": 4, "val": 2} if splits is None else dict(splits)
    for name, n in splits.items():
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"splits[{name!r}] must be a non-negative frame count, got {n!r}")
    total = sum(int(n) for n in splits.values())
    written: list[dict[str, Path]] = []
    for split, n in splits.items():
        cities = _cities_for(split)
        for i in range(int(n)):
            paths = example_frame_paths(root, split, cities[i % len(cities)], i // len(cities), 19)
            frame = synthetic_cityscapes_frame(_frame_seed(seed, split, i), height, width)
            for p in paths.values():
                p.parent.mkdir(parents=True, exist_ok=True)
            _save_png_atomic(paths["image"], frame.image)
            _save_png_atomic(paths["label_ids"], frame.label_ids)
            _save_png_atomic(paths["instance_ids"], frame.instance_ids.astype(np.uint16))
            written.append(paths)
            if progress is not None:
                progress(len(written), total)
    return written
