"""What one frame becomes: the build's parameters (:class:`BuildConfig`) and :func:`process_frame`,
which reads a frame's files, makes its targets and encodes its arrays (it runs in worker processes).
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import os
import signal
import stat
import threading
import time

import numpy as np

from segfix_data.version import __version__
from segfix_data import datasets as _datasets
from segfix_data.datasets import labels as _labels
from segfix_data.datasets import pixels as _pixels
from segfix_data.ignore import IGNORE_INDEX

from . import codec as _codec
from .format import FORMAT_VERSION
from segfix_data.errors import InputError

VARIANT_CHOICES = {"semantic": ("semantic",), "instance": ("instance",), "both": ("semantic", "instance")}
IMAGE_FORMATS = ("tiles", "file")
ON_ERROR = ("fail", "skip")
BACKENDS = ("loky", "dask")
#: Default direction band = this x gamma (docs/training.md, "Direction supervision": it holds the
#: predicted boundary of a trained model; benchmarks/ablation_direction.py measures the coverage).
DIRECTION_BAND_FACTOR = 3.0


@dataclasses.dataclass(frozen=True)
class BuildConfig:
    """What to build. ``None`` target parameters take the preset's defaults.

    Attributes:
        layout: one of :data:`segfix_data.datasets.LAYOUTS`.
        variant: "semantic", "instance" or "both" (instance needs Cityscapes instanceIds).
        preset: "paper" or "openseg" (targets.md section 6; also stores the authors' depth/dir_deg).
        gamma, ksize, num_directions, border_is_boundary: target overrides.
        images: store the images (lossless).
        image_format: "tiles" (uint8 tiles, fast crops) or "file" (the source file's bytes).
        tile: chunk side in pixels; codec: of the target tiles, "lz4" (format 2's default,
            Blosc-LZ4 through hdf5plugin) or "zlib" (deflate, readable without plugins);
            level: zlib level 1..9 of the targets (codec zlib); image_level: zlib level of the
            images (0: uncompressed tiles); shard_size: frames per shard.
        class_map, image_glob, label_glob: folder layout (no class map: labels are train ids).
        img_suffix, seg_suffix: mmseg and folder layouts: pair files by name minus these endings.
        reduce_zero_label: mmseg layout: label 0 is ignore and 1..K are classes 0..K-1.
        class_names: names of the train ids (voc: the 21 VOC names), kept in the parameters for
            tables and pictures.
        direction_band: pixels (format 3, ``paper`` preset): direction targets are also stored on
            the valid pixels with ``gamma < distance <= direction_band``, so that a direction loss
            on the *predicted* boundary (paper Sec. 3.2) has targets where the prediction spills
            past the ground-truth band. None: ``DIRECTION_BAND_FACTOR * gamma`` (15 px at gamma
            5); 0 (and any value <= gamma): off. The ``openseg`` preset stores none.
        max_image_pixels: the decompression-bomb limit of the workers (None: PIL's default; see
            :mod:`segfix_data.datasets.pixels`); a run option, not a build parameter.
    """

    layout: str = "cityscapes"
    variant: str = "semantic"
    preset: str = "paper"
    gamma: float | None = None
    ksize: int | None = None
    num_directions: int | None = None
    border_is_boundary: bool | None = None
    images: bool = True
    image_format: str = "tiles"
    tile: int = 128
    codec: str = "lz4"
    level: int = 1
    image_level: int = 0
    shard_size: int = 32
    class_map: str | None = None
    image_glob: str | None = None
    label_glob: str | None = None
    img_suffix: str | None = None
    seg_suffix: str | None = None
    reduce_zero_label: bool = False
    class_names: tuple | None = None
    direction_band: float | None = None
    max_image_pixels: int | None = None

    def __post_init__(self) -> None:
        if self.layout not in _datasets.LAYOUTS:
            raise InputError(f"unknown layout {self.layout!r}; choose one of {_datasets.LAYOUTS}")
        if self.variant not in VARIANT_CHOICES:
            raise InputError(f"unknown variant {self.variant!r}; choose one of {sorted(VARIANT_CHOICES)}")
        if "instance" in self.variants and self.layout != "cityscapes":
            raise InputError(f"--variant {self.variant} needs instance ids; layout {self.layout!r} "
                             "has none (use --variant semantic)")
        if self.image_format not in IMAGE_FORMATS:
            raise InputError(f"unknown image format {self.image_format!r}; choose one of {IMAGE_FORMATS}")
        if self.codec not in _codec.CODECS:
            raise InputError(f"unknown tile codec {self.codec!r}; choose one of {_codec.CODECS}")
        if self.codec == "lz4":
            _codec.require_hdf5plugin()
        if not (1 <= self.level <= 9 and 0 <= self.image_level <= 9):
            raise InputError(f"zlib levels must be 1..9 (images 0..9, 0 = uncompressed tiles), "
                             f"got {self.level}, {self.image_level}")
        if self.tile < 16 or self.shard_size < 1:
            raise InputError(f"tile must be >= 16 pixels and shard_size >= 1, got {self.tile}, {self.shard_size}")
        if self.layout == "folder" and not (self.image_glob and self.label_glob):
            raise InputError("layout 'folder' needs --image-glob and --label-glob")
        if self.reduce_zero_label and self.layout not in ("mmseg", "folder"):
            raise InputError(f"--reduce-zero-label applies to the mmseg and folder layouts, not {self.layout!r}")
        if self.class_map and self.layout != "folder":
            raise InputError(f"--class-map applies to the folder layout only; layout {self.layout!r} "
                             "has its own id table (drop --class-map, or use --layout folder)")
        if self.reduce_zero_label and self.class_map:
            raise InputError("--reduce-zero-label and --class-map both map the label ids; give one "
                             "(write the shift into the class map)")
        if self.class_names is not None:
            object.__setattr__(self, "class_names", tuple(str(n) for n in self.class_names))
        self.target_overrides()  # validates the preset and overrides early

    @property
    def variants(self) -> tuple:
        return VARIANT_CHOICES[self.variant]

    def target_overrides(self) -> dict:
        """The target parameters given explicitly (validated against the preset)."""
        from segfix_data.targets import resolve_params

        over = {k: getattr(self, k) for k in ("gamma", "ksize", "num_directions", "border_is_boundary")
                if getattr(self, k) is not None}
        resolve_params(self.preset, over)
        return over

    def resolved_targets(self) -> dict:
        from segfix_data.targets import resolve_params

        return resolve_params(self.preset, self.target_overrides())

    def resolved_direction_band(self) -> float:
        """The direction band's outer distance in pixels, or 0 when no band is stored."""
        if self.preset != "paper":
            return 0.0
        gamma = self.resolved_targets()["gamma"]
        band = DIRECTION_BAND_FACTOR * gamma if self.direction_band is None else float(self.direction_band)
        if band < 0:
            raise InputError(f"direction_band must be >= 0 pixels, got {self.direction_band!r}")
        return band if band > gamma else 0.0

    def params(self) -> dict:
        """The JSON-able build parameters (compared on a rerun into the same OUT_DIR)."""
        p = dataclasses.asdict(self)
        del p["max_image_pixels"]  # how far a run trusts image headers, not what it builds
        p["variants"] = list(self.variants)
        for k in ("img_suffix", "seg_suffix", "reduce_zero_label", "class_names"):  # new keys: only
            if not p[k]:                                    # when set, so older builds still resume
                del p[k]
        if self.class_names:
            p["class_names"] = list(self.class_names)
        p["targets"] = self.resolved_targets()
        p["num_directions"] = p["targets"]["num_directions"]
        p["tool"] = "segfix"
        p["tool_version"] = __version__
        p["format_version"] = FORMAT_VERSION
        p["direction_band"] = self.resolved_direction_band()
        if self.class_map:
            with open(self.class_map, "rb") as f:
                p["class_map_blake2b"] = hashlib.blake2b(f.read(), digest_size=16).hexdigest()
        return p


# --------------------------------------------------------------------------------------------
# Per frame (runs in workers)


def _sparse(counts: np.ndarray) -> dict:
    """{train id: count} of the non-zero counts below 255 (ignore)."""
    return {str(k): int(n) for k, n in enumerate(counts[:IGNORE_INDEX]) if n}


def _instance_segments(instance_ids: np.ndarray, preset: str) -> tuple[np.ndarray, int | None]:
    if preset == "openseg":
        return _labels.cityscapes_instance_ids_to_openseg_segments(instance_ids), IGNORE_INDEX
    return _labels.cityscapes_instance_ids_to_segments(instance_ids)


def _source_paths(frame: _datasets.Frame, variants) -> list:
    """The files a frame is built from: the image, the label, the instance ids with the
    instance variant."""
    return [frame.image, frame.label] + ([frame.instance] if "instance" in variants and frame.instance else [])


def source_stats(frame: _datasets.Frame, variants) -> dict:
    """``{path: [size in bytes, mtime in ns]}`` of the files a frame is built from (the image, the
    label, the instance ids with the instance variant); a file that cannot be stat'ed maps to None.

    Recorded with each sample; a resume rebuilds the shard of any frame whose files differ.
    """
    out = {}
    for p in _source_paths(frame, variants):
        try:
            st = os.stat(p)
            out[p] = [int(st.st_size), int(st.st_mtime_ns)]
        except OSError:
            out[p] = None
    return out


#: Source files up to this size are read into memory once, for their digest and their decoding
#: (:func:`read_sources`); larger ones are digested block by block and decoded from the file.
MAX_READ_ONCE_BYTES = 256 << 20


def read_sources(frame: _datasets.Frame, variants) -> dict:
    """``{path: bytes or None}``: the contents of the same files as :func:`source_stats`, each
    read once, for both its digest (:func:`source_hashes`) and its decoding, so that the digest
    recorded is that of the bytes the targets were made from.

    None for a file that is not a regular file, cannot be read, or is larger than
    :data:`MAX_READ_ONCE_BYTES` (the decoders then open it themselves and name the problem).
    """
    out = {}
    for p in _source_paths(frame, variants):
        out[p] = None
        try:
            with _open_regular(p) as f:  # a FIFO or a device is never read
                if os.fstat(f.fileno()).st_size <= MAX_READ_ONCE_BYTES:
                    out[p] = f.read()
        except OSError:
            pass
    return out


def source_hashes(frame: _datasets.Frame, variants, contents: dict | None = None) -> dict:
    """``{path: BLAKE2b-128 hex digest of the file's bytes}`` of the same files as
    :func:`source_stats` (None where unreadable or not a regular file: a pipe is never opened,
    its reader would wait for a writer).

    Recorded with each sample (``source_hashes``); ``segfix-gt build --check-content`` compares them
    on resume, catching an edit that kept the size and the mtime (``touch -r``), which the default
    size + mtime check misses.

    Args:
        contents: optional ``{path: bytes or None}`` of :func:`read_sources`: a file's bytes given
            there are digested as they are; the others are read here, block by block.
    """
    out = {}
    for p in _source_paths(frame, variants):
        data = contents.get(p) if contents else None
        h = hashlib.blake2b(digest_size=16)
        if data is not None:
            h.update(data)
            out[p] = h.hexdigest()
            continue
        out[p] = None
        try:
            with _open_regular(p) as f:  # a FIFO or a device is never read
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            out[p] = h.hexdigest()
        except OSError:
            pass
    return out


def _open_regular(path: str):
    """``path`` opened for binary reading if it is a regular file (else ``OSError``): opened without
    blocking and judged by ``fstat``, so a FIFO or a link to ``/dev/zero`` is never read."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path}: not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def check_sources(frame: _datasets.Frame, variants) -> None:
    """Refuse the frame (:class:`~segfix_data.datasets.FrameError` naming the file) when one of its
    source files is there but is not a regular file (a FIFO, a device, a link to ``/dev/zero``),
    before anything reads it: hashing or decoding it would block or never end. A missing file is
    left to the readers, which name it (``--no-images`` builds have no image file)."""
    paths = [frame.image, frame.label] + ([frame.instance] if "instance" in variants and frame.instance else [])
    for p in paths:
        if p and os.path.exists(p):
            _datasets.io.check_file(p)


class StageTimes:
    """CPU seconds (``time.process_time``) spent in each named step of :func:`process_frame`, summed
    over the frames it is passed to (``benchmarks/bench_build.py`` prints them per frame).

    Use: ``with stages("targets"): ...``; ``stages.seconds`` is ``{name: seconds}`` in the order
    the steps first ran. :data:`NO_STAGES` times nothing.
    """

    def __init__(self, clock=time.process_time) -> None:
        self.clock = clock
        self.seconds: dict = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        t0 = self.clock()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + self.clock() - t0


class _NoStages:
    @contextlib.contextmanager
    def __call__(self, name: str):
        yield


#: The :class:`StageTimes` of an untimed build.
NO_STAGES = _NoStages()


_WATCHDOG_PID = None


def exit_with_parent(parent: int) -> None:
    """In a worker process: end it (``os._exit``) within ~0.5 s once ``parent`` (the build's pid)
    is no longer its parent process (the loky workers' initializer; idempotent per process), and
    leave Ctrl-C (SIGINT) to the parent.

    loky workers otherwise outlive a ``kill -9`` of the build (they wait on their task queue); once
    they are gone, the resource trackers see their pipes close and exit as well. ``parent`` is
    passed in rather than read here, so that a worker still starting up when the build dies (its
    imports take seconds on a loaded machine) exits as soon as it gets here.
    """
    global _WATCHDOG_PID
    if _WATCHDOG_PID == os.getpid():
        return
    _WATCHDOG_PID = os.getpid()
    # a Ctrl-C reaches the whole process group: the build (the parent) stops and says how to
    # resume; a worker ignores it (and prints no traceback of its own) and ends with the parent
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="segfix-exit-with-parent", daemon=True).start()


def process_frame(frame: _datasets.Frame, config: BuildConfig, class_map=None, *,
                  stages=NO_STAGES) -> dict:
    """Read one frame, make its targets and encode its arrays.

    The steps: the source files' sizes are recorded and each file is read once (before decoding,
    so that a later edit is seen on rerun) for its digest and its decoding; the image is encoded
    (:func:`_image_arrays`) and the label read and encoded; then, per variant, the targets are
    made in one pass (:func:`_variant_targets`) and encoded with the sample record's entries
    (:func:`_variant_arrays`).

    Args:
        stages: a :class:`StageTimes` to add this frame's CPU time per step to (benchmarks).

    Returns:
        ``{"ok": True, "stem", "arrays": {name: EncodedArray}, "record": {...}}`` or, for a frame
        that cannot be used, ``{"ok": False, "stem", "path", "error"}`` (the error names the file).
    """
    _pixels.set_max_image_pixels(config.max_image_pixels)
    try:
        check_sources(frame, config.variants)  # a FIFO or a device is refused before it is read
        with stages("read sources"):
            stats = source_stats(frame, config.variants)  # before decoding: a later edit is seen on rerun
            contents = read_sources(frame, config.variants)
        with stages("source digests"):
            hashes = source_hashes(frame, config.variants, contents)
        enc = functools.partial(_codec.encode_array, tile=config.tile, level=config.level, codec=config.codec)
        arrays, shape = _image_arrays(frame, config, contents.get(frame.image), stages)
        with stages("label decode"):
            label = _datasets.read_label(frame.label, config.layout, expect_shape=shape,
                                        image_path=frame.image, class_map=class_map,
                                        reduce_zero_label=config.reduce_zero_label,
                                        data=contents.get(frame.label))
        with stages("label encode"):
            arrays["label"] = enc(label)
        args = _TargetArgs.of(config)
        record = {"stem": frame.stem, "shape": [int(label.shape[0]), int(label.shape[1])],
                  "sources": frame.sources(), "source_stats": stats, "source_hashes": hashes,
                  "class_pixels": {}, "class_boundary_pixels": {}, "distance": {}}
        for variant in config.variants:
            with stages("targets"):
                targets = _variant_targets(variant, label, frame, config.preset, args,
                                           contents.get(frame.instance))
            encoded, info, pixels, bpixels = _variant_arrays(variant, targets, label, config.preset,
                                                             enc, stages)
            arrays.update(encoded)
            record["distance"][variant] = info
            record["class_pixels"] = _sparse(pixels)
            record["class_boundary_pixels"][variant] = _sparse(bpixels)
        with stages("record"):
            record["checksums"] = {name: a.checksum for name, a in arrays.items()}
            record["bytes"] = sum(a.nbytes for a in arrays.values())
        return {"ok": True, "stem": frame.stem, "arrays": arrays, "record": record}
    except Exception as exc:  # reported by the policy in the calling process
        path = getattr(exc, "path", frame.label)
        msg = str(exc) if isinstance(exc, _datasets.FrameError) else f"{path}: {type(exc).__name__}: {exc}"
        return {"ok": False, "stem": frame.stem, "path": path, "error": msg, "sources": frame.sources()}


def _image_arrays(frame: _datasets.Frame, config: BuildConfig, data: bytes | None = None,
                  stages=NO_STAGES) -> tuple[dict, tuple | None]:
    """``({"image" or "image_file": EncodedArray}, (H, W))`` of the frame's image as the build
    stores it: uint8 tiles (``image_format="tiles"``, zlib level ``image_level``, raw tiles at 0) or
    the file's bytes (``"file"``: only its header is decoded, for the size); ``({}, None)`` without
    images (no image file is opened: the size comes from the label). ``data``: the file's bytes
    when already read (:func:`read_sources`), else the file is read here."""
    if not config.images:
        return {}, None
    if config.image_format == "tiles":
        with stages("image decode"):
            image = _datasets.read_image(frame.image, data=data)
        with stages("image encode"):
            return {"image": _codec.encode_array(image, tile=config.tile, level=config.image_level,
                                                 raw_tiles=config.image_level == 0)}, image.shape[:2]
    with stages("image decode"):
        shape = _datasets.image_size(frame.image)
        if data is None:
            with open(frame.image, "rb") as f:
                data = f.read()
    with stages("image encode"):
        return {"image_file": _codec.encode_array(np.frombuffer(data, dtype=np.uint8), level=0)}, shape


@dataclasses.dataclass(frozen=True)
class _TargetArgs:
    """The keyword arguments of a frame's target call (one call per variant).

    Attributes:
        kwargs: the target parameters given explicitly (:meth:`BuildConfig.target_overrides`);
            for ``paper`` also ``distance_bound``, the capped EDT (the distance is derived on
            read, so the EDT need only be exact up to what the boundary and the directions read:
            the same targets to the bit, ``tests/segfix_data/shards/test_build.py``), and, with a
            direction band, ``direction_band``: the band's directions come from the same pass
            (docs/training.md, "Direction supervision").
    """

    kwargs: dict

    @classmethod
    def of(cls, config: BuildConfig) -> "_TargetArgs":
        from segfix_data.targets import min_distance_bound

        over = config.target_overrides()
        if config.preset != "paper":  # the openseg preset stores no band, and its full distance
            return cls(over)
        p = config.resolved_targets()
        band = config.resolved_direction_band()
        kwargs = {**over, "distance_bound": min_distance_bound(band or p["gamma"], p["ksize"])}
        if band:
            kwargs["direction_band"] = band
        return cls(kwargs)


@dataclasses.dataclass(frozen=True)
class _VariantTargets:
    """One variant's targets: the map they were made from (``segments``: the label, or the
    instance segment map) and its ``ignore_index``, and the :class:`~segfix_data.targets.Targets`
    (with ``band_direction``, the direction band's bins, uint8 (H, W), 255 none, where a band is
    stored; None without)."""

    segments: np.ndarray
    ignore_index: int | None
    targets: object


def _variant_targets(variant: str, label: np.ndarray, frame: _datasets.Frame, preset: str,
                     args: _TargetArgs, instance_data: bytes | None = None) -> _VariantTargets:
    """The targets of ``variant``, in one pass: semantic ones of the label (ignore
    :data:`IGNORE_INDEX`), or instance ones of the segment map of the frame's instance ids (read
    here, from ``instance_data`` when given, checked against the label's size)."""
    from segfix_data.targets import instance_targets, semantic_targets

    if variant == "semantic":
        seg, ignore, make = label, IGNORE_INDEX, semantic_targets
    else:
        ids = _datasets.read_instance_ids(frame.instance, expect_shape=label.shape, label_path=frame.label,
                                          data=instance_data)
        seg, ignore = _instance_segments(ids, preset)
        make = instance_targets
    return _VariantTargets(seg, ignore, make(seg, ignore_index=ignore, preset=preset, **args.kwargs))


def _variant_arrays(variant: str, v: _VariantTargets, label: np.ndarray, preset: str, enc,
                    stages=NO_STAGES):
    """``(arrays, distance record, pixels, boundary pixels)`` of one variant: its encoded arrays
    (``instance/segments``, ``<v>/boundary_direction``, ``<v>/distance`` where it is not derivable,
    the ``openseg`` arrays), the record's ``distance.<v>`` and the int64 (256,) per-label counts of
    all pixels and of boundary pixels (:func:`~segfix_data.shards.codec.encode_boundary_direction`)."""
    t, arrays = v.targets, {}
    with stages("boundary/direction code + counts"):
        code, pixels, bpixels = _codec.encode_boundary_direction(t.boundary, t.direction, label,
                                                                 band_direction=t.band_direction)
    with stages("target encode"):
        if variant == "instance":
            arrays["instance/segments"] = enc(v.segments)
        arrays[f"{variant}/boundary_direction"] = enc(code)
        # paper: distance is min(EDT, cap), 0 on ignore = derive_distance of the stored map
        # (tests/segfix_data/shards/test_build.py checks it); openseg zeroes skipped classes: stored.
        info = {"ignore_index": v.ignore_index, "cap": float(t.params["distance_cap"]),  # not the bound
                "border_is_boundary": bool(t.params["border_is_boundary"]), "stored": preset != "paper"}
        if info["stored"]:
            arrays[f"{variant}/distance"] = enc(t.distance)
        if preset == "openseg":
            o = t.to_openseg()
            arrays[f"{variant}/openseg_depth"] = enc(o["depth"])
            arrays[f"{variant}/openseg_dir_deg"] = enc(o["dir_deg"])
    return arrays, info, pixels, bpixels
