"""Deterministic synthetic Cityscapes-like street scenes (arrays; :mod:`.example` writes them to disk).

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

from dataclasses import dataclass

import numpy as np

from ._scene import (
    BUILDING, BUS, DYNAMIC, EGO, FENCE, GROUND, MIN_INSTANCES, OUT_OF_ROI, PARKING, PERSON, ROAD, SIDEWALK, SKY, STATIC, TERRAIN, TRUCK, VEGETATION, WALL, _car, _person, _pole, _Scene, _tree, _two_wheeler,
)
from segfix_data.errors import InputError


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
        raise InputError(f"height and width must be >= 16 pixels, got {height}x{width}")
    rng = np.random.default_rng(int(seed))
    sc = _Scene(rng, int(height), int(width))
    g = _street(sc)
    walks = _objects(sc, g)
    _ego_and_border(sc)
    _top_up(sc, walks)
    image = sc.c.render(rng)
    return SyntheticFrame(image=image, label_ids=sc.c.label_ids, instance_ids=sc.c.instance_ids)
