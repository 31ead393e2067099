"""Training crops streamed from HDF5 shards (``segfix_data.shards.ShardSet``, docs/shards.md "Reading").

The stream is a pure function of ``(seed, rank, world_size, micro-batch index)``: batch ``b`` of
rank ``r`` is the same bytes whatever the number of DataLoader workers, and resuming at batch
``b`` continues the stream exactly (the checkpointed data position is ``b``).

* **Mixing.** Every batch holds a fixed number of crops from each shard set, by largest remainder
  of ``batch * w_s / sum(w)`` (weights 1 + 1 at batch 16 give the paper's 8 + 8).
* **Order.** Within a set, the ranks together walk all its images in one fresh random permutation
  per epoch (seeded by ``seed``, set and epoch): the ``c``-th draw of rank ``r`` is draw
  ``c * world_size + r`` of the global walk, so every frame is drawn equally often whatever the
  number of ranks (giving each rank whole shards would draw the frames of a rank with fewer
  images more often). One rank is the plain walk. Crop position, flip and brightness of sample
  ``k`` come from a generator seeded by ``(seed, rank, b, k)``.
* **Splitting.** Between DataLoader workers the unit is the batch: each batch is read by exactly
  one worker.
  (Giving workers whole shards, as timm's streaming reader does, would make the crops depend on
  the number of workers, which this project's determinism rule forbids.)
* **Reads.** Only the crop window is read (``ShardSet.read(window=...)`` touches only the HDF5
  chunks under it); h5py handles open lazily in each worker (the ShardSet's job).
* **Augmentation** (paper section 4.1): random crop (padded with ignore when the image is smaller),
  horizontal flip mirroring every direction bin (``flip_bins``, as ``flip_direction_map``),
  brightness shift drawn uniformly from the integers in ``[-10, 10]``, optional random scale,
  ImageNet normalisation. Workers deliver the uint8 crops as read plus the drawn flip and shift;
  ``device_batch`` applies flip, shift and normalisation to the whole batch on the device, which
  keeps a worker's cost at the shard read.
"""
from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from segfix_data.targets.direction import DIRECTION_IGNORE, flip_bins, flip_direction_map
from segfix_data.errors import InputError
from segfix_data.ignore import IGNORE_INDEX

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255.0
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255.0
PAD_COLOUR = np.rint(IMAGENET_MEAN).astype(np.uint8)  # image padding: zero after normalisation


@dataclass
class AugmentConfig:
    """Augmentation parameters. ``crop``: output side in pixels; ``brightness``: max integer shift
    of the 0..255 intensities; ``scale``: ``(min, max)`` random rescale factor or ``None``;
    ``target``: ``"semantic"`` or ``"instance"`` (which target group of the shards to read);
    ``resize_short``: rescale each frame so its shorter side has this many pixels before the crop
    (the authors' ADE20K ``resize: min_side_length``), or ``None``; ``pad_mode``: where a frame
    smaller than the crop is placed, ``"corner"`` (top-left) or ``"random"`` (uniform offset)."""

    crop: int = 512
    flip: bool = True
    brightness: int = 10
    scale: tuple[float, float] | None = None
    target: str = "semantic"
    resize_short: int | None = None
    pad_mode: str = "corner"


def normalise(image: np.ndarray) -> np.ndarray:
    """uint8/float ``(H, W, 3)`` RGB -> float32 ``(3, H, W)`` ImageNet-normalised."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"expected an RGB image of shape (H, W, 3), got {image.shape}")
    x = (image.astype(np.float32) - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def batch_allocation(batch: int, weights: Sequence[float]) -> list[int]:
    """Crops per shard set in every batch: largest remainder of ``batch * w / sum(w)``
    (ties to the earlier set). Sums to ``batch``."""
    w = np.asarray(weights, dtype=np.float64)
    if batch < 1 or w.ndim != 1 or len(w) == 0 or (w < 0).any() or w.sum() <= 0:
        raise InputError(f"need batch >= 1 and non-negative weights with a positive sum, got "
                         f"batch={batch}, weights={list(weights)}")
    exact = batch * w / w.sum()
    n = np.floor(exact).astype(int)
    order = sorted(range(len(w)), key=lambda i: (-(exact[i] - n[i]), i))
    for i in order[: batch - n.sum()]:
        n[i] += 1
    return n.tolist()


def _rescale(img: np.ndarray, bnd: np.ndarray, dirn: np.ndarray, size: tuple[int, int]):
    """Bilinear image, nearest targets, to ``size = (h, w)``; both with half-pixel centres
    (``align_corners=False``, ``nearest-exact``), so the targets stay on the image's edges (plain
    ``nearest`` samples at the pixels' corners and moves them 0.5 px down-right on average)."""
    t = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float()[None]
    img = F.interpolate(t, size=size, mode="bilinear", align_corners=False)[0].permute(1, 2, 0).numpy()
    tt = torch.from_numpy(np.stack([bnd, dirn]).astype(np.float32))[None]
    tt = F.interpolate(tt, size=size, mode="nearest-exact")[0].numpy().astype(np.uint8)
    return img, tt[0], tt[1]


def padding_note(sets: Sequence, crop: int, resize_short: Sequence[int | None] | None = None) -> str | None:
    """One line saying how many stored images are smaller than the ``crop`` x ``crop`` crop (their
    crops are padded: image with the mean colour, targets with ignore), or None when none is.

    ``sets``: shard sets whose ``samples`` carry ``"shape": [H, W]`` (pixels, before scaling);
    ``resize_short``: per set, the shorter side its frames are resized to before cropping (None:
    kept; a resized frame counts at its resized size)."""
    sides = list(resize_short) if resize_short is not None else [None] * len(sets)
    shapes = [_resized(tuple(s["shape"]), side) for ds, side in zip(sets, sides) for s in ds.samples if s.get("shape")]
    small = [(h, w) for h, w in shapes if h < crop or w < crop]
    if not small:
        return None
    h, w = min(small, key=lambda hw: hw[0] * hw[1])
    return (f"note: {len(small)} of {len(shapes)} images are smaller than the {crop}x{crop} crop "
            f"(smallest {h}x{w}): their crops are padded with ignore; pass --crop {min(min(hw) for hw in small)} "
            "or less to train on image pixels only")


def _resized(shape: tuple[int, int], side: int | None) -> tuple[int, int]:
    """``(H, W)`` after resizing the shorter side to ``side`` (rounded as ``random_crop`` does)."""
    if not side:
        return shape
    s = side / min(shape)
    return max(1, round(shape[0] * s)), max(1, round(shape[1] * s))


def random_crop(ds, index: int, rng: np.random.Generator, aug: AugmentConfig,
                num_directions: int, apply_flip: bool = False
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, bool]:
    """One random crop of image ``index`` of shard set ``ds`` and its augmentation draws.

    The flip is drawn but, unless ``apply_flip``, not applied: ``device_batch`` flips the batch on
    the device (a mirrored copy is the costliest step of a worker otherwise). The brightness shift
    and the normalisation are always left to ``device_batch`` / ``to_model_input``.

    Returns:
        image uint8 ``(c, c, 3)`` (padding: the mean colour); boundary uint8 ``(c, c)`` (0/1/255,
        padding 255); direction uint8 ``(c, c)`` bins of the direction band (``<v>/direction_band``:
        the boundary's, and with format-3 shards those of a wider band), 255 none; brightness shift (int in
        ``[-aug.brightness, aug.brightness]``); flip (bool); ``c = aug.crop``.
    """
    c = aug.crop
    h, w = (int(v) for v in ds.samples[index]["shape"])
    s = float(rng.uniform(*aug.scale)) if aug.scale else 1.0
    if aug.resize_short:
        s *= aug.resize_short / min(h, w)  # the window read is c / s source pixels: resize, then crop
    src = max(1, int(round(c / s)))  # side of the window read from the shard
    ch, cw = min(src, h), min(src, w)
    y0 = int(rng.integers(0, h - ch + 1))
    x0 = int(rng.integers(0, w - cw + 1))
    flip = bool(aug.flip and rng.random() < 0.5)
    delta = int(rng.integers(-aug.brightness, aug.brightness + 1)) if aug.brightness else 0
    fb, fd = f"{aug.target}/boundary", f"{aug.target}/direction_band"  # docs/training.md, "Direction supervision"
    r = ds.read(index, fields=("image", fb, fd), window=(y0, x0, ch, cw))
    img, bnd, dirn = r["image"], r[fb], r[fd]
    if flip and apply_flip:
        img, bnd, dirn = img[:, ::-1], bnd[:, ::-1], flip_direction_map(dirn, num_directions)
    if src != c:
        img, bnd, dirn = _rescale(img.astype(np.float32), bnd, dirn, (max(1, round(ch * s)), max(1, round(cw * s))))
        img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        img, bnd, dirn = img[:c, :c], bnd[:c, :c], dirn[:c, :c]
    hh, ww = bnd.shape
    if (hh, ww) == (c, c):
        return img, bnd, dirn, delta, flip
    oy = ox = 0
    if aug.pad_mode == "random":
        oy, ox = int(rng.integers(0, c - hh + 1)), int(rng.integers(0, c - ww + 1))
    out_img = np.empty((c, c, 3), np.uint8)
    out_img[...] = PAD_COLOUR
    out_b = np.full((c, c), IGNORE_INDEX, np.uint8)
    out_d = np.full((c, c), DIRECTION_IGNORE, np.uint8)
    out_img[oy:oy + hh, ox:ox + ww] = img
    out_b[oy:oy + hh, ox:ox + ww] = bnd
    out_d[oy:oy + hh, ox:ox + ww] = dirn
    return out_img, out_b, out_d, delta, flip


def to_model_input(images: torch.Tensor, brightness: torch.Tensor | None = None) -> torch.Tensor:
    """Brightness shift and ImageNet normalisation, on whatever device the batch is on.

    Args:
        images: uint8 ``(N, H, W, 3)`` crops.
        brightness: integer ``(N,)`` shifts added to the 0..255 intensities (then clipped), or None.

    Returns:
        float32 ``(N, 3, H, W)`` normalised batch, in channels-last memory layout (a view of NHWC).
    """
    if images.ndim != 4 or images.shape[-1] != 3:
        raise InputError(f"expected uint8 crops of shape (N, H, W, 3), got {tuple(images.shape)}")
    x = images.float()
    if brightness is not None:
        shift = brightness.to(x.device, non_blocking=True).to(torch.float32)
        x = (x + shift.view(-1, 1, 1, 1)).clamp_(0, 255)
    mean, std = _normalisation(x.device)
    return ((x - mean) / std).permute(0, 3, 1, 2)


@functools.lru_cache(maxsize=None)
def _normalisation(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """ImageNet mean and std (float32 ``(3,)``, 0..255 scale) on ``device``, built once per device
    (a per-step copy from the host would be a blocking host-to-device transfer)."""
    return torch.as_tensor(IMAGENET_MEAN, device=device), torch.as_tensor(IMAGENET_STD, device=device)


@functools.lru_cache(maxsize=None)
def _device_flip_lookup(device: torch.device, num_directions: int) -> torch.Tensor:
    """``flip_lookup(num_directions)`` on ``device``, built once per device."""
    return flip_lookup(num_directions).to(device)


def flip_lookup(num_directions: int) -> torch.Tensor:
    """uint8 ``(256,)`` table: bin -> mirrored bin, 255 -> 255 (``segfix_data.targets.direction.flip_bins``)."""
    table = torch.full((256,), DIRECTION_IGNORE, dtype=torch.uint8)
    table[:num_directions] = torch.from_numpy(flip_bins(num_directions).astype(np.uint8))
    return table


def device_batch(batch: dict, device: torch.device, num_directions: int, channels_last: bool = False
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Finish a ``CropStream`` batch on ``device``: horizontal flip of the samples drawn for it
    (pixels, and bins through ``flip_lookup``), brightness shift, normalisation.

    Returns:
        image float32 ``(B, 3, c, c)`` (channels-last layout if asked), boundary uint8 ``(B, c, c)``,
        direction uint8 ``(B, c, c)``. Free of host synchronisation.
    """
    img = batch["image"].to(device, non_blocking=True)
    bnd = batch["boundary"].to(device, non_blocking=True)
    dirn = batch["direction"].to(device, non_blocking=True)
    if "flip" in batch:
        f = batch["flip"].to(device, non_blocking=True).view(-1, 1, 1)
        img = torch.where(f[..., None], img.flip(2), img)
        bnd = torch.where(f, bnd.flip(2), bnd)
        dirn = torch.where(f, _device_flip_lookup(device, num_directions)[dirn.flip(2).long()], dirn)
    x = to_model_input(img, batch.get("brightness"))
    x = x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    return x, bnd, dirn


class CropStream(torch.utils.data.Dataset):
    """Map-style dataset whose item ``b`` is the whole local batch number ``b`` of this rank.

    Use with ``DataLoader(stream, batch_size=None, sampler=range(start, stop), num_workers=W)``.

    Args:
        sets: shard sets (``ShardSet`` or anything with ``samples``, ``params`` and ``read``).
        weights: mixing weight per set.
        batch: crops per local batch.
        seed, rank, world_size: run seed and DDP position.
        aug: ``AugmentConfig``, or one per set (each set's own preprocessing, e.g. the unified
            model's ADE20K frames resized to a shorter side of 512 and its Cityscapes frames kept).

    Item: dict of tensors ``image`` uint8 ``(B, c, c, 3)``, ``boundary`` uint8 ``(B, c, c)``,
    ``direction`` uint8 ``(B, c, c)`` (all as read, unflipped), ``flip`` bool ``(B,)``,
    ``brightness`` int16 ``(B,)``, ``set`` int64 ``(B,)`` (which set each crop came from).
    ``device_batch`` turns it into the network input and targets on the device (the loader stays
    at uint8 -- a quarter of the bytes -- and does no per-pixel pass of its own).
    """

    def __init__(self, sets: Sequence, weights: Sequence[float], batch: int, *, seed: int = 0,
                 rank: int = 0, world_size: int = 1, aug: AugmentConfig | Sequence[AugmentConfig] | None = None):
        if len(sets) != len(weights):
            raise InputError(f"one weight per shard set: {len(sets)} sets, {len(weights)} weights")
        self.sets = list(sets)
        augs = aug if isinstance(aug, (list, tuple)) else [aug or AugmentConfig()] * len(self.sets)
        if len(augs) != len(self.sets):
            raise InputError(f"one AugmentConfig per shard set: {len(self.sets)} sets, {len(augs)} configs")
        self.augs = list(augs)
        self.seed, self.rank, self.world_size = int(seed), int(rank), int(world_size)
        self.alloc = batch_allocation(batch, weights)
        for ds in self.sets:
            if not ds.samples:
                raise InputError("a shard set has no images")
        dirs = {int(ds.params.get("num_directions", 8)) for ds in self.sets}
        if len(dirs) != 1:
            raise InputError(f"shard sets disagree on num_directions: {sorted(dirs)}")
        self.num_directions = dirs.pop()
        self._perm_cache: dict[tuple[int, int], np.ndarray] = {}

    def __len__(self) -> int:  # the stream is unbounded; DataLoader's sampler sets the range
        return 2**62

    def _image(self, s: int, count: int) -> int:
        """Image index of this rank's ``count``-th draw from set ``s``: draw
        ``count * world_size + rank`` of the global walk (a permutation per epoch)."""
        n = len(self.sets[s].samples)
        epoch, pos = divmod(count * self.world_size + self.rank, n)
        key = (s, epoch)
        if key not in self._perm_cache:
            if len(self._perm_cache) > 8:
                self._perm_cache.clear()
            g = np.random.default_rng([self.seed, 1, s, 0, epoch])
            self._perm_cache[key] = g.permutation(n)
        return int(self._perm_cache[key][pos])

    def __getitem__(self, b: int) -> dict[str, torch.Tensor]:
        b = int(b)
        imgs, bnds, dirs, which, deltas, flips = [], [], [], [], [], []
        k = 0
        for s, n in enumerate(self.alloc):
            for j in range(n):
                index = self._image(s, b * n + j)
                rng = np.random.default_rng([self.seed, 2, self.rank, b, k])
                im, bd, dr, dl, fl = random_crop(self.sets[s], index, rng, self.augs[s], self.num_directions)
                imgs.append(im); bnds.append(bd); dirs.append(dr); which.append(s); deltas.append(dl)
                flips.append(fl)
                k += 1
        return {
            "image": torch.from_numpy(np.stack(imgs)),
            "brightness": torch.tensor(deltas, dtype=torch.int16),
            "flip": torch.tensor(flips, dtype=torch.bool),
            "boundary": torch.from_numpy(np.stack(bnds)),
            "direction": torch.from_numpy(np.stack(dirs)),
            "set": torch.tensor(which, dtype=torch.int64),
        }


class SeedWorker:
    """``worker_init_fn`` seeding Python, NumPy and torch in every worker from the run seed, the
    rank and the worker id (the crops themselves use explicit generators; this covers any other
    randomness), and pinning each worker to one torch thread. A module-level class, so it pickles:
    DataLoader workers started by ``spawn`` or ``forkserver`` receive it by pickling."""

    def __init__(self, seed: int, rank: int):
        self.seed, self.rank = int(seed), int(rank)

    def __call__(self, worker_id: int) -> None:
        s = (self.seed * 1_000_003 + self.rank * 1009 + worker_id) % 2**32
        random.seed(s)
        np.random.seed(s)
        torch.manual_seed(s)
        torch.set_num_threads(1)


def seed_worker_fn(seed: int, rank: int) -> SeedWorker:
    """The ``worker_init_fn`` of rank ``rank`` (``SeedWorker``)."""
    return SeedWorker(seed, rank)


def make_loader(stream: CropStream, start: int, stop: int, num_workers: int = 0,
                pin_memory: bool = False, multiprocessing_context=None) -> torch.utils.data.DataLoader:
    """DataLoader over local batches ``start .. stop-1`` of ``stream`` (one batch per item);
    ``multiprocessing_context``: the workers' start method (None: the platform's default)."""
    return torch.utils.data.DataLoader(
        stream, batch_size=None, sampler=range(int(start), int(stop)), num_workers=num_workers,
        worker_init_fn=seed_worker_fn(stream.seed, stream.rank) if num_workers else None,
        pin_memory=pin_memory, persistent_workers=False,
        prefetch_factor=2 if num_workers else None,
        multiprocessing_context=multiprocessing_context if num_workers else None,
    )


def _worker_message(msg: str) -> str:
    """The original one-line message of an exception DataLoader re-raised from a worker
    ("Caught X in DataLoader worker process k. Original Traceback ... module.X: message")."""
    if not msg.startswith("Caught "):
        return msg
    lines = [ln for ln in msg.strip().splitlines() if ln.strip()]
    m = re.match(r"^[\w.]+: (.*)$", lines[-1]) if lines else None
    return m.group(1) if m else msg


def checked_batches(loader: Iterable):
    """Iterate ``loader``; a ``ValueError`` raised in a DataLoader worker (e.g.
    :class:`~segfix_data.shards.ShardReadError`: a damaged shard, naming the file, the sample and
    ``segfix-gt verify``) is re-raised with its own message, as in a single process."""
    it = iter(loader)
    while True:
        try:
            batch = next(it)
        except StopIteration:
            return
        except ValueError as e:
            msg = _worker_message(str(e))
            if msg == str(e):
                raise
            raise type(e)(msg) from None
        yield batch
