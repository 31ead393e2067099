"""A ``segfix train`` RUN_DIR with an untrained tiny HRNet checkpoint (no training: instant)."""
from __future__ import annotations

from pathlib import Path

TINY_ARGS = {"blocks": 1, "modules": [1, 1, 1], "channels": [8, 16, 32, 64]}


def write_tiny_run(run_dir, *, seed: int = 0, num_directions: int = 8) -> Path:
    """``run_dir/checkpoints/ckpt_00000001.pt`` holding a randomly initialised tiny hrnet_w18 in the
    format ``segfix train`` writes (model weights, config, num_directions). Returns ``run_dir``."""
    import torch

    from segfix_train.checkpoint import checkpoint_path, save_checkpoint
    from segfix_train.models import create_model

    torch.manual_seed(seed)
    model = create_model("hrnet_w18", num_directions=num_directions, **TINY_ARGS)
    run_dir = Path(run_dir)
    save_checkpoint(checkpoint_path(str(run_dir), 1), {
        "step": 1, "num_directions": num_directions,
        "config": {"model": "hrnet_w18", "model_args": dict(TINY_ARGS)},
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()}})
    return run_dir
