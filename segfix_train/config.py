"""Training configuration: defaults, the paper's recipes, TOML files (``tomllib``) and
command-line overrides.

Precedence: built-in defaults < ``--recipe NAME`` < ``--config FILE.toml`` < options given on the
command line. ``TrainConfig.sources`` records where each setting came from (``default``,
``recipe NAME``, ``config FILE``, ``flag``); the resolved configuration, with its sources, is
written to ``RUN_DIR/config.json``.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from typing import Any
from segfix_data.errors import InputError
from segfix_data.atomic import atomic_write_json

#: The values of the settings that take one of a few words, the choices ``segfix train`` and
#: ``segfix predict`` offer (kept here, a module without torch, so that ``--help`` stays fast).
AMP_MODES = ("auto", "bf16", "fp16", "off")  # resolved by segfix_train.precision.resolve_amp
DIRECTION_PIXELS = ("predicted", "gt", "both")  # which pixels: segfix_train.losses.direction_pixels_mask
CHANNELS_LAST = ("auto", "on", "off")
PAD_MODES = ("corner", "random")
DEVICES = ("auto", "cpu", "cuda")
TESTERS = ("segfix", "openseg")  # how segfix predict computes offsets (segfix_train.predict)
OPENSEG_MODES = ("sscrop", "whole")  # the openseg tester's passes (segfix_train.predict_openseg)


@dataclass
class TrainConfig:
    """Everything a training run depends on.

    ``batch`` is the global batch of one optimiser step (all ranks, all accumulation steps); each
    rank processes ``batch / (world_size * accum)`` crops per forward pass. ``lr`` defaults to
    ``base_lr * batch / 16`` (``base_lr``: the lr at batch 16, the paper's 0.04; 0.02 for ADE20K and
    the unified model). ``resize_short``: resize each frame so its shorter side has this many
    pixels before cropping (the authors' ADE20K preprocessing): a number (every set) or a table
    ``{layout: pixels}`` for the sets built with that ``segfix-gt build --layout`` (their manifest's
    ``params["layout"]``; the unified recipe's ``{"ade20k": 512}``); ``pad_mode``: where a frame
    smaller than the crop sits in it (``corner``: top-left, ``random``: a random place, as the
    authors' ``pad_mode: random``). ``shards`` entries are ``DIR`` or
    ``DIR:SPLIT`` (``split`` is the default split); a directory may be listed several times; each
    entry gets the weight at the same position of ``shard_weights`` (default 1), and entries with
    the same directory and split are merged, their weights summed.

    Validation (``segfix_train.valpass``): ``val_shards`` entries ``DIR`` or ``DIR:SPLIT`` name the
    validation sets (default: every training directory, split ``val_split``); each validation
    during the run scores a fixed subset of ``val_max_images`` frames per set (evenly spaced over
    the split; None: all), the one after the last step ``final_val_max_images`` frames (None: the
    whole split); ``val_batch`` frames per forward pass; ``val_workers`` processes read the frames
    and ``val_workers`` more score the refinement (0: all in the training process; None: as many
    as ``num_workers``).
    """

    shards: list[str] = field(default_factory=list)
    shard_weights: list[float] | None = None
    split: str = "train"
    val_split: str | None = "val"
    out: str = "runs/segfix"
    model: str = "hrnet_w18"
    model_args: dict = field(default_factory=dict)  # backbone overrides, e.g. {"blocks": 1}
    pretrained: str | None = None
    allow_partial_pretrained: bool = False  # accept a backbone file that lacks some backbone tensors
    iters: int = 80000
    batch: int = 16
    accum: int = 1
    crop: int = 512
    seed: int = 0
    lr: float | None = None
    base_lr: float = 0.04  # lr at batch 16 when ``lr`` is not given
    momentum: float = 0.9
    weight_decay: float = 5e-4
    poly_power: float = 0.9
    direction_pixels: str = "predicted"  # direction loss on: the "predicted" boundary (paper Sec. 3.2, authors' SegFixLoss), the "gt" band, "both"
    boundary_weight: float = 1.0
    direction_weight: float = 1.0
    target: str = "semantic"  # which target group of the shards: "semantic" or "instance"
    flip: bool = True
    brightness: int = 10
    scale: list[float] | None = None  # [min, max] random rescale, off by default
    resize_short: int | dict | None = None  # shorter side resized to this before cropping, or {layout: side}
    pad_mode: str = "corner"  # "corner" or "random": where a frame smaller than the crop is placed
    num_workers: int = 2
    log_every: int = 20
    ckpt_every: int = 1000
    val_every: int | None = None  # default: ckpt_every
    val_shards: list[str] | None = None  # validation sets DIR[:SPLIT]; default: each training DIR, val_split
    val_max_images: int | None = 100  # the fixed subset of each validation set scored during the run
    final_val_max_images: int | None = None  # frames of the validation after the last step (None: all)
    val_batch: int = 4  # validation frames per forward pass
    val_workers: int | None = None  # processes reading validation frames and scoring them (None: num_workers)
    keep_checkpoints: int = 3
    keep_best: bool = False  # also keep best.pt: the checkpoint with the best validation refinement gain
    amp: str = "auto"  # "auto" (bf16 where native, else fp16 + GradScaler, on CUDA), "bf16", "fp16", "off"
    channels_last: str = "auto"  # "auto" (on CUDA), "on", "off"
    device: str = "auto"  # "auto", "cpu", "cuda"
    sync_bn: bool = True  # SyncBatchNorm under DDP on CUDA (PyTorch has none on CPU)
    resume: bool = False
    overwrite: bool = False  # without resume: replace the run already in ``out`` (segfix_train/rundir.py)
    stop_after: int | None = None  # testing aid: return after this step as if killed
    from_scratch: bool = False  # the user's word that no --pretrained is intended (no warning)
    recipe: str | None = None  # the recipe the settings started from (its values are the fields)
    sources: dict = field(default_factory=dict)  # setting -> "default" | "recipe NAME" | "config FILE" | "flag"

    def resolved_lr(self) -> float:
        return float(self.lr) if self.lr is not None else self.base_lr * self.batch / 16

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}


def load_toml(path: str) -> dict[str, Any]:
    """Read a TOML config (keys = ``TrainConfig`` field names, top level or under ``[train]``)."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"config file {path!r} not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"config file {path!r} is not valid TOML: {e}") from None
    data = data.get("train", data)
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise InputError(f"config file {path!r}: unknown keys {unknown}; valid keys: {sorted(FIELDS)}")
    return data


#: The paper's settings (Sec. 4.1 and Appendix: crop 512, batch 16, 80k iterations, SGD momentum
#: 0.9, weight decay 5e-4, poly 0.9, lr 0.04 -- 0.02 for ADE20K and the unified model --, flip,
#: brightness +-10, HRNet-2x, the direction loss on the predicted boundary: Sec. 3.2 and the
#: authors' ``SegFixLoss``, pixels of predicted boundary probability > 0.5) and the authors' config files (configs/*/H_SEGFIX.json: random
#: padding; ADE20K: shorter side resized to 512 before the crop, in the unified model too, whose
#: mixed loader gives every set its own preprocessing: lib/datasets/loader/multi_dataset_loader.py
#: with use_adaptive_transform). README.md tabulates them with the file of each value.
_PAPER = {"model": "hrnet2x20", "crop": 512, "batch": 16, "iters": 80000, "momentum": 0.9,
          "weight_decay": 5e-4, "poly_power": 0.9, "flip": True, "brightness": 10, "scale": None,
          "pad_mode": "random", "boundary_weight": 1.0, "direction_weight": 1.0, "sync_bn": True,
          "direction_pixels": "predicted"}
RECIPES: dict[str, dict[str, Any]] = {
    "cityscapes": {**_PAPER, "base_lr": 0.04},
    "gta5": {**_PAPER, "base_lr": 0.04},
    "ade20k": {**_PAPER, "base_lr": 0.02, "resize_short": 512},
    "unified": {**_PAPER, "base_lr": 0.02, "resize_short": {"ade20k": 512}},
}


#: The run's resolved configuration in RUN_DIR (``segfix_train.loop`` writes it at start-up).
RUN_CONFIG = "config.json"
#: Settings a resumed run does not take from the run's ``config.json``: how this invocation runs.
NOT_INHERITED = frozenset({"resume", "overwrite", "stop_after", "sources"})
#: The origin of a setting taken from the run's ``config.json``: ``"run (ORIGIN)"``, e.g.
#: ``"run (recipe unified)"`` or ``"run (flag)"`` (ORIGIN: where the run had it from).
RUN_ORIGIN = "run ({})"


def run_settings(out: str) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The settings recorded in ``out/config.json`` (those a resumed run inherits) and their
    origins (``run (ORIGIN)``), or None when the file does not exist."""
    path = os.path.join(str(out), RUN_CONFIG)
    try:
        with open(path) as f:
            saved = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read the run's configuration ({e}); give every setting "
                         "with --shards ... or start a new run with another --out") from None
    values = {k: v for k, v in saved.items() if k in FIELDS and k not in NOT_INHERITED}
    if "resolved_amp" not in saved:  # an older layout wrote the resolved values over these settings
        for k in ("amp", "channels_last", "device"):
            values.pop(k, None)
    origins = saved.get("sources") or {}
    return values, {k: origin_in_run(origins.get(k, "default")) for k in values}


def origin_in_run(origin: str) -> str:
    """``"run (ORIGIN)"`` (an origin that already names a run stays as it is)."""
    return origin if origin.startswith("run (") else RUN_ORIGIN.format(origin)


def plain_origin(origin: str) -> str:
    """The origin itself: ``"run (flag)"`` -> ``"flag"``; others unchanged."""
    return origin[5:-1] if origin.startswith("run (") and origin.endswith(")") else origin


def resolve(config_file: str | None = None, recipe: str | None = None, **cli: Any) -> TrainConfig:
    """Defaults < ``RECIPES[recipe]`` < TOML file < ``cli`` entries that are not ``None``; the
    result's ``sources`` names, for every setting, which of these gave its value.

    With ``resume`` set, the settings recorded in ``OUT/config.json`` (:func:`run_settings`) come
    right after the defaults, so ``segfix train --out RUN --resume`` alone continues the run as it
    was configured (origin ``run (ORIGIN)``); the recipe the run used is not applied again (its
    values, and the options that overrode them, are in that file), anything else given is, and
    ``segfix_train.loop`` then refuses the settings that may not change."""
    layers: list[tuple[str, dict[str, Any]]] = []
    config_layer = load_toml(config_file) if config_file else {}
    flags = {k: v for k, v in cli.items() if v is not None}
    run = None
    if {**config_layer, **flags}.get("resume"):
        run = run_settings({**(RECIPES.get(recipe) or {}), **config_layer, **flags}.get("out", TrainConfig.out))
    if run is not None:
        layers.append(("run", run[0]))
    if recipe is not None:
        if recipe not in RECIPES:
            raise InputError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
        if run is None or run[0].get("recipe") != recipe:
            layers.append((f"recipe {recipe}", {**RECIPES[recipe], "recipe": recipe}))
    if config_file:
        layers.append((f"config {config_file}", config_layer))
    layers.append(("flag", flags))
    values: dict[str, Any] = {}
    sources = {name: "default" for name in FIELDS - {"sources"}}
    for origin, layer in layers:
        unknown = sorted(set(layer) - FIELDS)
        if unknown:
            raise InputError(f"unknown configuration keys {unknown}")
        values.update(layer)
        sources.update(run[1] if origin == "run" else {k: origin for k in layer})
    values.pop("sources", None)
    cfg = TrainConfig(**values, sources=dict(sorted(sources.items())))
    validate(cfg)
    return cfg


def describe_sources(cfg: TrainConfig) -> list[str]:
    """One line per origin (``default``, ``recipe NAME``, ``config FILE``, ``flag``) listing the
    settings it gave, ``name=value`` sorted by name: what ``segfix train`` prints at start-up."""
    by_origin: dict[str, list[str]] = {}
    values = cfg.to_dict()
    for name, origin in sorted(cfg.sources.items()):
        by_origin.setdefault(origin, []).append(f"{name}={values[name]!r}")
    order = sorted(by_origin, key=lambda o: (o != "default", not o.startswith("recipe"), o == "flag", o))
    return [f"settings from {o}: {', '.join(by_origin[o])}" for o in order]


def _fits(value: Any, hint: Any) -> bool:
    """Whether ``value`` has the type ``hint`` names (``int``, ``float``, ``str | None``,
    ``list[float]``...); a whole number is a float, a bool is neither, a tuple is a list."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is list:
        return isinstance(value, (list, tuple)) and all(_fits(v, args[0]) for v in value) if args else True
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return isinstance(value, hint) if isinstance(hint, type) else True


_WORDS = {int: "a whole number", float: "a number", str: "a string", bool: "true or false", dict: "a table"}


def _describe(hint: Any) -> str:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args) + " (or unset)"
    if typing.get_origin(hint) is list:
        return f"a list of {_describe(args[0]).removeprefix('a ')}s" if args else "a list"
    return _WORDS.get(hint, getattr(hint, "__name__", str(hint)))


#: Numeric settings and their ranges ``(name, lowest, highest or None)``; every value finite.
_RANGES = (("lr", 0, None), ("base_lr", 0, None), ("momentum", 0, None), ("weight_decay", 0, None),
           ("poly_power", 0, None), ("boundary_weight", 0, None), ("direction_weight", 0, None),
           ("brightness", 0, 255), ("num_workers", 0, None), ("seed", 0, 2**32 - 1), ("keep_checkpoints", 1, None),
           ("val_every", 1, None), ("val_max_images", 1, None), ("stop_after", 1, None))


def _problem(cfg: TrainConfig, name: str, text: str) -> InputError:
    origin = cfg.sources.get(name, "flag")
    where = {"default": "", "flag": " (from the command line)"}.get(origin, f" (from {origin})")
    return InputError(f"{name}{where}: {text}")


def validate(cfg: TrainConfig) -> None:
    """Raise ``InputError`` naming the offending setting (and where its value came from)."""
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        value = getattr(cfg, f.name)
        if not _fits(value, hints[f.name]):
            raise _problem(cfg, f.name, f"must be {_describe(hints[f.name])}, got {value!r}")
    for name, low, high in _RANGES:
        v = getattr(cfg, name)
        if v is not None and (not math.isfinite(v) or v < low or (high is not None and v > high)):
            raise _problem(cfg, name, f"must be {f'>= {low}' if high is None else f'from {low} to {high}'}, got {v!r}")
    if cfg.shard_weights is not None and not all(math.isfinite(w) and w >= 0 for w in cfg.shard_weights) \
            or cfg.shard_weights is not None and not any(w > 0 for w in cfg.shard_weights):
        raise _problem(cfg, "shard_weights", f"must be finite, >= 0 and not all 0, got {cfg.shard_weights!r}")
    if not cfg.shards:
        if cfg.resume:
            raise InputError(f"no shard directory given (--shards OUT_DIR), and --resume found no "
                             f"{os.path.join(cfg.out, RUN_CONFIG)} to take the run's settings from; "
                             "check --out, or give the run's options")
        raise InputError("no shard directory given (--shards OUT_DIR)")
    if cfg.shard_weights is not None and len(cfg.shard_weights) != len(cfg.shards):
        raise InputError(f"shard_weights has {len(cfg.shard_weights)} entries for {len(cfg.shards)} shard dirs")
    for name in ("iters", "batch", "accum", "crop", "log_every", "ckpt_every"):
        if int(getattr(cfg, name)) < 1:
            raise InputError(f"{name} must be >= 1, got {getattr(cfg, name)!r}")
    for name, choices in (("direction_pixels", DIRECTION_PIXELS), ("amp", AMP_MODES),
                          ("channels_last", CHANNELS_LAST), ("pad_mode", PAD_MODES)):
        if getattr(cfg, name) not in choices:
            raise InputError(f"{name} must be one of {'|'.join(choices)}, got {getattr(cfg, name)!r}")
    sides = cfg.resize_short.values() if isinstance(cfg.resize_short, dict) else [cfg.resize_short]
    if cfg.resize_short is not None and not all(isinstance(v, int) and v >= 1 for v in sides):
        raise InputError(f"resize_short must be a side in pixels >= 1 or a table {{layout: side}}, "
                         f"got {cfg.resize_short!r}")
    for name in ("val_max_images", "final_val_max_images"):
        if getattr(cfg, name) is not None and int(getattr(cfg, name)) < 1:
            raise InputError(f"{name} must be >= 1 (or unset: every frame), got {getattr(cfg, name)!r}")
    if int(cfg.val_batch) < 1 or (cfg.val_workers is not None and int(cfg.val_workers) < 0):
        raise InputError(f"val_batch must be >= 1 and val_workers >= 0, got {cfg.val_batch!r}, {cfg.val_workers!r}")
    if cfg.scale is not None and (len(cfg.scale) != 2 or not 0 < cfg.scale[0] <= cfg.scale[1]):
        raise InputError(f"scale must be [min, max] with 0 < min <= max, got {cfg.scale!r}")


def parse_shard_entry(entry: str, default_split: str) -> tuple[str, str]:
    """``"DIR"`` or ``"DIR:SPLIT"`` -> ``(DIR, SPLIT)``. The text after the last ``:`` is a split
    when it holds no path separator and ``entry`` itself is not an existing directory."""
    head, sep, tail = str(entry).rpartition(":")
    if sep and head and tail and "/" not in tail and os.sep not in tail and not os.path.isdir(entry):
        return head, tail
    if sep and not tail:
        raise InputError(f"--shards {entry!r}: empty split after ':'; use DIR or DIR:SPLIT")
    return str(entry), default_split


def resize_for(resize_short: int | dict | None, params: dict) -> int | None:
    """The shorter side (pixels) a shard set's frames are resized to before cropping: the number
    ``resize_short``, or its entry for the set's build layout (``params["layout"]``), or None."""
    if isinstance(resize_short, dict):
        return resize_short.get(str(params.get("layout")))
    return resize_short


def val_entries(cfg: TrainConfig) -> list[tuple[str, str]]:
    """``[(directory, split)]`` of the validation sets, in order, without repeats: the
    ``val_shards`` entries (split ``val_split`` where none is given), else every training
    directory with ``val_split``; ``[]`` without validation (``val_split`` None and no
    ``val_shards``)."""
    if cfg.val_shards:
        pairs = [parse_shard_entry(e, cfg.val_split or "val") for e in cfg.val_shards]
    elif cfg.val_split:
        pairs = [(d, cfg.val_split) for d, _, _ in shard_entries(cfg)]
    else:
        return []
    return list(dict.fromkeys((os.path.normpath(d), s) for d, s in pairs))


def shard_entries(cfg: TrainConfig) -> list[tuple[str, str, float]]:
    """``[(directory, split, weight)]`` with repeated (directory, split) entries merged (weights
    summed), in first-seen order."""
    weights = cfg.shard_weights or [1.0] * len(cfg.shards)
    merged: dict[tuple[str, str], float] = {}
    for entry, w in zip(cfg.shards, weights):
        d, split = parse_shard_entry(entry, cfg.split)
        key = (os.path.normpath(d), split)
        merged[key] = merged.get(key, 0.0) + float(w)
    return [(d, s, w) for (d, s), w in merged.items()]


def save_json(cfg: TrainConfig, path: str, extra: dict | None = None) -> None:
    """Write the resolved configuration (atomically)."""
    atomic_write_json(path, {**cfg.to_dict(), **(extra or {})}, indent=2)
