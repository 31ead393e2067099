"""inspect: per-class boundary-width statistics against brute force, and the panel."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from segfix_data.inspect.colours import colourise_labels, hue_colours
from segfix_data.inspect.panels import busiest_window, render_panel, save_panel
from segfix_data.inspect.stats import BoundaryWidthStats, boundary_width_stats, format_boundary_width_table


def brute_force_within(label, num_classes, widths, ignore_index=255):
    h, w = label.shape
    yy, xx = np.mgrid[:h, :w]
    pixels = np.zeros(num_classes, np.int64)
    within = np.zeros((num_classes, len(widths)), np.int64)
    for y in range(h):
        for x in range(w):
            k = label[y, x]
            if k == ignore_index:
                continue
            other = label != k
            d = np.sqrt(((yy[other] - y) ** 2 + (xx[other] - x) ** 2).min()) if other.any() else np.inf
            pixels[k] += 1
            for j, wd in enumerate(widths):
                within[k, j] += d <= wd
    return pixels, within


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 9), w=st.integers(1, 9), k=st.integers(1, 4), seed=st.integers(0, 2**16),
       with_ignore=st.booleans())
def test_stats_match_brute_force(h, w, k, seed, with_ignore):
    rng = np.random.default_rng(seed)
    label = rng.integers(0, k, (h, w)).astype(np.uint8)
    if with_ignore:
        label[rng.random((h, w)) < 0.2] = 255
    widths = (1, 1.5, 2, 3, 5)
    stats = boundary_width_stats(label, k, widths)
    pixels, within = brute_force_within(label, k, widths)
    np.testing.assert_array_equal(stats.pixels, pixels)
    np.testing.assert_array_equal(stats.within, within)


def test_stats_hand_case_and_table():
    label = np.array([[0, 0, 0, 1, 1]], np.uint8)
    stats = boundary_width_stats(label, 3, widths=(1, 2))
    assert stats.pixels.tolist() == [3, 2, 0]
    assert stats.within.tolist() == [[1, 2], [1, 2], [0, 0]]
    share = stats.share
    np.testing.assert_allclose(share[:2], [[1 / 3, 2 / 3], [0.5, 1.0]])
    assert np.isnan(share[2]).all()
    table = format_boundary_width_table(stats, ["a", "b", "c"])
    lines = table.splitlines()
    assert "w<=1" in lines[0] and "w<=2" in lines[0]
    assert lines[2].split() == ["a", "3", "33.3%", "66.7%"]
    assert not any(line.startswith("c ") for line in lines), "classes without pixels are left out"
    assert lines[-1].split() == ["all", "5", "40.0%", "80.0%"]


def test_stats_add_up():
    a = np.array([[0, 1], [1, 1]], np.uint8)
    b = np.array([[2, 2, 0]], np.uint8)
    total = boundary_width_stats(a, 3) + boundary_width_stats(b, 3)
    assert isinstance(total, BoundaryWidthStats)
    assert total.pixels.tolist() == [2, 3, 2]
    with pytest.raises(ValueError):
        boundary_width_stats(a, 3) + boundary_width_stats(a, 4)


def test_stats_default_names_for_cityscapes():
    label = np.zeros((4, 4), np.uint8)
    label[:, 2:] = 10
    table = format_boundary_width_table(boundary_width_stats(label, 19))
    assert "road" in table and "sky" in table


def test_stats_bad_input():
    with pytest.raises(ValueError, match="outside"):
        boundary_width_stats(np.array([[0, 7]], np.uint8), 3)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        boundary_width_stats(np.zeros((2, 2), np.float32), 3)
    with pytest.raises(ValueError, match="positive"):
        boundary_width_stats(np.zeros((2, 2), np.uint8), 3, widths=(0,))


def test_colours():
    np.testing.assert_allclose(hue_colours([0, 120, 240]), [[255, 0, 0], [0, 255, 0], [0, 0, 255]], atol=1e-9)
    rgb = colourise_labels(np.array([[0, 255, 13]], np.uint8))
    assert rgb.tolist() == [[[128, 64, 128], [0, 0, 0], [0, 0, 142]]]


def test_busiest_window_finds_the_cluster():
    d = np.full((60, 80), 255, np.uint8)
    d[40:48, 50:60] = np.arange(8, dtype=np.uint8)[:, None]
    y0, x0 = busiest_window(d, 8, (10, 12))
    assert y0 <= 40 and y0 + 10 >= 48 and x0 <= 50 and x0 + 12 >= 60


def _sample(h=40, w=64, seed=0):
    rng = np.random.default_rng(seed)
    label = np.zeros((h, w), np.uint8)
    label[h // 2:] = 1
    label[5:15, 10:30] = 2
    label[:3, :5] = 255
    from segfix_data import semantic_targets
    t = semantic_targets(label)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return image, label, t


def test_panel_shape_and_changes():
    image, label, t = _sample()
    p = render_panel(image, label, t.distance, t.boundary, t.direction, t.num_directions, tile_width=128,
                     crop_rows=10, title="x")
    assert p.dtype == np.uint8 and p.ndim == 3 and p.shape[2] == 3
    assert p.shape[1] >= 3 * 128 and p.shape[0] >= 2 * 80
    again = render_panel(image, label, t.distance, t.boundary, t.direction, t.num_directions, tile_width=128,
                         crop_rows=10, title="x")
    np.testing.assert_array_equal(p, again)
    other_dir = t.direction.copy()
    other_dir[t.direction < 8] = (other_dir[t.direction < 8] + 4) % 8
    p2 = render_panel(image, label, t.distance, t.boundary, other_dir, 8, tile_width=128, crop_rows=10, title="x")
    assert not np.array_equal(p, p2)
    p3 = render_panel(255 - image, label, t.distance, t.boundary, t.direction, 8, tile_width=128, crop_rows=10,
                      title="x")
    assert not np.array_equal(p, p3)
    p4 = render_panel(None, label, t.distance, t.boundary, t.direction, 8, tile_width=128, crop_rows=10)
    assert p4.dtype == np.uint8
    _assert_zoom_arrows_point_into_their_object()  # the changes are the right ones: arrow directions


def _arrow_heads(label, zoom=24):
    """Render the zoom tile of ``label``'s targets (every pixel in view) and return, per pixel,
    the offset (dy, dx) of the centroid of its arrow's black pixels from the pixel's centre: the
    shaft is symmetric about the centre, so the centroid lies on the side of the arrow head."""
    from segfix_data import semantic_targets
    from segfix_data.inspect.panels import _zoom_tile

    t = semantic_targets(label, num_directions=8)
    h, w = label.shape
    colours = np.full((h, w, 3), 128, np.uint8)
    tile, z = _zoom_tile(None, label, colours, t.boundary, t.direction, 8, (0, 0, h, w), w * zoom, h * zoom)
    assert z == zoom
    black = (tile == 0).all(axis=2)
    heads = np.zeros((h, w, 2))
    for r in range(h):
        for c in range(w):
            ys, xs = np.nonzero(black[r * zoom:(r + 1) * zoom, c * zoom:(c + 1) * zoom])
            assert ys.size > 0, (r, c)  # every pixel here has a direction: one arrow each
            heads[r, c] = ys.mean() + 0.5 - zoom / 2, xs.mean() + 0.5 - zoom / 2
    return heads


def _assert_zoom_arrows_point_into_their_object():
    # a vertical edge between class 0 (left) and class 1 (right): the pixels beside it point away
    # from it, into their own object: left of the edge left (-x), right of it right (+x)
    label = np.zeros((12, 8), np.uint8)
    label[:, 4:] = 1
    heads = _arrow_heads(label)
    for r in range(4, 8):
        (dy0, dx0), (dy1, dx1) = heads[r, 3], heads[r, 4]
        assert dx0 < -0.75 and abs(dy0) < 0.5, (r, heads[r, 3])
        assert dx1 > 0.75 and abs(dy1) < 0.5, (r, heads[r, 4])
    # the same edge turned horizontal: above it up (-y), below it down (+y)
    heads = _arrow_heads(label.T.copy())
    for c in range(4, 8):
        (dy0, dx0), (dy1, dx1) = heads[3, c], heads[4, c]
        assert dy0 < -0.75 and abs(dx0) < 0.5, (c, heads[3, c])
        assert dy1 > 0.75 and abs(dx1) < 0.5, (c, heads[4, c])


def test_panel_bad_inputs():
    image, label, t = _sample()
    with pytest.raises(ValueError, match="distance"):
        render_panel(image, label, t.distance[:-1], t.boundary, t.direction, 8)
    with pytest.raises(ValueError, match="image"):
        render_panel(image[..., :2], label, t.distance, t.boundary, t.direction, 8)
    with pytest.raises(ValueError):
        render_panel(image, label, t.distance, t.boundary, t.direction, 5)


def test_save_panel(tmp_path):
    p = np.zeros((10, 20, 3), np.uint8)
    p[2, 3] = (1, 2, 3)
    path = save_panel(tmp_path / "a" / "p.png", p)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), p)
    assert [x.name for x in path.parent.iterdir()] == ["p.png"]
    with pytest.raises(ValueError):
        save_panel(tmp_path / "b.png", np.zeros((10, 20), np.uint8))


def test_panel_with_segments_shows_instances():
    image, label, t = _sample()
    segments = label.astype(np.int32)
    segments[5:15, 20:30] = 7  # split class 2 into two touching instances
    kw = dict(tile_width=128, crop_rows=10)
    plain = render_panel(image, label, t.distance, t.boundary, t.direction, 8, **kw)
    inst = render_panel(image, label, t.distance, t.boundary, t.direction, 8, segments=segments, **kw)
    assert inst.shape == plain.shape and not np.array_equal(inst, plain)
    # the label tile (second of the first row; 6 px gaps, a 20 px caption bar at tile width 128,
    # 2x the 40x64 frame) colours the two touching class-2 instances differently, and the plain
    # panel the same
    def colour(panel, y, x):
        return tuple(panel[6 + 20 + 2 * y, 6 + 128 + 6 + 2 * x])

    left, right = (10, 15), (10, 25)  # (row, col) inside segment 2 and inside segment 7
    assert colour(plain, *left) == colour(plain, *right)
    assert colour(inst, *left) != colour(inst, *right)
    assert colour(plain, *left) == tuple(colourise_labels(label)[left])  # it is the label tile
    with pytest.raises(ValueError, match="segments"):
        render_panel(image, label, t.distance, t.boundary, t.direction, 8, segments=segments[:, :-1], **kw)


def test_segment_colours():
    from segfix_data.inspect.colours import colourise_segments

    seg = np.array([[1, 1, 26001, 26002]], np.int32)
    rgb = colourise_segments(seg, ignore=np.array([[False, False, False, True]]))
    assert (rgb[0, 0] == rgb[0, 1]).all() and not (rgb[0, 1] == rgb[0, 2]).all()
    assert rgb[0, 3].tolist() == [0, 0, 0] and rgb[0, :3].min() >= 60
