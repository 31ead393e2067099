"""Frames -> targets -> shards: scheduling (joblib loky / Dask), resume, failure policy.

:func:`build` turns one or more splits of a dataset into ``OUT_DIR/<split>/`` shards:

1. The split's frames (sorted source order, :mod:`segfix_data.layouts`) are cut into shards of
   ``shard_size`` consecutive frames: shard ``k`` always holds frames ``k*S .. k*S+S-1``.
2. ``OUT_DIR/<split>/build.json`` records the build parameters. A rerun with other parameters
   refuses (:class:`ParamsMismatch`) unless ``overwrite``; a rerun with the same parameters resumes:
   every published shard whose frames match the plan and whose arrays pass their checksums is
   kept, any other is removed and redone (this is what makes ``kill -9`` safe: shards are
   published by ``os.replace`` only once complete).
3. :func:`process_frame` (in worker processes or on a Dask cluster) reads the files, makes the
   targets and encodes the arrays into compressed tiles. Results come back in frame order, so the
   shards' contents do not depend on the number of workers or the backend; the calling process
   writes each shard as soon as its frames are in.
4. ``manifest.json`` is written last (atomically), from the shards' own records.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from segfix_data import __version__
from segfix_data import labels as _labels
from segfix_data import layouts as _layouts
from segfix_data import shard_codec as _codec
from segfix_data import shards as _shards

VARIANT_CHOICES = {"semantic": ("semantic",), "instance": ("instance",), "both": ("semantic", "instance")}
IMAGE_FORMATS = ("tiles", "file")
ON_ERROR = ("fail", "skip")
BACKENDS = ("loky", "dask")


class BuildError(RuntimeError):
    """The build stopped (a frame failed under ``on_error='fail'``); completed shards are valid."""


class ParamsMismatch(RuntimeError):
    """OUT_DIR/<split> holds shards built with other parameters."""


@dataclasses.dataclass(frozen=True)
class BuildConfig:
    """What to build. ``None`` target parameters take the preset's defaults.

    Attributes:
        layout: one of :data:`segfix_data.layouts.LAYOUTS`.
        variant: "semantic", "instance" or "both" (instance needs Cityscapes instanceIds).
        preset: "paper" or "openseg" (targets.md section 6; also stores the authors' depth/dir_deg).
        gamma, ksize, num_directions, border_is_boundary: target overrides.
        images: store the images (lossless).
        image_format: "tiles" (uint8 tiles, fast crops) or "file" (the source file's bytes).
        tile: chunk side in pixels; level: zlib level 1..9 of the targets; image_level: of the
            images (0: uncompressed tiles); shard_size: frames per shard.
        class_map, image_glob, label_glob: folder layout.
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
    level: int = 1
    image_level: int = 0
    shard_size: int = 32
    class_map: str | None = None
    image_glob: str | None = None
    label_glob: str | None = None

    def __post_init__(self) -> None:
        if self.layout not in _layouts.LAYOUTS:
            raise ValueError(f"unknown layout {self.layout!r}; choose one of {_layouts.LAYOUTS}")
        if self.variant not in VARIANT_CHOICES:
            raise ValueError(f"unknown variant {self.variant!r}; choose one of {sorted(VARIANT_CHOICES)}")
        if "instance" in self.variants and self.layout != "cityscapes":
            raise ValueError(f"--variant {self.variant} needs instance ids; layout {self.layout!r} "
                             "has none (use --variant semantic)")
        if self.image_format not in IMAGE_FORMATS:
            raise ValueError(f"unknown image format {self.image_format!r}; choose one of {IMAGE_FORMATS}")
        if not (1 <= self.level <= 9 and 0 <= self.image_level <= 9):
            raise ValueError(f"zlib levels must be 1..9 (images 0..9, 0 = uncompressed tiles), "
                             f"got {self.level}, {self.image_level}")
        if self.tile < 16 or self.shard_size < 1:
            raise ValueError(f"tile must be >= 16 pixels and shard_size >= 1, got {self.tile}, {self.shard_size}")
        if self.layout == "folder" and not (self.class_map and self.image_glob and self.label_glob):
            raise ValueError("layout 'folder' needs --image-glob, --label-glob and --class-map")
        self.target_overrides()  # validates the preset and overrides early

    @property
    def variants(self) -> tuple:
        return VARIANT_CHOICES[self.variant]

    def target_overrides(self) -> dict:
        """The target parameters given explicitly (validated against the preset)."""
        from segfix_data.targets import _resolve

        over = {k: getattr(self, k) for k in ("gamma", "ksize", "num_directions", "border_is_boundary")
                if getattr(self, k) is not None}
        _resolve(self.preset, over)
        return over

    def resolved_targets(self) -> dict:
        from segfix_data.targets import _resolve

        return _resolve(self.preset, self.target_overrides())

    def params(self) -> dict:
        """The JSON-able build parameters (compared on a rerun into the same OUT_DIR)."""
        p = dataclasses.asdict(self)
        p["variants"] = list(self.variants)
        p["targets"] = self.resolved_targets()
        p["num_directions"] = p["targets"]["num_directions"]
        p["tool"] = "segfix"
        p["tool_version"] = __version__
        p["format_version"] = _shards.FORMAT_VERSION
        if self.class_map:
            with open(self.class_map, "rb") as f:
                p["class_map_blake2b"] = hashlib.blake2b(f.read(), digest_size=16).hexdigest()
        return p


# --------------------------------------------------------------------------------------------
# Per frame (runs in workers)


def _sparse(counts: np.ndarray) -> dict:
    """{train id: count} of the non-zero counts below 255 (ignore)."""
    return {str(k): int(n) for k, n in enumerate(counts[:255]) if n}


def _instance_segments(instance_ids: np.ndarray, preset: str) -> tuple[np.ndarray, int | None]:
    if preset == "openseg":
        return _labels.cityscapes_instance_ids_to_openseg_segments(instance_ids), 255
    return _labels.cityscapes_instance_ids_to_segments(instance_ids)


def process_frame(frame: _layouts.Frame, config: BuildConfig, class_map=None) -> dict:
    """Read one frame, make its targets and encode its arrays.

    Returns:
        ``{"ok": True, "stem", "arrays": {name: EncodedArray}, "record": {...}}`` or, for a frame
        that cannot be used, ``{"ok": False, "stem", "path", "error"}`` (the error names the file).
    """
    from segfix_data.targets import instance_targets, min_distance_bound, semantic_targets

    try:
        arrays = {}
        enc = lambda a: _codec.encode_array(a, tile=config.tile, level=config.level)  # noqa: E731
        if config.images and config.image_format == "tiles":
            image = _layouts.read_image(frame.image)
            shape = image.shape[:2]
            arrays["image"] = _codec.encode_array(image, tile=config.tile, level=config.image_level,
                                                   raw_tiles=config.image_level == 0)
        else:
            shape = _layouts.image_size(frame.image)
            if config.images:
                with open(frame.image, "rb") as f:
                    raw = np.frombuffer(f.read(), dtype=np.uint8)
                arrays["image_file"] = _codec.encode_array(raw, level=0)
        label = _layouts.read_label(frame.label, config.layout, expect_shape=shape,
                                    image_path=frame.image, class_map=class_map)
        arrays["label"] = enc(label)
        over = config.target_overrides()
        # paper: the distance is derived on read, so the EDT need only be exact up to what the
        # boundary and direction read (a capped EDT; same targets to the bit, tests/test_build.py)
        bound = {}
        if config.preset == "paper":
            p = config.resolved_targets()
            bound["distance_bound"] = min_distance_bound(p["gamma"], p["ksize"])
        record = {"stem": frame.stem, "shape": [int(shape[0]), int(shape[1])], "sources": frame.sources(),
                  "class_pixels": {}, "class_boundary_pixels": {}, "distance": {}}
        for variant in config.variants:
            if variant == "semantic":
                seg, ignore = label, _labels.IGNORE_INDEX
                t = semantic_targets(label, ignore_index=ignore, preset=config.preset, **bound, **over)
            else:
                ids = _layouts.read_instance_ids(frame.instance, expect_shape=shape, label_path=frame.label)
                seg, ignore = _instance_segments(ids, config.preset)
                t = instance_targets(seg, ignore_index=ignore, preset=config.preset, **bound, **over)
                arrays["instance/segments"] = enc(seg)
            code, pixels, bpixels = _codec.encode_boundary_direction(t.boundary, t.direction, label)
            arrays[f"{variant}/boundary_direction"] = enc(code)
            # paper: distance is min(EDT, cap), 0 on ignore = derive_distance of the stored map
            # (tests/test_build.py checks it); openseg zeroes skipped classes: stored.
            info = {"ignore_value": ignore, "cap": float(t.params["distance_cap"]),  # not the bound
                    "border_is_boundary": bool(t.params["border_is_boundary"]),
                    "stored": config.preset != "paper"}
            if info["stored"]:
                arrays[f"{variant}/distance"] = enc(t.distance)
            if config.preset == "openseg":
                o = t.to_openseg()
                arrays[f"{variant}/openseg_depth"] = enc(o["depth"])
                arrays[f"{variant}/openseg_dir_deg"] = enc(o["dir_deg"])
            record["distance"][variant] = info
            record["class_pixels"] = _sparse(pixels)
            record["class_boundary_pixels"][variant] = _sparse(bpixels)
        record["checksums"] = {name: a.checksum for name, a in arrays.items()}
        record["bytes"] = sum(a.nbytes for a in arrays.values())
        return {"ok": True, "stem": frame.stem, "arrays": arrays, "record": record}
    except Exception as exc:  # reported by the policy in the calling process
        path = getattr(exc, "path", frame.label)
        msg = str(exc) if isinstance(exc, _layouts.FrameError) else f"{path}: {type(exc).__name__}: {exc}"
        return {"ok": False, "stem": frame.stem, "path": path, "error": msg, "sources": frame.sources()}


# --------------------------------------------------------------------------------------------
# Split level (runs in the calling process)


@dataclasses.dataclass
class SplitResult:
    """What happened to one split."""

    split: str
    frames: int = 0
    built: int = 0
    kept: int = 0
    failed: list = dataclasses.field(default_factory=list)
    unpaired: list = dataclasses.field(default_factory=list)
    bytes: int = 0
    seconds: float = 0.0
    stopped: str | None = None


def _check_params(split_dir: Path, params: dict, overwrite: bool) -> None:
    path = split_dir / "build.json"
    if path.is_file():
        with open(path) as f:
            old = json.load(f)
        if old != params and not overwrite:
            keys = sorted(k for k in set(old) | set(params) if old.get(k) != params.get(k))
            diffs = ", ".join(f"{k}: {old.get(k)!r} -> {params.get(k)!r}" for k in keys)
            raise ParamsMismatch(f"{split_dir} holds shards built with other parameters ({diffs}); "
                                 "pass --overwrite to replace them or choose another OUT_DIR")
        if old != params:
            for p in split_dir.iterdir():
                if p.name.startswith(("shard-", "manifest.json", "build.json")):
                    p.unlink()
    _shards.atomic_write_json(path, params)


def _shard_ok(path: Path, frames: list, on_error: str) -> bool:
    """A published shard is kept if it holds exactly ``frames`` and every array checks out."""
    try:
        rec = _shards.read_records(path)
    except Exception:
        return False
    stems = sorted([s["stem"] for s in rec["samples"]] + [f["stem"] for f in rec["failed"]])
    if stems != sorted(f.stem for f in frames):
        return False
    if rec["failed"] and on_error == "fail":
        return False
    samples = [dict(s, shard=path.name) for s in rec["samples"]]
    return not _shards.verify_samples(path.parent, samples)


def _parallel_results(todo: list, config: BuildConfig, class_map, jobs: int, backend: str,
                      scheduler: str | None):
    """Yield process_frame results in the order of ``todo``."""
    from joblib import Parallel, delayed

    tasks = (delayed(process_frame)(f, config, class_map) for f in todo)
    if backend == "dask":
        if not scheduler:
            raise ValueError("--backend dask needs --scheduler tcp://HOST:PORT")
        import joblib
        from dask.distributed import Client

        client = Client(scheduler, set_as_default=True)
        try:
            n = max(1, sum(client.nthreads().values()))
            with joblib.parallel_config(backend="dask"):
                yield from Parallel(n_jobs=n, return_as="generator", pre_dispatch=f"{2 * n}")(tasks)
        finally:
            client.close()
        return
    if backend != "loky":
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    if jobs == 1:
        for f in todo:
            yield process_frame(f, config, class_map)
        return
    yield from Parallel(n_jobs=jobs, backend="loky", return_as="generator",
                        pre_dispatch=f"{2 * jobs}")(tasks)


class _SplitLock:
    """An exclusive ``flock`` on ``OUT_DIR/<split>/build.lock`` (released by the OS on kill -9)."""

    def __init__(self, split_dir: Path) -> None:
        self.path = split_dir / "build.lock"

    def __enter__(self) -> "_SplitLock":
        import fcntl

        self.f = open(self.path, "a")
        try:
            fcntl.flock(self.f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.f.close()
            raise ParamsMismatch(f"{self.path.parent}: another build is writing this split; "
                                 "wait for it or use another OUT_DIR") from None
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()


def build_split(dataset_dir, out_dir, split: str, config: BuildConfig, *, jobs: int = 1,
                backend: str = "loky", scheduler: str | None = None, on_error: str = "fail",
                overwrite: bool = False, progress=None) -> SplitResult:
    """Build (or resume) ``OUT_DIR/<split>``. See the module docstring.

    Args:
        progress: optional callable(n, total): n frames done since the last call (one call per
            frame; a resume first reports the frames kept from the previous run at once).

    Raises:
        LayoutError: the split's directories are missing or empty.
        ParamsMismatch: OUT_DIR/<split> was built with other parameters and not ``overwrite``.
        BuildError: a frame failed and ``on_error == "fail"`` (completed shards stay valid).
    """
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    t0 = time.perf_counter()
    frames, unpaired = _layouts.find_frames(config.layout, dataset_dir, split,
                                            image_glob=config.image_glob, label_glob=config.label_glob)
    class_map = _layouts.load_class_map(config.class_map) if config.layout == "folder" else None
    res = SplitResult(split=split, frames=len(frames), unpaired=unpaired)
    split_dir = Path(out_dir) / split
    split_dir.mkdir(parents=True, exist_ok=True)
    with _SplitLock(split_dir):
        return _build_locked(dataset_dir, split_dir, config, frames, unpaired, class_map, res, t0,
                             jobs=jobs, backend=backend, scheduler=scheduler, on_error=on_error,
                             overwrite=overwrite, progress=progress)


def _build_locked(dataset_dir, split_dir: Path, config: BuildConfig, frames, unpaired, class_map,
                  res: SplitResult, t0: float, *, jobs, backend, scheduler, on_error, overwrite,
                  progress) -> SplitResult:
    split = split_dir.name
    params = dict(config.params(), split=split, dataset_dir=str(Path(dataset_dir).resolve()))
    _check_params(split_dir, params, overwrite)

    S = config.shard_size
    plan = [frames[k:k + S] for k in range(0, len(frames), S)]
    names = [_shards.SHARD_PATTERN.format(k) for k in range(len(plan))]
    for p in split_dir.iterdir():  # leftovers of a killed build, shards beyond the plan
        if ".tmp-" in p.name or (p.name.startswith("shard-") and p.name not in names):
            p.unlink()
    (split_dir / _shards.MANIFEST).unlink(missing_ok=True)
    done = set()
    for k, name in enumerate(names):
        path = split_dir / name
        if path.exists():
            if _shard_ok(path, plan[k], on_error):
                done.add(k)
            else:
                path.unlink()
    res.kept = sum(len(plan[k]) for k in done)
    if progress is not None and res.kept:
        progress(res.kept, len(frames))

    todo_shards = [k for k in range(len(plan)) if k not in done]
    todo = [f for k in todo_shards for f in plan[k]]
    pending: list = []
    shard_iter = iter(todo_shards)
    current = next(shard_iter, None)
    results = _parallel_results(todo, config, class_map, jobs, backend, scheduler)
    try:
        for r in results:
            if not r["ok"] and on_error == "fail":
                res.failed.append({k: r[k] for k in ("stem", "path", "error", "sources")})
                res.stopped = r["error"]
                raise BuildError(f"build stopped at frame {r['stem']}: {r['error']}")
            pending.append(r)
            if progress is not None:
                progress(1, len(frames))
            if len(pending) == len(plan[current]):
                _write_shard(split_dir / names[current], pending)
                res.built += sum(1 for p in pending if p["ok"])
                pending = []
                current = next(shard_iter, None)
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()
    manifest = _write_manifest(split_dir, names, params, unpaired)
    res.failed = manifest["failed"]
    res.bytes = sum((split_dir / n).stat().st_size for n in names)
    res.seconds = time.perf_counter() - t0
    return res


def _write_shard(path: Path, results: list) -> None:
    samples, failed = [], []
    with _shards.ShardWriter(path) as w:
        for r in results:
            if r["ok"]:
                index = len(samples)
                w.add_sample(index, r["arrays"])
                samples.append(dict(r["record"], index=index))
            else:
                failed.append({k: r[k] for k in ("stem", "path", "error", "sources")})
        w.set_records({"samples": samples, "failed": failed})


def _write_manifest(split_dir: Path, names: list, params: dict, unpaired: list) -> dict:
    samples, failed, shards = [], [], []
    pixels, boundary = {}, {v: {} for v in params["variants"]}
    for name in names:
        rec = _shards.read_records(split_dir / name)
        shards.append({"file": name, "samples": len(rec["samples"]),
                       "bytes": (split_dir / name).stat().st_size})
        failed += rec["failed"]
        for s in rec["samples"]:
            samples.append(dict(s, shard=name))
            for k, n in s["class_pixels"].items():
                pixels[k] = pixels.get(k, 0) + n
            for v, counts in s["class_boundary_pixels"].items():
                for k, n in counts.items():
                    boundary[v][k] = boundary[v].get(k, 0) + n
    num_classes = {"cityscapes": 19, "gta5": 19, "ade20k": _labels.ADE20K_NUM_CLASSES}.get(params["layout"])
    manifest = {
        "format": _shards.FORMAT_NAME, "format_version": _shards.FORMAT_VERSION,
        "tool": "segfix", "tool_version": __version__, "split": params["split"],
        "params": params, "num_classes": num_classes,
        "class_names": list(_labels.CITYSCAPES_CLASS_NAMES) if num_classes == 19 else None,
        "ignore_index": _labels.IGNORE_INDEX,
        "shards": shards, "samples": samples, "failed": failed, "unpaired": unpaired,
        "class_pixels": dict(sorted(pixels.items(), key=lambda kv: int(kv[0]))),
        "class_boundary_pixels": {v: dict(sorted(c.items(), key=lambda kv: int(kv[0])))
                                  for v, c in boundary.items()},
    }
    _shards.atomic_write_json(split_dir / _shards.MANIFEST, manifest)
    return manifest


def build(dataset_dir, out_dir, splits, config: BuildConfig, **kwargs) -> list[SplitResult]:
    """Build every split in ``splits`` (see :func:`build_split` for the keyword arguments)."""
    return [build_split(dataset_dir, out_dir, s, config, **kwargs) for s in splits]
