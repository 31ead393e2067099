"""Rescaled crops (``--scale``, ``resize_short``): the targets stay on the image's edges."""
import numpy as np

from segfix_train.data import _rescale


def test_rescaled_targets_sit_on_the_rescaled_image_edge():
    """A vertical step edge in image and target, rescaled by 400 random factors in [0.5, 2]: the
    target's edge is where the bilinear image crosses half height, 0 px off on average (nearest
    sampling without half-pixel centres puts it 0.5 px to the right)."""
    rng = np.random.default_rng(0)
    target_off, image_off = [], []
    for _ in range(400):
        s, e, w = rng.uniform(0.5, 2.0), int(rng.integers(20, 40)), 64
        img = np.zeros((4, w, 3), np.float32)
        img[:, e:] = 255
        side = np.zeros((4, w), np.uint8)
        side[:, e:] = 1
        out, bnd, dirn = _rescale(img, side, side, (4, max(1, round(w * s))))
        assert np.array_equal(bnd, dirn)
        edge = e * s - 0.5  # the source edge (between pixels e - 1 and e) in output pixel coordinates
        row = out[1, :, 0]
        x = int(np.flatnonzero(row >= 127.5)[0])
        image_off.append(x - 1 + (127.5 - row[x - 1]) / (row[x] - row[x - 1]) - edge)
        target_off.append(np.flatnonzero(bnd[1] == 1)[0] - 0.5 - edge)
    assert abs(np.mean(image_off)) < 0.05
    assert abs(np.mean(target_off)) < 0.1 and np.max(np.abs(target_off)) <= 1.0
