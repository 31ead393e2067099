"""A ``segfix train`` RUN_DIR with an untrained tiny HRNet checkpoint (no training: instant)."""
from __future__ import annotations

from pathlib import Path

TINY_ARGS = {"blocks": 1, "modules": [1, 1, 1], "channels": [8, 16, 32, 64]}


def write_tiny_run(run_dir, *, seed: int = 0, num_directions: int = 8) -> Path:
    """``run_dir/checkpoints/ckpt_00000001.pt`` holding a randomly initialised tiny hrnet_w18 in the
    layout ``segfix train`` writes (``checkpoint.make_payload``, ``TRAIN_FORMAT``: model, config,
    optimiser and schedule after no step). Returns ``run_dir``."""
    import torch

    from segfix_train.checkpoint import TRAIN_FORMAT, checkpoint_path, make_payload, rng_state, save_checkpoint
    from segfix_train.config import TrainConfig
    from segfix_train.models import create_model

    torch.manual_seed(seed)
    model = create_model("hrnet_w18", num_directions=num_directions, **TINY_ARGS)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    config = TrainConfig(shards=["-"], model="hrnet_w18", model_args=dict(TINY_ARGS)).to_dict()
    run_dir = Path(run_dir)
    save_checkpoint(checkpoint_path(str(run_dir), 1), make_payload(
        TRAIN_FORMAT, model, config, step=1, optimizer=opt.state_dict(), scheduler=sched.state_dict(),
        data={"micro_batch": 1, "world_size": 1}, log_window=torch.zeros(4, dtype=torch.float64),
        rng=[rng_state()], grad_scaler=None))
    return run_dir
