"""In-memory SegFix: a trained model's offsets for a numpy image, and refining any label map with
them, without files.

Example:
    >>> from segfix_train import SegFix
    >>> fix = SegFix.from_checkpoint("runs/cityscapes")          # a run dir or a ckpt_*.pt file
    >>> offsets = fix.offsets(image)                                # image: uint8 (H, W, 3) RGB
    >>> refined = fix.refine(image, labels)                         # labels: any integer (H, W)

The numbers are those of ``segfix predict`` followed by ``segfix refine``: the same normalisation,
sliding windows (``tile`` / ``stride``, ``batch`` windows per forward pass, overlapping
probabilities averaged), threshold and index shift (:func:`segfix_data.refine_labels`).
"""
from __future__ import annotations

import os

import numpy as np
import torch

from segfix_data.refine.shift import refine_labels

from .data import normalise
from .precision import resolve_amp
from .predict import (PredictOptions, load_model, offsets_array, predict_probs, probs_to_maps, resolve_device,
                      use_channels_last)
from segfix_data.errors import InputError


def _check_image(image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"image must be an RGB uint8 array of shape (H, W, 3), got {image.shape} {image.dtype}")
    return image


class SegFix:
    """A trained SegFix model applied to numpy images.

    Args:
        model: a ``SegFixModel`` (``(N, 3, h, w)`` -> boundary and direction logits).
        device: where it runs.
        tile, stride: sliding window side and step in pixels (None: the whole image at once).
        batch: windows per forward pass.
        threshold: boundary probability above which a pixel is a boundary pixel.
        amp: the AMP setting, one of ``precision.AMP_MODES`` (``auto``, as ``segfix predict``: bf16
            or fp16 on CUDA, fp32 on the CPU).
        channels_last: channels-last memory layout of the model and its input (default: on CUDA
            only, as ``segfix predict``; same values, faster convolutions).

    Example:
        >>> fix = SegFix.from_checkpoint(run_dir, device="cpu", tile=512, stride=384)
        >>> fix.offsets(image).shape                  # (H, W, 2) int16 (dy, dx)
        >>> fix.refine(image, labels, scale=2)        # labels' dtype and shape, only their ids
    """

    def __init__(self, model: torch.nn.Module, *, device: str | torch.device = "cpu", tile: int | None = None,
                 stride: int | None = None, batch: int = 4, threshold: float = 0.5,
                 amp: str = "auto", channels_last: bool | None = None) -> None:
        PredictOptions(tile=tile, stride=stride, batch=batch, threshold=threshold)  # refuses nonsense up front
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self._channels_last = use_channels_last(self.model, self.device, channels_last)
        self.tile, self.stride, self.batch, self.threshold = tile, stride, int(batch), float(threshold)
        self._precision = resolve_amp(amp, self.device)

    @classmethod
    def from_checkpoint(cls, path_or_run_dir: str | os.PathLike, device: str | torch.device = "auto",
                        **kwargs) -> "SegFix":
        """Load the newest checkpoint of a ``segfix train`` RUN_DIR (or a ``ckpt_*.pt`` file).

        ``device``: "auto" (CUDA when available), "cpu", "cuda", "cuda:1", ...; ``kwargs`` as the
        constructor (``tile``, ``stride``, ``batch``, ``threshold``, ``amp``).
        """
        dev = resolve_device(device)
        return cls(load_model(path_or_run_dir, dev), device=dev, **kwargs)  # load_model resolves run dirs

    @property
    def num_directions(self) -> int:
        """Direction bins ``m`` of the model (4, 8 or 16)."""
        return int(self.model.num_directions)

    def probabilities(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """float32 ``(H, W)`` boundary probability and float32 ``(m, H, W)`` direction probabilities
        of a uint8 ``(H, W, 3)`` RGB image."""
        pb, pd = self._probs(image)
        return pb.cpu().numpy(), pd.cpu().numpy()

    def _probs(self, image):
        x = torch.from_numpy(normalise(_check_image(image))).to(self.device)
        return predict_probs(self.model, x, tile=self.tile, stride=self.stride, batch=self.batch,
                             precision=self._precision, channels_last=self._channels_last)

    def predict(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 ``(H, W)`` boundary (0/1) and uint8 ``(H, W)`` direction bins (255 off the boundary),
        as ``segfix predict`` writes them."""
        return probs_to_maps(*self._probs(image), self.threshold)

    def boundary(self, image: np.ndarray) -> np.ndarray:
        """uint8 ``(H, W)`` boundary mask (1 = boundary pixel) of a uint8 ``(H, W, 3)`` RGB image."""
        return self.predict(image)[0]

    def offsets(self, image: np.ndarray) -> np.ndarray:
        """int16 ``(H, W, 2)`` offsets ``(dy, dx)`` in pixels: the direction bin's unit offset on
        boundary pixels, ``(0, 0)`` elsewhere (the authors' offsets ``.mat`` layout)."""
        return offsets_array(*self.predict(image), self.num_directions)

    def refine(self, image: np.ndarray, labels: np.ndarray, *, scale: int = 2, iterations: int = 1) -> np.ndarray:
        """Refine a label map of ``image`` with the model's offsets.

        Args:
            image: uint8 ``(H, W, 3)`` RGB.
            labels: any integer (or bool) ``(H, W)`` label map (train ids, raw ids, instance ids...).
            scale: offset factor (2: the paper's scheme for label maps; 1 for instance masks).
            iterations: shifts (1: plain shift; > 1: the paper's scheme (ii)).

        Returns:
            an array of ``labels``' dtype and shape; every value is one of ``labels``' values.
        """
        image = _check_image(image)
        labels = np.asarray(labels)
        if labels.shape != image.shape[:2]:
            raise InputError(f"labels must have the image's shape {image.shape[:2]}, got {labels.shape}")
        boundary, direction = self.predict(image)
        return refine_labels(labels, boundary, direction, self.num_directions, scale=scale,
                             iterations=iterations)
