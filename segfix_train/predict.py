"""Offsets from images: boundary probability and direction for every pixel, full image or sliding
window with overlap averaging, written per image with ``segfix_data.refine.offsets.write_offsets``
(docs/refine.md, "Offsets sources") and optionally as the authors' offsets ``.mat`` (key ``mat``, ``(H, W, 2)`` ``(dy, dx)``).

Sliding window: windows of ``tile x tile`` pixels every ``stride`` pixels (the last window of a row
or column is moved back to touch the image edge, so every pixel is covered); the boundary
probabilities (sigmoid) and direction probabilities (softmax) of overlapping windows are averaged.
A pixel is boundary where the averaged probability exceeds ``threshold`` (0.5); its direction is the
bin of highest averaged probability. Directions are written on boundary pixels only (255 elsewhere).
That is the ``segfix`` tester (ours); the ``openseg`` tester (``predict_openseg``) computes as the
authors' tester does (``PredictOptions.tester``). ``load_model`` reads our checkpoints and the
authors' (``models.openseg_import``).

A run over image files is four steps: :func:`list_frames` (which images of a folder, which output
names; label maps are left out) or :func:`layout_frames` (one split of a dataset root),
:func:`load_model`, then :func:`predict_images` with :class:`PredictOptions` (how) and
:class:`OutputOptions` (what is written), which reads each image (:func:`read_rgb`), computes its
maps (:class:`OffsetsPredictor`) and writes them (:func:`write_outputs`); ``OUT_DIR/predict.json``
records what the offsets were computed with, and a rerun with other settings is refused unless it
overwrites (:mod:`segfix_train.predict_record`).
"""
from __future__ import annotations

import contextlib
import glob
import math
import os
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch

from segfix_data.datasets.pixels import ImageTooLarge, check_pixels
from segfix_data.datasets.walk import glob_once
from segfix_data.errors import InputError
from segfix_data.targets.direction import DIRECTION_IGNORE, bin_offsets

from .checkpoint import DIGEST_SUFFIX, CheckpointError, list_checkpoints, load_checkpoint, load_weights_file
from .config import OPENSEG_MODES, TESTERS
from .data import normalise
from .models.factory import model_from_weights
from .precision import Precision, check_amp, resolve_amp
from .predict_openseg import openseg_maps, openseg_normalise, openseg_predict

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".ppm")


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"``: CUDA when available, else the CPU; anything else as ``torch.device`` reads it.
    A CUDA device where there is none is refused (``InputError``) rather than failing later."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise InputError(f"device {device!r} is not a device name torch reads ({e}); use auto, cpu or cuda") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        why = ("this PyTorch is built without CUDA" if torch.version.cuda is None
               else "no CUDA GPU is visible (driver, CUDA_VISIBLE_DEVICES)")
        raise InputError(f"--device {device}: {why}; use --device cpu, or --device auto (CUDA when available)")
    return dev


def resolve_checkpoint(path: str | os.PathLike) -> str:
    """``path`` itself, or for a run directory (``segfix train --out``, or its ``checkpoints``
    folder) its latest checkpoint. Raises ``FileNotFoundError`` naming the path."""
    path = os.fspath(path)
    if os.path.isdir(path):
        found = list_checkpoints(path)
        if not found and os.path.basename(os.path.normpath(path)) == "checkpoints":
            found = list_checkpoints(os.path.dirname(os.path.normpath(path)))
        if not found:
            raise FileNotFoundError(f"{path}: no checkpoints/ckpt_*.pt in this run directory; pass a "
                                    "checkpoint file or a `segfix train --out` directory that has saved one")
        return found[-1][1]
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such checkpoint file or run directory (nothing is downloaded; "
                                "pass a local file)")
    return path


#: Architecture options of checkpoints written before ``model_spec`` was recorded (ours).
_LEGACY_SPEC = dict(head="segfix", head_act="relu", align_corners=False)


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu", model: str | None = None,
               abn_scale: bool = True) -> torch.nn.Module:
    """A ``SegFixModel`` in eval mode from a ``segfix train`` checkpoint, a converted checkpoint
    (``segfix convert-openseg``) or one of the authors' SegFix checkpoints.

    ``model`` overrides the architecture of an authors' file; ``abn_scale``: how their InPlace-ABN
    weights are read (``segfix_train.models.openseg_import``). A project checkpoint rebuilds its
    network from its ``model_spec`` (or, for older files, ``config`` with our head and
    ``align_corners=False``). ``path`` may be a run directory: its latest checkpoint."""
    from .models.openseg_import import is_openseg_segfix, load_openseg_model

    path = resolve_checkpoint(path)
    if os.path.exists(path + DIGEST_SUFFIX):  # a segfix checkpoint: digest checked, weights_only
        state = load_checkpoint(path)
    else:
        try:
            obj = load_weights_file(path)
        except ValueError as e:
            raise CheckpointError(f"{path}: not a segfix train checkpoint (no {os.path.basename(path)}"
                                  f"{DIGEST_SUFFIX} digest beside it) and not an authors' SegFix checkpoint "
                                  f"either ({str(e)[:300]})") from None
        if is_openseg_segfix(obj):
            return load_openseg_model(path, obj, model=model, abn_scale=abn_scale).to(device).eval()
        state = load_checkpoint(path)  # not the authors': says what a segfix checkpoint needs
    spec = state.get("model_spec")
    if spec is None:
        cfg = state.get("config")
        if not isinstance(cfg, dict) or not isinstance(cfg.get("model_args", {}), dict):
            raise CheckpointError(f"{path}: no model_spec and no config naming the model; was it edited or "
                                  "written by another tool?")
        spec = dict(name=cfg.get("model"), **{**_LEGACY_SPEC, **cfg.get("model_args", {})})
    if not isinstance(spec, dict) or not isinstance(state.get("num_directions", 8), int):
        raise CheckpointError(f"{path}: its model_spec is not a dict of settings; was it edited or written by "
                              "another tool?")
    spec = {**spec, "num_directions": state.get("num_directions", spec.get("num_directions", 8))}
    if model is not None and model != spec["name"]:
        raise InputError(f"{path!r} holds a {spec['name']} model; --model {model} applies only to the "
                         f"authors' checkpoints")
    # spec and weights checked before the network is built (a crafted spec cannot allocate more)
    return model_from_weights(path, spec, state["model"]).to(device)


def _glob_base(spec: str) -> str:
    """The directories of a glob pattern before its first wildcard (``data/x`` of ``data/x/**/*.png``)."""
    parts = []
    for part in os.path.normpath(spec).split(os.sep)[:-1]:
        if glob.has_magic(part):
            break
        parts.append(part)
    return os.sep.join(parts) or "."


def find_images(spec: str) -> tuple[list[str], list[str]]:
    """``(images, label_maps)``: the image files of a directory (recursive) or a glob pattern, sorted,
    and the files among them left out as label maps (by place or name:
    :func:`segfix_data.datasets.images.is_label_path`, e.g. ``gtFine/`` or ``annotations/`` below
    the directory, ``*_gtFine_labelIds.png``), which are never fed to a model. Raises
    ``FileNotFoundError`` when no image is left."""
    from segfix_data.datasets.images import is_label_path

    if os.path.isdir(spec):
        root = spec
        paths = [os.path.join(r, f) for r, _, fs in os.walk(spec) for f in fs
                 if f.lower().endswith(IMAGE_SUFFIXES)]
    else:  # a `**` glob walks each real directory once, whatever symbolic-link loops it meets
        root = _glob_base(spec)
        paths = [p for p in glob_once(spec) if p.lower().endswith(IMAGE_SUFFIXES)]
    labels = sorted(p for p in paths if is_label_path(p, root))
    images = sorted(set(paths) - set(labels))
    if not images:
        left = f" ({len(labels)} label maps left out, e.g. {labels[0]})" if labels else ""
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found at {spec!r}{left}")
    return images, labels


def window_starts(size: int, tile: int, stride: int) -> list[int]:
    """Start offsets of the windows along one axis of ``size`` pixels (all pixels covered)."""
    if not 1 <= stride <= tile:
        raise InputError(f"need 1 <= stride <= tile so that windows cover the image, got tile {tile}, "
                         f"stride {stride}")
    if tile >= size:
        return [0]
    starts = list(range(0, size - tile + 1, stride))
    if starts[-1] != size - tile:
        starts.append(size - tile)
    return starts


def use_channels_last(model: torch.nn.Module, device: torch.device, wanted: bool | None = None) -> bool:
    """Convert ``model`` to channels-last memory layout when ``wanted`` (default: on CUDA, where
    cuDNN's NHWC kernels are faster); returns whether it did (pass it to ``predict_probs``)."""
    on = (torch.device(device).type == "cuda") if wanted is None else bool(wanted)
    if on:
        model.to(memory_format=torch.channels_last)
    return on


@torch.no_grad()
def predict_probs(model: torch.nn.Module, image: torch.Tensor, *, tile: int | None = None,
                  stride: int | None = None, batch: int = 4,
                  precision: Precision | None = None, channels_last: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Boundary and direction probabilities of one normalised image.

    Args:
        model: maps ``(N, 3, h, w)`` to ``(boundary logits (N, 1, h, w), direction logits (N, m, h, w))``.
        image: float ``(3, H, W)`` normalised image (on the model's device).
        tile, stride: window side and step in pixels; ``None``: the whole image at once.
        batch: windows per forward pass.
        precision: the autocast of the forward passes (``precision.resolve_amp``; None: fp32).
        channels_last: give the model its input in channels-last memory layout (for a model
            converted with ``use_channels_last``; faster convolutions on CUDA, same values).

    Returns:
        float32 ``(H, W)`` boundary probability and float32 ``(m, H, W)`` direction probability.
    """
    if image.ndim != 3 or image.shape[0] != 3:
        raise InputError(f"expected a normalised image of shape (3, H, W), got {tuple(image.shape)}")
    ctx = precision.autocast if precision is not None else contextlib.nullcontext
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    _, h, w = image.shape
    if tile is None:
        with ctx():
            b, d = model(image[None].contiguous(memory_format=fmt))
        return torch.sigmoid(b[0, 0].float()), torch.softmax(d[0].float(), 0)
    stride = stride or tile
    boxes = [(y, x) for y in window_starts(h, tile, stride) for x in window_starts(w, tile, stride)]
    th, tw = min(tile, h), min(tile, w)
    pb = torch.zeros(h, w, device=image.device)
    pd = None
    cnt = torch.zeros(h, w, device=image.device)
    for i in range(0, len(boxes), batch):
        chunk = boxes[i: i + batch]
        x = torch.stack([image[:, y: y + th, x0: x0 + tw] for y, x0 in chunk]).contiguous(memory_format=fmt)
        with ctx():
            b, d = model(x)
        b, d = torch.sigmoid(b[:, 0].float()), torch.softmax(d.float(), 1)
        if pd is None:
            pd = torch.zeros(d.shape[1], h, w, device=image.device)
        for k, (y, x0) in enumerate(chunk):
            pb[y: y + th, x0: x0 + tw] += b[k]
            pd[:, y: y + th, x0: x0 + tw] += d[k]
            cnt[y: y + th, x0: x0 + tw] += 1
    return pb / cnt, pd / cnt


def probs_to_maps(pb: torch.Tensor, pd: torch.Tensor, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """uint8 ``(H, W)`` boundary (0/1) and uint8 ``(H, W)`` direction bins (255 off boundary)."""
    boundary = (pb > threshold).cpu().numpy().astype(np.uint8)
    direction = pd.argmax(0).cpu().numpy().astype(np.uint8)
    direction[boundary == 0] = DIRECTION_IGNORE
    return boundary, direction


def offsets_array(boundary: np.ndarray, direction: np.ndarray, m: int) -> np.ndarray:
    """int16 ``(H, W, 2)`` ``(dy, dx)`` per pixel: the bin's offset on boundary pixels, 0 elsewhere
    (the authors' offsets ``.mat`` layout)."""
    table = np.zeros((256, 2), np.int16)
    table[:m] = bin_offsets(m)
    return table[np.where(boundary == 1, direction, 255)]


@dataclass(frozen=True)
class PredictOptions:
    """How offsets are computed from one image (``segfix predict``'s computation options).

    ``tester``: ``"segfix"`` (ours: RGB input, ``tile``/``stride`` windows, probabilities at the
    input size averaged, ``threshold``) or ``"openseg"`` (the authors' tester,
    ``segfix_train.predict_openseg``: ``openseg_mode`` ``"sscrop"`` or ``"whole"``, fp32; it fixes
    its windows and threshold, so ``tile``, ``stride``, ``threshold`` and ``amp`` stay unset).
    ``tile``, ``stride``: window side and step in pixels (None: the whole image; stride: the tile).
    ``batch``: windows per forward pass (None: 4; openseg 1, as theirs). ``amp``: one of
    ``precision.AMP_MODES``, or None for the tester's own (``auto`` for segfix, fp32 for openseg).
    """

    tester: str = "segfix"
    tile: int | None = None
    stride: int | None = None
    batch: int | None = None
    threshold: float = 0.5
    amp: str | None = None
    openseg_mode: str = "sscrop"

    def __post_init__(self) -> None:
        if self.tester not in TESTERS:
            raise InputError(f"tester must be one of {'|'.join(TESTERS)}, got {self.tester!r}")
        for name in ("tile", "stride", "batch"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise InputError(f"--{name} must be a whole number >= 1, got {v!r}")
        if self.stride is not None and self.tile is None:
            raise InputError(f"--stride {self.stride} is the step between sliding windows: give their side "
                             "with --tile too (without --tile the whole image is one window)")
        if self.stride is not None and self.stride > self.tile:
            raise InputError(f"--stride {self.stride} is larger than --tile {self.tile}: pixels between windows "
                             "would get no prediction; use a stride <= the tile")
        if not isinstance(self.threshold, (int, float)) or isinstance(self.threshold, bool) \
                or not (math.isfinite(self.threshold) and 0 <= self.threshold < 1):
            raise InputError(f"--threshold must be a probability in [0, 1): a pixel is boundary where its "
                             f"probability exceeds it (1 or more marks none), got {self.threshold!r}")
        if self.amp is not None:
            check_amp(self.amp)
        if self.tester == "openseg" and (self.tile is not None or self.stride is not None
                                         or self.threshold != 0.5 or self.amp not in (None, "off")):
            raise InputError("--tester openseg fixes the windows (512, stride 170), the 0.5 threshold and fp32; "
                             "drop --tile/--stride/--threshold/--amp, or use --tester segfix")
        if self.openseg_mode not in OPENSEG_MODES:
            raise InputError(f"openseg_mode must be one of {'|'.join(OPENSEG_MODES)}, got {self.openseg_mode!r}")


class OffsetsPredictor:
    """``net`` (on its device, eval mode) as ``options`` say: boundary and direction maps of one
    image. Converts ``net`` to channels-last on CUDA for the segfix tester."""

    def __init__(self, net: torch.nn.Module, options: PredictOptions = PredictOptions()):
        self.net, self.options = net, options
        self.device = next(net.parameters()).device
        self.batch = options.batch or (1 if options.tester == "openseg" else 4)
        openseg = options.tester == "openseg"
        self.precision = resolve_amp("off" if openseg else options.amp or "auto", self.device)
        self.channels_last = not openseg and use_channels_last(net, self.device)

    def settings(self) -> dict:
        """What decides the offsets this predictor computes, as resolved here (the ``amp`` actually
        used; the ``stride`` of a tile without one): ``predict_record`` records it."""
        o = self.options
        if o.tester == "openseg":
            return {"tester": o.tester, "openseg_mode": o.openseg_mode}
        return {"tester": o.tester, "threshold": float(o.threshold), "tile": o.tile,
                "stride": o.stride or o.tile, "amp": self.precision.name}

    def maps(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 ``(H, W)`` boundary (0/1) and direction bins (255 off the boundary) of a uint8
        ``(H, W, 3)`` RGB image."""
        o = self.options
        if o.tester == "openseg":
            pb, dl = openseg_predict(self.net, openseg_normalise(rgb).to(self.device), mode=o.openseg_mode,
                                     batch=self.batch)
            return openseg_maps(pb, dl)
        x = torch.from_numpy(normalise(rgb)).to(self.device)
        pb, pd = predict_probs(self.net, x, tile=o.tile, stride=o.stride, batch=self.batch,
                               precision=self.precision, channels_last=self.channels_last)
        return probs_to_maps(pb, pd, o.threshold)


@dataclass(frozen=True)
class OutputOptions:
    """What ``predict_images`` writes and how it treats trouble.

    ``write_mat``: also the authors' offsets ``.mat``. ``on_error``: ``"stop"`` (an unreadable
    image raises ``InputError`` naming it) or ``"skip"`` (it is listed in
    ``PredictResult.skipped`` and the others are predicted). ``overwrite=False`` resumes: an image
    whose offsets file (and ``.mat``) of an earlier run reads back is kept.
    """

    write_mat: bool = False
    on_error: str = "stop"
    overwrite: bool = True

    def __post_init__(self) -> None:
        if self.on_error not in ("stop", "skip"):
            raise InputError(f"on_error must be 'stop' or 'skip', got {self.on_error!r}")


@dataclass
class PredictResult:
    """``written``: offsets files written; ``boundary_fraction``: mean share of boundary pixels over
    the written and kept files; ``kept``: complete files of an earlier run left as they were
    (``overwrite=False``); ``skipped``: ``(image path, reason)`` of unreadable images
    (``on_error="skip"``); ``removed``: offsets files of an earlier run with other settings
    (``overwrite=True``)."""

    written: list[str]
    boundary_fraction: float
    kept: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


#: A boundary fraction above this is implausible (boundaries cover a few percent of the pixels):
#: wrong weights, normalisation or tester rather than a real prediction.
IMPLAUSIBLE_BOUNDARY_FRACTION = 0.5


def _complete_output(npz: str, write_mat: bool) -> float | None:
    """The boundary fraction of an earlier run's complete output for one image (its ``.npz``
    reads back, and its ``.mat`` exists when asked for); None when it must be (re)written."""
    from segfix_data.refine.offsets import read_offsets

    if not os.path.isfile(npz) or (write_mat and not os.path.isfile(npz[:-4] + ".mat")):
        return None
    try:
        return float(read_offsets(npz)["boundary"].mean())
    except (ValueError, OSError):
        return None


def frame_names(paths: Sequence[str], img_suffix: str | None = None) -> tuple[list[str], list[str]]:
    """``(paths, names)``: the offsets file name (without ``.npz``) of each image.

    Without ``img_suffix``: the file stem (``aachen_..._leftImg8bit``; refine and eval reduce a
    Cityscapes name to its ``city_seq_frame`` key themselves). With it (the dataset's
    ``--img-suffix``, e.g. ``_rgb.png``): only images whose name ends in it, each named by its frame
    key, the name without the suffix (``s0_rgb.png`` -> ``s0``), as ``segfix-gt build`` names the
    frame (:func:`segfix_data.datasets.io.frame_key`).
    """
    if not img_suffix:
        return list(paths), [os.path.splitext(os.path.basename(p))[0] for p in paths]
    from segfix_data.datasets.io import frame_key

    kept = [p for p in paths if os.path.basename(p).endswith(img_suffix)]
    if not kept:
        raise FileNotFoundError(f"no image name ends in --img-suffix {img_suffix!r} (e.g. "
                                f"{os.path.basename(paths[0])}); pass the suffix the images have")
    return kept, [frame_key(p, (img_suffix,)) for p in kept]


def unique_names(frames: Sequence[tuple[str, str]], what: str = "file stem") -> list[tuple[str, str]]:
    """``frames`` (``(image path, offsets file name)``) as a list; two images with one name are
    refused naming both files (one offsets file would overwrite the other)."""
    seen: dict[str, str] = {}
    for path, name in frames:
        if name in seen:
            raise InputError(
                f"{seen[name]} and {path}: both would write the offsets file {name}.npz (offsets files are "
                f"named by {what}); pass one split's image folder as --images, or the dataset root with "
                "--layout and --split")
        seen[name] = path
    return list(frames)


def list_frames(images: str | Sequence[str], img_suffix: str | None = None) -> list[tuple[str, str]]:
    """``[(image path, offsets file stem)]`` of ``images`` (a directory, searched recursively, or a
    glob pattern, without its label maps (:func:`find_images`); or a list of paths; stems as
    :func:`frame_names`). Two images with one stem are refused, naming both."""
    paths = find_images(images)[0] if isinstance(images, str) else list(images)
    paths, stems = frame_names(paths, img_suffix)
    return unique_names(list(zip(paths, stems)), "frame key" if img_suffix else "file stem")


def layout_frames(layout: str, root: str, split: str | None = None, *, img_suffix: str | None = None,
                  image_glob: str | None = None) -> tuple[str | None, list[tuple[str, str]]]:
    """``(split, [(image path, frame key)])``: the images of one split of a dataset root
    (:func:`segfix_data.datasets.images.layout_images`; ``split`` None: the split ``segfix eval``
    scores), their offsets files named by frame key as ``segfix-gt build`` names the frames."""
    from segfix_data.datasets.images import layout_images, resolve_image_split

    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: no such dataset root (with --layout, --images is the dataset root)")
    split = resolve_image_split(layout, root, split)
    frames = layout_images(layout, root, split, img_suffix=img_suffix, image_glob=image_glob)
    return split, unique_names(frames, "frame key")


def read_rgb(path: str) -> np.ndarray:
    """uint8 ``(H, W, 3)`` RGB of an image file; its header's pixel count is checked first
    (``ImageTooLarge``), an unreadable file raises ``OSError`` or PIL's ``DecompressionBombError``."""
    from PIL import Image

    check_pixels(path)  # a decompression bomb is refused (one line) before decoding
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def write_outputs(out_dir: str, stem: str, boundary: np.ndarray, direction: np.ndarray, m: int,
                  write_mat: bool = False) -> str:
    """``OUT_DIR/<stem>.npz`` (``segfix_data.refine.offsets.write_offsets``), after
    ``<stem>.mat`` when ``write_mat`` (a ``.npz`` without its ``.mat`` is redone on resume);
    returns the ``.npz`` path."""
    from segfix_data.refine.offsets import write_offsets

    if write_mat:
        from segfix_data.interop import save_openseg_offsets_mat

        save_openseg_offsets_mat(os.path.join(out_dir, stem + ".mat"), offsets_array(boundary, direction, m))
    return str(write_offsets(os.path.join(out_dir, stem + ".npz"), boundary, direction, m))


def predict_images(net: torch.nn.Module, frames: Sequence[tuple[str, str]], out_dir: str,
                   options: PredictOptions = PredictOptions(), output: OutputOptions = OutputOptions(),
                   progress: Callable[[Iterable], Iterator] | None = None,
                   checkpoint: str | None = None) -> PredictResult:
    """Predict offsets for every ``(image path, stem)`` of ``frames`` (:func:`list_frames`) with
    ``net`` (:func:`load_model`) and write ``OUT_DIR/<stem>.npz`` (and ``<stem>.mat``).

    ``options``: how (:class:`PredictOptions`); ``output``: what is written and what an unreadable
    image or an earlier run's file does (:class:`OutputOptions`); ``progress`` wraps the frames
    (a progress bar); ``checkpoint``: the file ``net`` was read from (its digest is recorded in
    ``OUT_DIR/predict.json`` with the settings, ``predict_record``). Raises
    ``predict_record.OffsetsDirError`` when OUT_DIR holds another run's offsets and not
    ``output.overwrite``."""
    from PIL import Image

    from .predict_record import claim_offsets_dir, run_record

    predictor = OffsetsPredictor(net, options)
    removed = claim_offsets_dir(out_dir, run_record(net, predictor.settings(), checkpoint), output.overwrite)
    result, fractions = PredictResult([], 0.0, removed=removed), []
    for path, stem in (progress(list(frames)) if progress else frames):
        done = None if output.overwrite else _complete_output(os.path.join(out_dir, stem + ".npz"), output.write_mat)
        if done is not None:
            result.kept.append(os.path.join(out_dir, stem + ".npz"))
            fractions.append(done)
            continue
        try:
            rgb = read_rgb(path)
        except (OSError, Image.DecompressionBombError, ImageTooLarge) as e:
            if output.on_error == "skip":
                result.skipped.append((str(path), str(e)))
                continue
            if isinstance(e, ImageTooLarge):
                raise
            raise InputError(f"cannot read image {path!r} ({e}); remove it or fix the file, "
                             "or pass --on-error skip") from e
        boundary, direction = predictor.maps(rgb)
        result.written.append(write_outputs(out_dir, stem, boundary, direction, net.num_directions, output.write_mat))
        fractions.append(float(boundary.mean()))
    result.boundary_fraction = float(np.mean(fractions)) if fractions else 0.0
    return result
