"""Offsets prediction: window tiling and averaging, maps, files, CLI."""
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from segfix_data.targets.direction import bin_offsets
from segfix_train.predict import offsets_array, predict_probs, probs_to_maps, window_starts
from tests.support.fakes import fake_open, scene, one_torch_thread  # noqa: F401


class Pointwise(torch.nn.Module):
    """Per-pixel model: tiled prediction must equal the whole-image one."""

    def __init__(self, m=8):
        super().__init__()
        torch.manual_seed(0)
        self.b = torch.nn.Conv2d(3, 1, 1)
        self.d = torch.nn.Conv2d(3, m, 1)

    def forward(self, x):
        return self.b(x), self.d(x)


@pytest.mark.parametrize("size,tile,stride", [(10, 4, 3), (10, 4, 4), (3, 8, 2), (9, 9, 1), (7, 2, 2)])
def test_window_starts_cover_every_pixel(size, tile, stride):
    s = window_starts(size, tile, stride)
    covered = np.zeros(size, bool)
    for a in s:
        assert 0 <= a and (a + min(tile, size) <= size)
        covered[a: a + tile] = True
    assert covered.all() and s == sorted(set(s))


def test_stride_larger_than_tile_is_refused():
    with pytest.raises(ValueError, match="stride <= tile"):
        window_starts(7, 2, 5)


def test_tiled_equals_full_for_a_pointwise_model():
    model = Pointwise().eval()
    x = torch.randn(3, 21, 17)
    fb, fd = predict_probs(model, x)
    tb, td = predict_probs(model, x, tile=8, stride=5, batch=3)
    assert torch.allclose(fb, tb, atol=1e-6) and torch.allclose(fd, td, atol=1e-6)
    assert fb.shape == (21, 17) and fd.shape == (8, 21, 17)


def test_overlap_is_averaged():
    class Const(torch.nn.Module):  # window k outputs logit k everywhere (counts calls)
        def __init__(self):
            super().__init__()
            self.k = 0

        def forward(self, x):
            outs = []
            for _ in range(x.shape[0]):
                outs.append(torch.full((1, 1) + x.shape[-2:], float(self.k)))
                self.k += 1
            b = torch.cat(outs)
            d = torch.zeros(x.shape[0], 8, *x.shape[-2:])
            d[:, 0] = 3.0 * (b[:, 0] - 1) ** 2  # window 0: direction logit 3 on bin 0; window 1: 0
            return b, d

    pb, pd = predict_probs(Const(), torch.zeros(3, 1, 6), tile=4, stride=2, batch=1)
    s = torch.sigmoid(torch.tensor([0.0, 1.0]))
    assert torch.allclose(pb[0], torch.stack([s[0], s[0], (s[0] + s[1]) / 2, (s[0] + s[1]) / 2, s[1], s[1]]))
    # directions: the probabilities are averaged (not the logits): bin 0 of window 0 has
    # e^3 / (e^3 + 7) = 0.7415, of window 1 1/8; the overlap (columns 2, 3) their mean 0.4333
    p0, p1 = math.exp(3) / (math.exp(3) + 7), 1 / 8
    expect = torch.tensor([p0, p0, (p0 + p1) / 2, (p0 + p1) / 2, p1, p1])
    assert torch.allclose(pd[0, 0], expect, atol=1e-6)
    assert torch.allclose(pd.sum(0), torch.ones(1, 6), atol=1e-6)


def test_maps_and_offsets_array():
    pb = torch.tensor([[0.9, 0.2], [0.6, 0.5]])
    pd = torch.zeros(8, 2, 2)
    pd[4, 0, 0] = pd[6, 1, 0] = pd[1, 0, 1] = 1
    b, d = probs_to_maps(pb, pd)
    assert b.tolist() == [[1, 0], [1, 0]] and d.tolist() == [[4, 255], [6, 255]]
    off = offsets_array(b, d, 8)
    assert off.dtype == np.int16 and off.shape == (2, 2, 2)
    assert off[0, 0].tolist() == bin_offsets(8)[4].tolist() and off[1, 0].tolist() == [1, 0]
    assert off[0, 1].tolist() == [0, 0]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from segfix_train.config import resolve
    from segfix_train.loop import train
    from segfix_train.checkpoint import list_checkpoints

    out = tmp_path_factory.mktemp("run")
    cfg = resolve(shards=["fakeP"], out=str(out), model="hrnet_w18",
                  model_args={"blocks": 1, "modules": [1, 1, 1], "channels": [8, 16, 32, 64]},
                  iters=2, batch=2, crop=32, log_every=1, ckpt_every=2, num_workers=0, val_split=None)
    train(cfg, open_set=fake_open, echo=lambda s: None)
    return list_checkpoints(str(out))[-1][1]


def test_cli_predict_writes_offsets_and_mat(tmp_path, checkpoint):
    from cli.main import main
    from segfix_data.interop import load_openseg_offsets_mat
    from segfix_data.refine.offsets import read_offsets

    imgs = tmp_path / "imgs" / "city"
    imgs.mkdir(parents=True)
    for i, (h, w) in enumerate([(40, 56), (33, 47)]):
        Image.fromarray(scene(i, h, w)[0]).save(imgs / f"f{i}_leftImg8bit.png")
    out = tmp_path / "off"
    r = CliRunner().invoke(main, ["predict", "--checkpoint", checkpoint, "--images", str(tmp_path / "imgs"),
                                  "--out", str(out), "--tile", "32", "--stride", "16", "--mat"])
    assert r.exit_code == 0, r.output
    for i, (h, w) in enumerate([(40, 56), (33, 47)]):
        o = read_offsets(out / f"f{i}_leftImg8bit.npz")
        assert o["boundary"].shape == (h, w) and o["num_directions"] == 8
        assert np.all((o["direction"] == 255) == (o["boundary"] == 0))
        mat = load_openseg_offsets_mat(out / f"f{i}_leftImg8bit.mat")
        assert np.array_equal(mat, offsets_array(o["boundary"], o["direction"], 8))
    r = CliRunner().invoke(main, ["predict", "--checkpoint", checkpoint, "--images", str(tmp_path / "none*.png"),
                                  "--out", str(out)])
    assert r.exit_code != 0 and "no images" in r.output


def test_cli_predict_refuses_a_bomb_in_one_line(tmp_path, checkpoint):
    """A PNG declaring 30000x30000 is refused from its header, one line, exit 2;
    --max-image-pixels reaches predict (a lowered limit refuses a normal image)."""
    from cli.main import main
    from segfix_data.datasets.pixels import set_max_image_pixels
    from tests.support.bombs import write_png_bomb

    bomb = write_png_bomb(tmp_path / "imgs" / "bomb.png")
    try:
        r = CliRunner().invoke(main, ["predict", "--checkpoint", checkpoint, "--images", str(tmp_path / "imgs"),
                                      "--out", str(tmp_path / "off")])
        assert r.exit_code == 2, r.output
        assert f"{bomb}: declares 30000x30000" in r.output and "--max-image-pixels" in r.output
        assert "Traceback" not in r.output and "internal error" not in r.output
        bomb.unlink()
        Image.fromarray(scene(0, 20, 30)[0]).save(tmp_path / "imgs" / "small.png")
        r = CliRunner().invoke(main, ["predict", "--checkpoint", checkpoint, "--images", str(tmp_path / "imgs"),
                                      "--out", str(tmp_path / "off"), "--max-image-pixels", "599"])
        assert r.exit_code == 2 and "30x20 = 600 pixels" in r.output, r.output
    finally:
        set_max_image_pixels(None)
