"""Losses against hand-written definitions, finiteness and ignore handling."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from segfix_train.losses import boundary_loss, direction_loss, segfix_loss
from tests.support.fakes import one_torch_thread  # noqa: F401


def _brute_balanced(values, classes, num_classes):
    n = len(classes)
    w = [1 - classes.count(c) / n for c in range(num_classes)]
    ws = [w[c] for c in classes]
    if sum(ws) == 0:
        return sum(values) / n
    return sum(wi * v for wi, v in zip(ws, values)) / sum(ws)


def test_boundary_loss_hand_computed():
    logits = torch.tensor([[[[0.0, 2.0], [-1.0, 3.0]]]])
    target = torch.tensor([[[1, 0], [255, 0]]], dtype=torch.uint8)
    # pixels: (x=0,t=1), (x=2,t=0), (x=3,t=0); weights: w1 = 1 - 1/3, w0 = 1 - 2/3
    l = [math.log(2), math.log(1 + math.e**2), math.log(1 + math.e**3)]
    expect = (2 / 3 * l[0] + 1 / 3 * l[1] + 1 / 3 * l[2]) / (2 / 3 + 2 / 3)
    assert boundary_loss(logits, target).item() == pytest.approx(expect, rel=1e-6)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 2), st.integers(1, 5), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_direction_loss_matches_brute_force(n, h, w, seed):
    g = np.random.default_rng(seed)
    m = 8
    logits = torch.tensor(g.normal(size=(n, m, h, w)), dtype=torch.float32, requires_grad=True)
    target = torch.tensor(g.choice([0, 3, 5, 255], size=(n, h, w)), dtype=torch.uint8)
    mask = torch.tensor(g.random((n, h, w)) < 0.7)
    got = direction_loss(logits, target, mask)
    vals, cls = [], []
    for i in range(n):
        for y in range(h):
            for x in range(w):
                t = int(target[i, y, x])
                if mask[i, y, x] and t != 255:
                    z = logits[i, :, y, x].detach().double()
                    vals.append(float(torch.logsumexp(z, 0) - z[t]))
                    cls.append(t)
    expect = _brute_balanced(vals, cls, m) if cls else 0.0
    assert got.item() == pytest.approx(expect, rel=1e-5, abs=1e-6)
    got.backward()
    assert torch.isfinite(logits.grad).all()


def test_no_boundary_pixel_is_finite_with_zero_direction_gradient():
    logits_b = torch.randn(2, 1, 8, 8, requires_grad=True)
    logits_d = torch.randn(2, 8, 8, 8, requires_grad=True)
    bt = torch.zeros(2, 8, 8, dtype=torch.uint8)
    dt = torch.full((2, 8, 8), 255, dtype=torch.uint8)
    for mask in ("gt", "pred"):
        out = segfix_loss(logits_b, logits_d, bt, dt, mask=mask)
        assert all(torch.isfinite(v) for v in out.values())
        assert out["direction"].item() == 0.0
        out["loss"].backward()
        assert torch.count_nonzero(logits_d.grad) == 0 and torch.isfinite(logits_b.grad).all()
        logits_b.grad = logits_d.grad = None


def test_all_ignore_is_finite():
    out = segfix_loss(torch.randn(1, 1, 4, 4), torch.randn(1, 8, 4, 4),
                      torch.full((1, 4, 4), 255, dtype=torch.uint8), torch.full((1, 4, 4), 255, dtype=torch.uint8))
    assert out["loss"].item() == 0.0


def test_ignored_pixels_do_not_matter():
    g = torch.Generator().manual_seed(0)
    lb, ld = torch.randn(1, 1, 6, 6, generator=g), torch.randn(1, 8, 6, 6, generator=g)
    bt = torch.randint(0, 2, (1, 6, 6), generator=g).to(torch.uint8)
    dt = torch.where(bt == 1, torch.randint(0, 8, (1, 6, 6), generator=g), 255).to(torch.uint8)
    bt[0, :2] = 255
    dt[0, :2] = 255
    a = segfix_loss(lb, ld, bt, dt)["loss"]
    lb2, ld2 = lb.clone(), ld.clone()
    lb2[..., :2, :] = 100.0
    ld2[..., :2, :] = -100.0
    assert segfix_loss(lb2, ld2, bt, dt)["loss"].item() == pytest.approx(a.item(), rel=1e-6)


def test_pred_mask_uses_predicted_boundary():
    lb = torch.tensor([[[[5.0, -5.0]]]])
    ld = torch.tensor([[[[0.0, 0.0]], [[0.0, 9.0]]]]).expand(1, 2, 1, 2).contiguous()
    ld = torch.cat([ld, torch.zeros(1, 6, 1, 2)], 1)
    bt = torch.tensor([[[1, 1]]], dtype=torch.uint8)
    dt = torch.tensor([[[1, 1]]], dtype=torch.uint8)
    gt = segfix_loss(lb, ld, bt, dt, mask="gt")["direction"].item()
    pred = segfix_loss(lb, ld, bt, dt, mask="pred")["direction"].item()
    assert pred == pytest.approx(math.log(8), rel=1e-6)  # only pixel 0 (uniform logits)
    assert gt < pred


def test_bad_arguments():
    with pytest.raises(ValueError, match="mask"):
        segfix_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 8, 2, 2), torch.zeros(1, 2, 2), torch.zeros(1, 2, 2), mask="x")
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        boundary_loss(torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2))
    with pytest.raises(ValueError, match="0..7"):
        direction_loss(torch.zeros(1, 8, 1, 1), torch.full((1, 1, 1), 9), torch.ones(1, 1, 1, dtype=torch.bool))
