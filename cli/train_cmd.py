"""``segfix train``: train the SegFix model on shard directories (thin wrapper over
``segfix_train.loop.train``)."""
from __future__ import annotations

import click

from cli._options import amp_option
from segfix_train.config import DEVICES, DIRECTION_PIXELS, RECIPES, TrainConfig

#: The built-in defaults, shown in the options' help (``segfix_train.config`` owns them).
DEFAULTS = TrainConfig()
#: The recipes' base learning rates, lowest first: ``{0.02: ["ade20k", "unified"], 0.04: [...]}``.
_BASE_LRS = {lr: [n for n, r in RECIPES.items() if r.get("base_lr", DEFAULTS.base_lr) == lr]
             for lr in sorted({r.get("base_lr", DEFAULTS.base_lr) for r in RECIPES.values()})}
_LR_HELP = "; ".join(f"{lr:g} for --recipe {'|'.join(names)}" for lr, names in _BASE_LRS.items()
                     if lr != DEFAULTS.base_lr)


@click.command("train")
@click.option("--shards", "shards", multiple=True, metavar="OUT_DIR[:SPLIT]",
              help="Shard directory from `segfix-gt build`, optionally with its split (default --split); "
                   "repeat to mix sets, e.g. --shards shards/cs:train --shards shards/ade:training "
                   "(a repeated entry counts once per occurrence in the per-batch mixing weights).")
@click.option("--shard-weight", "shard_weights", multiple=True, type=float,
              help="Mixing weight per --shards entry, in the same order (default 1 each).")
@click.option("--split", default=None, help=f"Training split of --shards entries without one [{DEFAULTS.split}]; "
                                           "train/training and val/validation are aliases.")
@click.option("--val-split", default=None,
              help=f"Validation split of every shard dir (of --val-shards entries without one) "
                   f"[{DEFAULTS.val_split}]; 'none' disables validation.")
@click.option("--val-shards", "val_shards", multiple=True, metavar="OUT_DIR[:SPLIT]",
              help="Validation set, repeatable [every --shards directory with --val-split]; each is "
                   "reported under its name in RUN_DIR/val.jsonl.")
@click.option("--recipe", type=click.Choice(list(RECIPES)), default=None,
              help="The paper's settings for this dataset (README table); --config and explicit options "
                   "override it.")
@click.option("--model", default=None, help=f"hrnet_w18 | hrnet_w32 | hrnet_w48 | hrnet2x20 [{DEFAULTS.model}; "
                                             f"{RECIPES['cityscapes']['model']} with --recipe].")
@click.option("--iters", type=int, default=None, help=f"Optimiser steps [{DEFAULTS.iters}].")
@click.option("--batch", type=int, default=None, help=f"Global batch per step, all ranks [{DEFAULTS.batch}].")
@click.option("--accum", type=int, default=None,
              help=f"Gradient accumulation steps per optimiser step [{DEFAULTS.accum}].")
@click.option("--crop", type=int, default=None, help=f"Square crop side in pixels [{DEFAULTS.crop}].")
@click.option("--seed", type=int, default=None, help=f"Run seed [{DEFAULTS.seed}].")
@click.option("--lr", type=float, default=None,
              help=f"Learning rate of the whole --batch (absolute: base_lr, the lr at batch 16, is not "
                   f"scaled) [base_lr * batch / 16, base_lr {DEFAULTS.base_lr:g}; {_LR_HELP}].")
@click.option("--out", default=None, metavar="RUN_DIR",
              help=f"Run directory (logs, config, checkpoints) [{DEFAULTS.out}].")
@click.option("--log-every", type=int, default=None, help=f"Log every K steps [{DEFAULTS.log_every}].")
@click.option("--ckpt-every", type=int, default=None, help=f"Checkpoint every K steps [{DEFAULTS.ckpt_every}].")
@click.option("--val-every", type=int, default=None, help="Validate every K steps [= --ckpt-every].")
@click.option("--val-max-images", type=int, default=None,
              help=f"Frames of each validation set scored during the run: a fixed subset spread over "
                   f"the split [{DEFAULTS.val_max_images}].")
@click.option("--final-val-max-images", type=int, default=None,
              help="Frames of each validation set scored after the last step [all: the whole split].")
@click.option("--val-batch", type=int, default=None,
              help=f"Validation frames per forward pass [{DEFAULTS.val_batch}].")
@click.option("--val-workers", type=int, default=None,
              help="Processes that read validation frames and score the refinement, per rank "
                   "[--workers; 0: in the training process].")
@click.option("--workers", "num_workers", type=int, default=None,
              help=f"DataLoader workers per rank [{DEFAULTS.num_workers}].")
@click.option("--direction-pixels", type=click.Choice(DIRECTION_PIXELS), default=None,
              help="Pixels of the direction loss: predicted (the pixels predicted as boundary, as the "
                   "paper, Sec. 3.2, and the authors' code), gt (the ground-truth boundary band) or both "
                   f"(their union) [{DEFAULTS.direction_pixels}, also in every --recipe].")
@click.option("--keep-best/--no-keep-best", default=None,
              help="Also keep RUN_DIR/best.pt: the checkpoint whose validation refinement gained most "
                   "(delta mIoU of the refined coarse labels on the fixed validation subset, the mean "
                   "over the validation sets; docs/training.md).")
@click.option("--device", type=click.Choice(DEVICES), default=None, help=f"[{DEFAULTS.device}]")
@amp_option
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="TOML file with any of these settings (command-line options win).")
@click.option("--pretrained", type=click.Path(dir_okay=False), default=None,
              help="Local ImageNet backbone file (hrnetv2_w*_imagenet_pretrained.pth, "
                   "hr_rnet_bt_w20_imagenet_pretrained.pth) or an authors' SegFix checkpoint (strict).")
@click.option("--allow-partial-pretrained/--no-allow-partial-pretrained", default=None,
              help="Train even when the --pretrained backbone file lacks some backbone tensors (they "
                   "stay randomly initialised); a file that loads none is always refused [off].")
@click.option("--from-scratch", is_flag=True, default=None,
              help="Train without --pretrained weights on purpose (otherwise a warning is printed).")
@click.option("--resume/--no-resume", default=None,
              help="Continue from the latest checkpoint in RUN_DIR, with the settings of RUN_DIR/config.json "
                   "(`segfix train --out RUN_DIR --resume` needs no other option; options given must match "
                   "the run's, --iters and how it logs, validates and checkpoints aside).")
@click.option("--overwrite", is_flag=True, default=None,
              help="Replace the earlier run in a non-empty RUN_DIR (its checkpoints, logs and config); "
                   "without it (or --resume) a non-empty RUN_DIR is refused.")
def train_cmd(shards, shard_weights, split, val_split, val_shards, recipe, model, iters, batch, accum, crop, seed,
              lr, out, log_every, ckpt_every, val_every, val_max_images, final_val_max_images, val_batch,
              val_workers, num_workers, direction_pixels, device, amp, config_file, pretrained,
              allow_partial_pretrained, from_scratch, resume, keep_best, overwrite):
    """Train SegFix (boundary + direction heads on HRNet) from HDF5 shards.

    Single process, or DDP under `torchrun --nproc-per-node K` (NCCL on CUDA, gloo on CPU).
    Metrics go to RUN_DIR/train.jsonl and RUN_DIR/val.jsonl; the resolved configuration to
    RUN_DIR/config.json.
    """
    from segfix_train.config import resolve
    from segfix_train.loop import train

    if val_split is not None and val_split.lower() in ("", "none"):
        val_split = ""
    cfg = resolve(config_file, recipe=recipe, shards=list(shards) or None, shard_weights=list(shard_weights) or None,
                  split=split, val_split=val_split, model=model, iters=iters, batch=batch, accum=accum,
                  crop=crop, seed=seed, lr=lr, out=out, log_every=log_every, ckpt_every=ckpt_every,
                  val_every=val_every, val_max_images=val_max_images, num_workers=num_workers,
                  val_shards=list(val_shards) or None, final_val_max_images=final_val_max_images,
                  val_batch=val_batch, val_workers=val_workers,
                  direction_pixels=direction_pixels, device=device, amp=amp, pretrained=pretrained,
                  allow_partial_pretrained=allow_partial_pretrained, from_scratch=from_scratch,
                  resume=resume, keep_best=keep_best, overwrite=overwrite)
    if cfg.val_split == "":
        cfg.val_split = None
    record = train(cfg, echo=click.echo)
    for name, metrics in (record or {}).get("sets", {}).items():
        click.echo(f"final validation {name}: " + ", ".join(
            f"{k} {int(v)}" if k.endswith("_pixels") or k == "images" else f"{k} {v:.4f}"
            for k, v in metrics.items()))
