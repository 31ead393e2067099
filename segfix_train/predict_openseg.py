"""The ``openseg`` tester of ``segfix predict``: offsets computed as the authors' tester computes them
(openseg.pytorch ``segmentor/tester_offset.py``), for their released models or any SegFix model.

* Input: the image in **B, G, R** channel order (as ``cv2.imread`` gives it), divided by 255, then
  ``(x - mean) / std`` with mean ``(0.485, 0.456, 0.406)`` and std ``(0.229, 0.224, 0.225)``
  applied to the channels in that stored B, G, R order (their loader's quirk, kept because their
  weights were trained on it), float32.
* ``whole`` (their ``ss_test``): one forward pass over the whole image.
  ``sscrop`` (their ``sscrop_test``, the default): ``crop x crop`` windows (512) every
  ``int(crop / 3)`` pixels (170), plus a last window flush with the far edge when the others stop
  short of it. Along a side shorter than ``crop`` (where their code fails) the window is that
  side's length: one window spans it, as ``whole`` would.
* Per pass: the mask logits are softmaxed at the network's stride; the boundary probabilities and
  the (raw) direction logits are upsampled to the window with bilinear ``align_corners=True``,
  summed over windows in row-major window order and divided by the number of windows covering
  each pixel.
* A pixel is boundary where the averaged boundary probability exceeds 0.5; its direction is the
  argmax of the softmax of the averaged direction logits; fp32 throughout.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .config import OPENSEG_MODES
from .models import boundary_probability

#: Channel statistics of their loader, applied to B, G, R in this order.
OPENSEG_MEAN = (0.485, 0.456, 0.406)
OPENSEG_STD = (0.229, 0.224, 0.225)
OPENSEG_CROP = 512


def openseg_normalise(rgb: np.ndarray) -> torch.Tensor:
    """uint8 ``(H, W, 3)`` RGB image -> float32 ``(3, H, W)`` network input, channels B, G, R,
    normalised as their test loader does."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected a uint8 RGB image of shape (H, W, 3), got {rgb.dtype} {rgb.shape}")
    x = torch.from_numpy(np.ascontiguousarray(rgb[:, :, ::-1].transpose(2, 0, 1))).float().div(255.0)
    for c in range(3):
        x[c].sub_(OPENSEG_MEAN[c]).div_(OPENSEG_STD[c])
    return x


def openseg_window_starts(size: int, crop: int = OPENSEG_CROP) -> tuple[list[int], int]:
    """``(starts, window)`` along one side of ``size`` pixels: their ``_decide_intersection``
    (stride ``int(crop / 3)``, a last window flush with the far edge) for ``size >= crop``; one
    window of ``size`` pixels for a shorter side."""
    if size < crop:
        return [0], size
    stride = int(crop / 3)
    starts = [stride * i for i in range((size - crop) // stride + 1)]
    if size - starts[-1] > crop:
        starts.append(size - crop)
    return starts, crop


def _pass(model, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward pass of a batch ``(N, 3, h, w)``: boundary probability ``(N, 1, h, w)`` and
    direction logits ``(N, m, h, w)``, softmax at stride, ``align_corners=True`` upsampling."""
    mask, d = model.forward_raw(x)
    p = boundary_probability(mask.float())
    size = x.shape[-2:]
    p = F.interpolate(p, size=size, mode="bilinear", align_corners=True)
    d = F.interpolate(d.float(), size=size, mode="bilinear", align_corners=True)
    return p, d


@torch.no_grad()
def openseg_predict(model, image: torch.Tensor, mode: str = "sscrop", crop: int = OPENSEG_CROP,
                    batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Averaged boundary probability and direction logits of one image, as their tester.

    Args:
        model: a ``SegFixModel`` (its ``forward_raw`` is used) in eval mode.
        image: float32 ``(3, H, W)`` from ``openseg_normalise`` (on the model's device).
        mode: ``"sscrop"`` (sliding windows) or ``"whole"``.
        crop: window side in pixels.
        batch: windows per forward pass (1 as theirs; larger batches give the same numbers up to
            floating-point rounding).

    Returns:
        float32 ``(H, W)`` boundary probability and float32 ``(m, H, W)`` direction logits.
    """
    if mode not in OPENSEG_MODES:
        raise ValueError(f"mode must be one of {OPENSEG_MODES}, got {mode!r}")
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"expected a normalised image of shape (3, H, W), got {tuple(image.shape)}")
    _, h, w = image.shape
    if mode == "whole":
        p, d = _pass(model, image[None])
        return p[0, 0], d[0]
    ys, th = openseg_window_starts(h, crop)
    xs, tw = openseg_window_starts(w, crop)
    boxes = [(y, x) for y in ys for x in xs]
    pb = torch.zeros(1, h, w, device=image.device)
    pd = None
    cnt = torch.zeros(1, h, w, device=image.device)
    for i in range(0, len(boxes), batch):
        chunk = boxes[i: i + batch]
        p, d = _pass(model, torch.stack([image[:, y: y + th, x: x + tw] for y, x in chunk]))
        if pd is None:
            pd = torch.zeros(d.shape[1], h, w, device=image.device)
        for k, (y, x) in enumerate(chunk):
            cnt[:, y: y + th, x: x + tw] += 1
            pb[:, y: y + th, x: x + tw] += p[k]
            pd[:, y: y + th, x: x + tw] += d[k]
    return (pb / cnt)[0], pd / cnt


def openseg_maps(prob: torch.Tensor, dir_logits: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """uint8 ``(H, W)`` boundary (``prob > 0.5``) and uint8 ``(H, W)`` direction bins (argmax of
    the softmax of ``dir_logits``; 255 off the boundary)."""
    from segfix_data.targets.direction import DIRECTION_IGNORE

    boundary = (prob > 0.5).cpu().numpy().astype(np.uint8)
    direction = torch.softmax(dir_logits[None], dim=1)[0].argmax(0).cpu().numpy().astype(np.uint8)
    direction[boundary == 0] = DIRECTION_IGNORE
    return boundary, direction
