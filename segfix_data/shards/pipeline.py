"""Frames -> targets -> shards: scheduling (joblib loky / Dask), resume, failure policy.

:func:`build` turns one or more splits of a dataset into ``OUT_DIR/<split>/`` shards:

1. The split's frames (sorted source order, :mod:`segfix_data.datasets`) are cut into shards of
   ``shard_size`` consecutive frames: shard ``k`` always holds frames ``k*S .. k*S+S-1``.
2. ``OUT_DIR/<split>/build.json`` records the build parameters, and so does every shard (its
   ``records``), so a shard built with other parameters is never kept, even without
   ``build.json``. A rerun with other parameters refuses (:class:`ParamsMismatch`) unless
   ``overwrite``; a rerun with the same parameters resumes: every published shard built with them
   whose frames match the plan and whose arrays pass their checksums is kept, any other is removed and redone (this is what makes ``kill -9`` safe: shards are
   published by ``os.replace`` only once complete).
3. :func:`process_frame` (in worker processes or on a Dask cluster) reads the files, makes the
   targets and encodes the arrays into compressed tiles. Results come back in frame order, so the
   shards' contents do not depend on the number of workers or the backend; the calling process
   writes each shard as soon as its frames are in.
4. ``manifest.json`` is written last (atomically), from the shards' own records.
"""
from __future__ import annotations

import dataclasses
import errno
import json
import re
import time
from pathlib import Path

from segfix_data.settings import flatten_settings
from segfix_data.version import __version__
from segfix_data import datasets as _datasets
from segfix_data.atomic import atomic_write_json
from segfix_data.datasets import labels as _labels
from segfix_data.ignore import IGNORE_INDEX

from .format import FORMAT_NAME, FORMAT_VERSION, MANIFEST, SHARD_PATTERN
from .manifest import CHECKSUM_KEY, manifest_checksum, read_records
from .paths import is_plain_name
from .process import (BACKENDS, ON_ERROR, BuildConfig, exit_with_parent, process_frame, source_hashes,
                      source_stats)
from .verify import PLAN, verify_samples
from segfix_data.errors import InputError, SegfixUserError
from .writer import ShardWriter
from segfix_data.storage import storage_message, storage_problem

#: Temporary files a killed build may leave in OUT_DIR/<split>: ``atomic_path``'s hidden
#: ``.NAME.PID.XXXXXXXX.SUFFIX`` of a shard or a JSON file (older builds' ``shard-NNNNN.h5.tmp-PID``
#: starts with ``shard-`` and goes with the shards beyond the plan).
_STALE = re.compile(r"^\.(shard-\d+\.h5\.\d+\.[0-9a-f]{8}\.h5|(manifest|build|plan)\.json\.\d+\.[0-9a-f]{8}\.json)$")

class BuildError(RuntimeError):
    """The build stopped (a frame failed under ``on_error='fail'``); completed shards are valid."""


class ParamsMismatch(SegfixUserError, RuntimeError):
    """OUT_DIR/<split> holds shards built with other parameters (a user error: ``--overwrite``)."""


class SplitBusy(SegfixUserError, RuntimeError):
    """Another build holds OUT_DIR/<split>'s lock (a user error: wait for it or use another OUT_DIR)."""


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
    changed: int = 0   # frames rebuilt because their source files changed since the last run
    retried: int = 0   # frames that had failed in the last run (--on-error skip), tried again


def _check_params(split_dir: Path, params: dict, overwrite: bool) -> None:
    path = split_dir / "build.json"
    if path.is_file():
        try:
            with open(path) as f:
                old = json.load(f)
            if not isinstance(old, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:  # damaged: never blocks --overwrite, and names the file
            if not overwrite:
                raise ParamsMismatch(f"{path}: cannot read the recorded build parameters ({exc}); pass "
                                     "--overwrite to rebuild the split or choose another OUT_DIR") from None
            old = None
        if old != params and not overwrite:
            a, b = flatten_settings(old), flatten_settings(params)
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            diffs = ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in keys)
            raise ParamsMismatch(f"{split_dir} holds shards built with other parameters ({diffs}); "
                                 "pass --overwrite to replace them or choose another OUT_DIR")
        if old != params:
            for p in split_dir.iterdir():
                if p.name.startswith(("shard-", "manifest.json", "build.json")):
                    p.unlink()
    _write_json(path, params)


def _shard_ok(path: Path, frames: list, params: dict, variants, res: SplitResult,
              check_content: bool = False) -> bool:
    """A published shard is kept if it was built with ``params`` (the parameters it records:
    without them, or with others, it is stale whatever ``build.json`` says), holds exactly
    ``frames``, none failed (failed frames are tried again), every source file has the size and
    mtime recorded when it was built (and, with ``check_content``, the same BLAKE2b digest of its
    bytes: a shard recorded without digests is rebuilt), and every array checks out."""
    try:
        rec = read_records(path)
    except Exception:
        return False
    if rec.get("params") != params:
        return False
    stems = sorted([s["stem"] for s in rec["samples"]] + [f["stem"] for f in rec["failed"]])
    if stems != sorted(f.stem for f in frames):
        return False
    if rec["failed"]:
        res.retried += len(rec["failed"])
        return False
    by_stem = {f.stem: f for f in frames}
    changed = sum(1 for s in rec["samples"] if s.get("source_stats") != source_stats(by_stem[s["stem"]], variants)
                  or (check_content and s.get("source_hashes") != source_hashes(by_stem[s["stem"]], variants)))
    if changed:
        res.changed += changed
        return False
    samples = [dict(s, shard=path.name) for s in rec["samples"]]
    return not verify_samples(path.parent, samples)


def _parallel_results(todo: list, config: BuildConfig, class_map, jobs: int, backend: str,
                      scheduler: str | None):
    """Yield process_frame results in the order of ``todo``."""
    from joblib import Parallel, delayed

    tasks = (delayed(process_frame)(f, config, class_map) for f in todo)
    if backend == "dask":
        if not scheduler:
            raise InputError("--backend dask needs --scheduler tcp://HOST:PORT")
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
        raise InputError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    if jobs == 1:
        for f in todo:
            yield process_frame(f, config, class_map)
        return
    yield from _loky_ordered(todo, config, class_map, jobs)


def _loky_ordered(todo: list, config: BuildConfig, class_map, jobs: int):
    """process_frame results in order from ``jobs`` loky workers, ``2 * jobs`` tasks in flight.

    The workers start with :func:`exit_with_parent` (their initializer), so a ``kill -9`` of this
    process ends them too, whenever it happens; loky's resource tracker follows once they are gone.
    A Ctrl-C is this process's alone (a KeyboardInterrupt here; the workers ignore it); when the
    build stops early (Ctrl-C, a bad frame), the workers still on a frame are ended, not waited for.
    """
    import os
    import signal
    import threading
    from collections import deque

    from joblib.externals.loky import get_reusable_executor
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    # the workers (spawned here) inherit Ctrl-C ignored, so that only this process reports it (a
    # Ctrl-C in these milliseconds is lost: press it again)
    main = threading.current_thread() is threading.main_thread()  # signal.signal's only thread
    restore = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    frames = iter(todo)
    pending: deque = deque()
    try:
        try:
            ex = get_reusable_executor(max_workers=jobs, initializer=exit_with_parent, initargs=(os.getpid(),))
            for f in frames:
                pending.append((f, ex.submit(process_frame, f, config, class_map)))
                if len(pending) >= 2 * jobs:
                    break
        finally:
            if main:
                signal.signal(signal.SIGINT, restore)
        while pending:
            f, fut = pending[0]  # left in ``pending`` while waited for (a Ctrl-C comes mostly here)
            try:
                r = fut.result()
                pending.popleft()
            except TerminatedWorkerError:  # SIGKILL, as the out-of-memory killer sends
                raise BuildError(f"a build worker process died (killed, most likely by the out-of-memory "
                                 f"killer) while building {f.label}; completed shards are kept: rerun the "
                                 f"same command to resume, with fewer --jobs than {jobs} if memory is "
                                 "short") from None
            nxt = next(frames, None)
            if nxt is not None:
                pending.append((nxt, ex.submit(process_frame, nxt, config, class_map)))
            yield r
    finally:
        for _, fut in pending:
            fut.cancel()
        if any(not fut.done() for _, fut in pending):  # stopped early (Ctrl-C, a bad frame) with
            _kill_workers(ex)  # frames in work: they are not waited for


def _kill_workers(ex) -> None:
    """End the loky executor's worker processes at once (SIGKILL) and wait until it has seen them
    gone: it fails its futures quietly as broken, and the next build starts new workers. (Its own
    ``shutdown(kill_workers=True)`` races with its queue and raises in its manager thread.)"""
    import os
    import signal

    for pid in list(getattr(ex, "_processes", {})):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:  # already gone
            pass
    ex.shutdown(wait=True)  # returns once its manager thread has seen them gone: never reused


def refuse_unusable_keys(frames: list, unpaired: list) -> tuple[list, list]:
    """Leave out (as ``unpaired`` records naming the file) every frame whose key the shard reader
    would refuse, before anything is read: the reader's own rule, :func:`~.paths.is_plain_name` (a
    backslash, a leading dot...). Such a frame would otherwise be built into a manifest that
    ``verify`` and ``train`` refuse, and rebuilt into the same one."""
    bad = [f for f in frames if not is_plain_name(f.stem)]
    if not bad:
        return frames, unpaired
    left = [{"stem": f.stem, "path": f.label, "problem": f"frame key {f.stem!r} is not a plain file name "
             "(no '/', '\\' or NUL, no leading '.'); the shards name samples by it: rename the frame's "
             "files"} for f in bad]
    return [f for f in frames if is_plain_name(f.stem)], unpaired + left


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
            raise SplitBusy(f"{self.path.parent}: another build is writing this split; "
                            "wait for it or use another OUT_DIR") from None
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()


def build_split(dataset_dir, out_dir, split: str, config: BuildConfig, *, jobs: int = 1,
                backend: str = "loky", scheduler: str | None = None, on_error: str = "fail",
                overwrite: bool = False, progress=None, command: str | None = None,
                check_content: bool = False) -> SplitResult:
    """Build (or resume) ``OUT_DIR/<split>``. See the module docstring.

    Args:
        progress: optional callable(n, total): n frames done since the last call (one call per
            frame; a resume first reports the frames kept from the previous run at once).
        command: the command line that resumes this build, recorded in ``plan.json`` so that
            ``segfix-gt verify`` can name it for an interrupted build.
        check_content: on resume, also compare each source file's BLAKE2b digest with the one
            recorded (reads every source; catches edits that keep size and mtime).

    Raises:
        LayoutError: the split's directories are missing or empty.
        ParamsMismatch: OUT_DIR/<split> was built with other parameters and not ``overwrite``.
        BuildError: a frame failed and ``on_error == "fail"`` (completed shards stay valid).
    """
    if on_error not in ON_ERROR:
        raise InputError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    if jobs < 1:
        raise InputError(f"jobs must be >= 1, got {jobs}")
    t0 = time.perf_counter()
    frames, unpaired = _datasets.find_frames(config.layout, dataset_dir, split,
                                            image_glob=config.image_glob, label_glob=config.label_glob,
                                            img_suffix=config.img_suffix, seg_suffix=config.seg_suffix,
                                            images=config.images)
    frames, unpaired = refuse_unusable_keys(frames, unpaired)
    class_map = _datasets.load_class_map(config.class_map) if config.class_map else None
    split = _datasets.split_name(split)  # a split list file's stem names its output directory
    res = SplitResult(split=split, frames=len(frames), unpaired=unpaired)
    split_dir = Path(out_dir) / split
    split_dir.mkdir(parents=True, exist_ok=True)
    with _SplitLock(split_dir):
        return _build_locked(dataset_dir, split_dir, config, frames, unpaired, class_map, res, t0,
                             jobs=jobs, backend=backend, scheduler=scheduler, on_error=on_error,
                             overwrite=overwrite, progress=progress, command=command,
                             check_content=check_content)


def _build_locked(dataset_dir, split_dir: Path, config: BuildConfig, frames, unpaired, class_map,
                  res: SplitResult, t0: float, *, jobs, backend, scheduler, on_error, overwrite,
                  progress, command=None, check_content=False) -> SplitResult:
    split = split_dir.name
    params = dict(config.params(), split=split, dataset_dir=str(Path(dataset_dir).resolve()))
    _check_params(split_dir, params, overwrite)

    S = config.shard_size
    plan = [frames[k:k + S] for k in range(0, len(frames), S)]
    names = [SHARD_PATTERN.format(k) for k in range(len(plan))]
    for p in split_dir.iterdir():  # leftovers of a killed build, shards beyond the plan
        if _STALE.match(p.name) or (p.name.startswith("shard-") and p.name not in names):
            p.unlink()
    (split_dir / MANIFEST).unlink(missing_ok=True)
    _write_json(split_dir / PLAN, {"shards": len(names), "frames": len(frames),
                                                 "command": command})
    done = set()
    for k, name in enumerate(names):
        path = split_dir / name
        if path.exists():
            if _shard_ok(path, plan[k], params, config.variants, res, check_content):
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
                raise BuildError(f"build stopped at frame {r['stem']}: {r['error']}. Completed shards are "
                                 "kept; fix or remove the file and rerun the same command to resume "
                                 "(or use --on-error skip).")
            pending.append(r)
            if progress is not None:
                progress(1, len(frames))
            if len(pending) == len(plan[current]):
                _write_shard(split_dir / names[current], pending, params)
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


def _write_error(path: Path, exc: OSError) -> BuildError:
    problem = storage_problem(exc)  # disk full, quota, file-size limit (EFBIG: SIGXFSZ is ignored)
    if problem is not None:
        return BuildError(storage_message(path, problem, "", "rerun the same command to resume "
                                          "(completed shards are kept)"))
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = f"permission denied ({exc.strerror})"
        fix = "make OUT_DIR writable or choose another one"
    else:
        why = f"{exc.strerror or exc}"
        fix = "check the disk and rerun the same command"
    return BuildError(f"{path}: cannot write: {why}; {fix}")


def _write_shard(path: Path, results: list, params: dict) -> None:
    try:
        _write_shard_file(path, results, params)
    except (OSError, RuntimeError) as exc:  # h5py reports some failed writes as RuntimeError
        if not isinstance(exc, OSError) and storage_problem(exc) is None:
            raise
        raise _write_error(path, exc) from None


def _write_shard_file(path: Path, results: list, params: dict) -> None:
    samples, failed = [], []
    with ShardWriter(path) as w:
        for r in results:
            if r["ok"]:
                index = len(samples)
                w.add_sample(index, r["arrays"])
                samples.append(dict(r["record"], index=index))
            else:
                failed.append({k: r[k] for k in ("stem", "path", "error", "sources")})
        w.set_records({"samples": samples, "failed": failed, "params": params})


def _write_manifest(split_dir: Path, names: list, params: dict, unpaired: list) -> dict:
    samples, failed, shards = [], [], []
    pixels, boundary = {}, {v: {} for v in params["variants"]}
    for name in names:
        rec = read_records(split_dir / name)
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
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION,
        "tool": "segfix", "tool_version": __version__, "split": params["split"],
        "params": params, "num_classes": num_classes,
        "class_names": list(_labels.CITYSCAPES_CLASS_NAMES) if num_classes == 19 else None,
        "ignore_index": IGNORE_INDEX,
        "shards": shards, "samples": samples, "failed": failed, "unpaired": unpaired,
        "class_pixels": dict(sorted(pixels.items(), key=lambda kv: int(kv[0]))),
        "class_boundary_pixels": {v: dict(sorted(c.items(), key=lambda kv: int(kv[0])))
                                  for v, c in boundary.items()},
    }
    manifest[CHECKSUM_KEY] = manifest_checksum(manifest)
    _write_json(split_dir / MANIFEST, manifest)
    return manifest


def _write_json(path: Path, data: dict) -> None:
    """``atomic_write_json``; a failed write (disk full, file-size limit, ...) is a BuildError naming ``path``."""
    try:
        atomic_write_json(path, data)
    except OSError as exc:
        raise _write_error(path, exc) from None


def build(dataset_dir, out_dir, splits, config: BuildConfig, **kwargs) -> list[SplitResult]:
    """Build every split in ``splits`` (see :func:`build_split` for the keyword arguments)."""
    return [build_split(dataset_dir, out_dir, s, config, **kwargs) for s in splits]
