"""Slow, obviously-correct reference implementations used as test oracles."""
from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_dilation, correlate, distance_transform_edt
from skimage.morphology import disk

from segfix_data.metrics.boundary import BOUNDARY_THRESHOLDS, boundary_radius, seg2bmap
from segfix_data.targets.direction import direction_kernels


def brute_force_sqdist(label: np.ndarray, border_is_boundary: bool = False) -> np.ndarray:
    """Squared distance to the nearest pixel of another label, by checking every pair.

    Returns int64 (H, W); -1 where no pixel of another label exists.
    """
    h, w = label.shape
    ys, xs = np.mgrid[0:h, 0:w]
    out = np.full((h, w), -1, dtype=np.int64)
    for y in range(h):
        for x in range(w):
            d2 = ((ys - y) ** 2 + (xs - x) ** 2)[label != label[y, x]]
            cands = list(d2.ravel())
            if border_is_boundary:
                cands += [(y + 1) ** 2, (h - y) ** 2, (x + 1) ** 2, (w - x) ** 2]
            if cands:
                out[y, x] = min(cands)
    return out


def per_label_gradient(label: np.ndarray, distance: np.ndarray, ksize: int) -> np.ndarray:
    """(2, H, W) float64 (gy, gx): each label's distance map filtered on its own, zero padding."""
    ky, kx = direction_kernels(ksize)
    out = np.zeros((2,) + label.shape)
    for k in np.unique(label):
        mask = label == k
        d_k = np.where(mask, distance, 0.0)
        out[0][mask] = correlate(d_k, ky, mode="constant", cval=0.0)[mask]
        out[1][mask] = correlate(d_k, kx, mode="constant", cval=0.0)[mask]
    return out


def _authors_class_gradient(d_k: np.ndarray, mask: np.ndarray, ksize: int) -> np.ndarray:
    """The authors' per-class filter: float32 torch conv2d of one class's distance map, zero
    padding, zeroed outside the class. Returns float32 (H, W, 2) ``(gy, gx)``."""
    import torch

    kernel = torch.from_numpy(np.stack(direction_kernels(ksize))[:, None]).float()
    g = torch.nn.functional.conv2d(
        torch.from_numpy(d_k).float()[None, None], kernel, padding=ksize // 2
    )[0].permute(1, 2, 0).numpy()
    g[mask == 0] = 0
    return g


def _authors_encoding(depth: np.ndarray, grad: np.ndarray):
    """Their ``.mat`` encoding: depth capped at 250 and truncated, the 2-degree ``dir_deg``."""
    depth[depth > 250] = 250
    dir_deg = ((np.degrees(np.arctan2(grad[..., 0], grad[..., 1])) + 180) / 2).astype(np.uint8)
    return depth.astype(np.uint8), dir_deg


def openseg_reference(train_ids: np.ndarray, ksize: int = 5, min_pixels: int = 100):
    """The authors' semantic generator re-stated plainly (targets.md section 6): per class a scipy
    EDT and a float32 torch conv2d, float32 accumulation, truncating encodings."""
    depth = np.zeros(train_ids.shape, np.float32)
    grad = np.zeros(train_ids.shape + (2,), np.float32)
    for k in range(255):
        mask = (train_ids == k).astype(np.uint8)
        if mask.sum() < min_pixels:
            continue
        d_k = distance_transform_edt(mask)
        depth += d_k
        grad += _authors_class_gradient(d_k, mask, ksize)
    return _authors_encoding(depth, grad)


def openseg_instance_reference(segments: np.ndarray, ksize: int = 5):
    """The authors' instance generator re-stated plainly: every value a segment, float64 sums."""
    depth = np.zeros(segments.shape)
    grad = np.zeros(segments.shape + (2,))
    for s in np.unique(segments):
        mask = (segments == s).astype(np.uint8)
        d_s = distance_transform_edt(mask)
        depth[mask == 1] = d_s[mask == 1]
        grad += _authors_class_gradient(d_s, mask, ksize)
    return _authors_encoding(depth, grad)


def boundary_f_image_reference(
    pred: np.ndarray, gt: np.ndarray, num_classes: int, thresholds=BOUNDARY_THRESHOLDS
) -> np.ndarray:
    """Per-class boundary F of one image by per-class disk dilation: the one slow reference for
    ``segfix_data.metrics.boundary.boundary_f_image`` (tests and ``benchmarks/bench_refine.py``).

    A direct port of the authors' ``db_eval_boundary`` loop: for every class and threshold,
    two ``seg2bmap`` calls and two binary dilations with ``skimage.morphology.disk(r)``
    (``scipy.ndimage.binary_dilation``, which is what ``skimage.morphology.binary_dilation`` calls).

    Returns:
        float64 ``(K, T)``: F per class and threshold.
    """
    pred, gt = np.asarray(pred), np.asarray(gt)
    k = int(num_classes)
    ignore = (gt < 0) | (gt >= k)
    out = np.zeros((k, len(thresholds)), dtype=np.float64)
    for c in range(k):
        fg = (pred == c) & ~ignore
        gm = (gt == c) & ~ignore
        fg_b = seg2bmap(fg)
        gt_b = seg2bmap(gm)
        for j, t in enumerate(thresholds):
            r = boundary_radius(t, gt.shape)
            fg_dil = binary_dilation(fg_b, disk(r))
            gt_dil = binary_dilation(gt_b, disk(r))
            n_fg, n_gt = int(fg_b.sum()), int(gt_b.sum())
            m_gt, m_fg = int((gt_b & fg_dil).sum()), int((fg_b & gt_dil).sum())
            if n_fg == 0 and n_gt > 0:
                precision, recall = 1.0, 0.0
            elif n_fg > 0 and n_gt == 0:
                precision, recall = 0.0, 1.0
            elif n_fg == 0 and n_gt == 0:
                precision, recall = 1.0, 1.0
            else:
                precision, recall = m_fg / float(n_fg), m_gt / float(n_gt)
            out[c, j] = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return out


def decode_boundary_direction_reference(code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(boundary, direction)`` uint8 (H, W) of a ``<v>/boundary_direction`` code array, pixel by
    pixel from the code's definition (docs/shards.md): ``0..127`` a boundary pixel's direction bin;
    ``128..252`` (format 3) a band pixel off the boundary (boundary 0, no boundary direction); 253
    not boundary; 254 boundary without a direction; 255 ignore (boundary 255). Direction 255 = none."""
    code = np.asarray(code)
    b = np.empty(code.shape, np.uint8)
    d = np.full(code.shape, 255, np.uint8)
    for idx, c in np.ndenumerate(code):
        c = int(c)
        if c < 128:
            b[idx], d[idx] = 1, c
        elif c == 254:
            b[idx] = 1
        elif c == 255:
            b[idx] = 255
        else:  # 128..252 (band, off the boundary) and 253
            b[idx] = 0
    return b, d
