"""The direction loss covers the predicted boundary by default and in every recipe (the paper's
Sec. 3.2 and the authors' ``SegFixLoss``); ``gt`` and ``both`` stay options."""
import pytest
import torch

from segfix_train.config import DIRECTION_PIXELS, RECIPES, TrainConfig, resolve
from segfix_train.losses import segfix_loss


def test_the_default_is_the_predicted_boundary():
    assert TrainConfig().direction_pixels == "predicted"
    cfg = resolve(shards=["s"])
    assert cfg.direction_pixels == "predicted" and cfg.sources["direction_pixels"] == "default"


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_recipe_sets_the_predicted_boundary(name):
    cfg = resolve(recipe=name, shards=["s"])
    assert cfg.direction_pixels == "predicted" and cfg.sources["direction_pixels"] == f"recipe {name}"


@pytest.mark.parametrize("mode", DIRECTION_PIXELS)
def test_other_modes_stay_options(mode):
    assert resolve(recipe="cityscapes", shards=["s"], direction_pixels=mode).direction_pixels == mode


def test_the_loss_function_defaults_to_the_predicted_boundary():
    # pixel 0 predicted boundary but not ground truth, pixel 1 the reverse; directions differ in loss
    lb = torch.tensor([[[[5.0, -5.0]]]])
    ld = torch.zeros(1, 8, 1, 2)
    ld[0, 1, 0, 1] = 9.0
    bt = torch.tensor([[[0, 1]]], dtype=torch.uint8)
    dt = torch.tensor([[[1, 1]]], dtype=torch.uint8)
    default = segfix_loss(lb, ld, bt, dt)["direction"]
    assert default.item() == segfix_loss(lb, ld, bt, dt, pixels="predicted")["direction"].item()
    assert default.item() != segfix_loss(lb, ld, bt, dt, pixels="gt")["direction"].item()
