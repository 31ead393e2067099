"""Training configuration: defaults, TOML files (``tomllib``) and command-line overrides.

Precedence: built-in defaults < ``--config FILE.toml`` < options given on the command line.
The resolved configuration is written to ``RUN_DIR/config.json``.
"""
from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from dataclasses import dataclass, field
from typing import Any
from segfix_data.atomic import atomic_path


@dataclass
class TrainConfig:
    """Everything a training run depends on.

    ``batch`` is the global batch of one optimiser step (all ranks, all accumulation steps); each
    rank processes ``batch / (world_size * accum)`` crops per forward pass. ``lr`` defaults to
    ``0.04 * batch / 16`` (the paper's 0.04 at batch 16). ``shards`` entries are ``DIR`` or
    ``DIR:SPLIT`` (``split`` is the default split); a directory may be listed several times; each
    entry gets the weight at the same position of ``shard_weights`` (default 1), and entries with
    the same directory and split are merged, their weights summed.
    """

    shards: list[str] = field(default_factory=list)
    shard_weights: list[float] | None = None
    split: str = "train"
    val_split: str | None = "val"
    out: str = "runs/segfix"
    model: str = "hrnet_w18"
    model_args: dict = field(default_factory=dict)  # backbone overrides, e.g. {"blocks": 1}
    pretrained: str | None = None
    iters: int = 80000
    batch: int = 16
    accum: int = 1
    crop: int = 512
    seed: int = 0
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float = 5e-4
    poly_power: float = 0.9
    direction_mask: str = "gt"  # "gt" (paper) or "pred" (authors' code)
    boundary_weight: float = 1.0
    direction_weight: float = 1.0
    target: str = "semantic"  # which target group of the shards: "semantic" or "instance"
    flip: bool = True
    brightness: int = 10
    scale: list[float] | None = None  # [min, max] random rescale, off by default
    num_workers: int = 2
    log_every: int = 20
    ckpt_every: int = 1000
    val_every: int | None = None  # default: ckpt_every
    val_max_images: int | None = None
    keep_checkpoints: int = 3
    amp: str = "auto"  # "auto" (bf16 on CUDA), "bf16", "off"
    channels_last: str = "auto"  # "auto" (on CUDA), "on", "off"
    device: str = "auto"  # "auto", "cpu", "cuda"
    sync_bn: bool = True  # SyncBatchNorm under DDP on CUDA (PyTorch has none on CPU)
    resume: bool = False
    overwrite: bool = False  # without resume: replace the run already in ``out`` (segfix_train/rundir.py)
    stop_after: int | None = None  # testing aid: return after this step as if killed

    def resolved_lr(self) -> float:
        return float(self.lr) if self.lr is not None else 0.04 * self.batch / 16

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
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"config file {path!r} is not valid TOML: {e}") from None
    data = data.get("train", data)
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise ValueError(f"config file {path!r}: unknown keys {unknown}; valid keys: {sorted(FIELDS)}")
    return data


def resolve(config_file: str | None = None, **cli: Any) -> TrainConfig:
    """Defaults < TOML file < ``cli`` entries that are not ``None``."""
    values: dict[str, Any] = {}
    if config_file:
        values.update(load_toml(config_file))
    values.update({k: v for k, v in cli.items() if v is not None})
    unknown = sorted(set(values) - FIELDS)
    if unknown:
        raise ValueError(f"unknown configuration keys {unknown}")
    cfg = TrainConfig(**values)
    validate(cfg)
    return cfg


def validate(cfg: TrainConfig) -> None:
    """Raise ``ValueError`` naming the offending setting."""
    if not cfg.shards:
        raise ValueError("no shard directory given (--shards OUT_DIR)")
    if cfg.shard_weights is not None and len(cfg.shard_weights) != len(cfg.shards):
        raise ValueError(f"shard_weights has {len(cfg.shard_weights)} entries for {len(cfg.shards)} shard dirs")
    for name in ("iters", "batch", "accum", "crop", "log_every", "ckpt_every"):
        if int(getattr(cfg, name)) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(cfg, name)!r}")
    if cfg.direction_mask not in ("gt", "pred"):
        raise ValueError(f"direction_mask must be 'gt' or 'pred', got {cfg.direction_mask!r}")
    if cfg.amp not in ("auto", "bf16", "off") or cfg.channels_last not in ("auto", "on", "off"):
        raise ValueError(f"amp must be auto|bf16|off and channels_last auto|on|off, got {cfg.amp!r}, "
                         f"{cfg.channels_last!r}")
    if cfg.scale is not None and (len(cfg.scale) != 2 or not 0 < cfg.scale[0] <= cfg.scale[1]):
        raise ValueError(f"scale must be [min, max] with 0 < min <= max, got {cfg.scale!r}")


def parse_shard_entry(entry: str, default_split: str) -> tuple[str, str]:
    """``"DIR"`` or ``"DIR:SPLIT"`` -> ``(DIR, SPLIT)``. The text after the last ``:`` is a split
    when it holds no path separator and ``entry`` itself is not an existing directory."""
    head, sep, tail = str(entry).rpartition(":")
    if sep and head and tail and "/" not in tail and os.sep not in tail and not os.path.isdir(entry):
        return head, tail
    if sep and not tail:
        raise ValueError(f"--shards {entry!r}: empty split after ':'; use DIR or DIR:SPLIT")
    return str(entry), default_split


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
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump({**cfg.to_dict(), **(extra or {})}, f, indent=2, sort_keys=True)
