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
    for mode in ("predicted", "gt", "both"):
        out = segfix_loss(logits_b, logits_d, bt, dt, pixels=mode)
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
    gt = segfix_loss(lb, ld, bt, dt, pixels="gt")["direction"].item()
    pred = segfix_loss(lb, ld, bt, dt, pixels="predicted")["direction"].item()
    assert pred == pytest.approx(math.log(8), rel=1e-6)  # only pixel 0 (uniform logits)
    assert gt < pred


def test_bad_arguments():
    with pytest.raises(ValueError, match="direction pixels"):
        segfix_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 8, 2, 2), torch.zeros(1, 2, 2), torch.zeros(1, 2, 2), pixels="x")
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        boundary_loss(torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2))
    with pytest.raises(ValueError, match="0..7"):
        direction_loss(torch.zeros(1, 8, 1, 1), torch.full((1, 1, 1), 9), torch.ones(1, 1, 1, dtype=torch.bool))


# --direction-pixels on a 1 x 5 strip: boundary logits +, -, +, -, + (predicted: pixels 0, 2, 4);
# GT boundary 1, 1, 0, 0, ignore (pixels 0, 1); the band's directions defined on pixels 0..3.
_LB = torch.tensor([[[[1.0, -1.0, 1.0, -1.0, 1.0]]]])
_BT = torch.tensor([[[1, 1, 0, 0, 255]]], dtype=torch.uint8)
_DT = torch.tensor([[[2, 5, 3, 1, 255]]], dtype=torch.uint8)


@pytest.mark.parametrize("mode, expect", [
    ("predicted", [1, 0, 1, 0, 0]),  # the predicted pixel 2 outside the GT band is in
    ("gt", [1, 1, 0, 0, 0]),
    ("both", [1, 1, 1, 0, 0]),
])
def test_direction_pixels_mask_of_each_mode(mode, expect):
    from segfix_train.losses import direction_pixels_mask

    got = direction_pixels_mask(_LB, _BT, mode)
    assert got.dtype == torch.bool and got[0, 0].int().tolist() == expect


def _ce(ld, x, t):
    return torch.nn.functional.cross_entropy(ld[:, :, 0, x], torch.tensor([t])).item()


@pytest.mark.parametrize("mode, pixels", [("predicted", [0, 2]), ("gt", [0, 1]), ("both", [0, 1, 2])])
def test_direction_loss_of_each_mode_is_the_balanced_mean_over_its_pixels(mode, pixels):
    ld = torch.randn(1, 8, 1, 5, generator=torch.Generator().manual_seed(3))
    got = segfix_loss(_LB, ld, _BT, _DT, pixels=mode)["direction"].item()
    # every covered pixel has its own bin: w_c = 1 - 1/n for each, so the plain mean
    want = sum(_ce(ld, x, int(_DT[0, 0, x])) for x in pixels) / len(pixels)
    assert got == pytest.approx(want, rel=1e-5)


def test_band_note_warns_only_when_predicted_pixels_lack_a_band():
    from segfix_train.losses import band_note

    assert band_note([{"direction_band": 15.0}], "predicted") is None
    assert band_note([{}], "gt") is None
    assert "rebuild" in band_note([{"direction_band": 15.0}, {}], "both")
    assert "rebuild" in band_note([{"direction_band": 0.0}], "predicted")
