"""Validation that measures refinement: the 8x8 block-majority coarse labels, their refinement
with the model's own offsets, the deltas in val.jsonl and ``--keep-best``."""
import json

import numpy as np
import pytest
import torch

from segfix_data.metrics import SegmentationScore
from segfix_data.targets.direction import bin_offsets
from segfix_train.coarse import block_majority
from segfix_train.validate import RefinementScore, num_classes_of, refine_with_logits
from tests.support.fakes import FakeShardSet, fake_open, one_torch_thread  # noqa: F401

TINY = {"blocks": 1, "modules": [1, 1, 1], "channels": [8, 16, 32, 64]}


def _logits(h, w, pixels, bin_, m=8):
    """Boundary logits +4 on ``pixels`` (-4 elsewhere); direction logits peaking at ``bin_``."""
    bl = torch.full((1, 1, h, w), -4.0)
    for y, x in pixels:
        bl[0, 0, y, x] = 4.0
    dl = torch.zeros(1, m, h, w)
    dl[0, bin_] = 3.0
    return bl, dl


def test_refinement_shifts_predicted_boundary_pixels_by_twice_the_offset():
    lab = np.arange(64, dtype=np.uint8).reshape(8, 8)
    bl, dl = _logits(8, 8, [(3, 3), (0, 7)], bin_=4)  # bin 4 of 8: (dy, dx) = (0, 1)
    assert tuple(bin_offsets(8)[4]) == (0, 1)
    got = refine_with_logits(lab, bl, dl)
    want = lab.copy()
    want[3, 3] = lab[3, 5]
    want[0, 7] = lab[0, 7]  # clamped at the image edge
    np.testing.assert_array_equal(got, want)


def _frames():
    ds = FakeShardSet(n=3, h=40, w=48, seed=5)
    return [ds.frames[i]["label"] for i in range(3)]


def test_deltas_are_refined_minus_coarse_scores_of_segmentation_score():
    labels = _frames()
    g = torch.Generator().manual_seed(0)
    logits = [(torch.randn(1, 1, 40, 48, generator=g), torch.randn(1, 8, 40, 48, generator=g)) for _ in labels]
    score = RefinementScore(5)
    coarse, refined = SegmentationScore(5, thresholds=(1, 3)), SegmentationScore(5, thresholds=(1, 3))
    for lab, (bl, dl) in zip(labels, logits):
        score.update(lab, bl, dl)
        c = block_majority(lab)
        coarse.update(c, lab)
        refined.update(refine_with_logits(c, bl, dl), lab)
    got, c, r = score.result(), coarse.result(), refined.result()
    assert got["delta_miou"] == pytest.approx(r["miou"] - c["miou"])
    assert got["delta_f_1px"] == pytest.approx(r["boundary_f"]["1"] - c["boundary_f"]["1"])
    assert got["delta_f_3px"] == pytest.approx(r["boundary_f"]["3"] - c["boundary_f"]["3"])
    assert got["delta_miou"] != 0.0  # the random offsets change something
    # DDP: the summed states of two "ranks" give the scores of one process over all frames
    a, b = RefinementScore(5), RefinementScore(5)
    for k, (lab, (bl, dl)) in enumerate(zip(labels, logits)):
        (a if k % 2 else b).update(lab, bl, dl)
    assert RefinementScore(5).load(a.state() + b.state()).result() == got


def test_no_predicted_boundary_gains_nothing_and_gt_like_offsets_gain():
    lab = np.zeros((32, 32), np.uint8)
    lab[:, 13:] = 1  # an edge at x = 13: the coarse map puts it at 16 (tile 8..15: five 0s, three 1s)
    none = RefinementScore(2)
    none.update(lab, *_logits(32, 32, [], 0))
    assert none.result()["delta_miou"] == 0.0 and none.result()["delta_f_1px"] == 0.0
    good = RefinementScore(2)  # x = 14, 15 take the label 2 px to their right, (0, 1) = bin 4: 1
    good.update(lab, *_logits(32, 32, [(y, x) for y in range(32) for x in (14, 15)], 4))
    r = good.result()
    assert r["delta_miou"] > 0 and r["delta_f_1px"] > 0


def test_num_classes_from_names_class_pixels_or_labels():
    ds = FakeShardSet(n=2, h=16, w=16)
    assert num_classes_of(ds) == max(int(f["label"][f["label"] < 255].max()) for f in ds.frames) + 1
    ds.samples[0]["class_pixels"] = {"0": 3, "11": 4}
    assert num_classes_of(ds) == 12
    ds.params["class_names"] = ["a", "b", "c"]
    assert num_classes_of(ds) == 3


def test_val_jsonl_has_the_deltas_and_keep_best_keeps_the_best_gain(tmp_path):
    from segfix_train.checkpoint import load_checkpoint
    from segfix_train.config import resolve
    from segfix_train.loop import train
    from segfix_train.predict import load_model

    cfg = resolve(shards=["fakeA"], out=str(tmp_path), model="hrnet_w18", model_args=TINY, iters=6, batch=2,
                  crop=32, lr=0.05, log_every=3, ckpt_every=3, num_workers=0, seed=0, keep_best=True,
                  val_max_images=2)
    lines = []
    train(cfg, open_set=fake_open, echo=lines.append)
    rows = [json.loads(ln) for ln in (tmp_path / "val.jsonl").read_text().splitlines()]
    assert [r["iter"] for r in rows] == [3, 6]
    for r in rows:
        assert r["delta_miou"] == pytest.approx(r["refined_miou"] - r["coarse_miou"])
        assert {"delta_f_1px", "delta_f_3px", "coarse_f_1px", "refined_f_3px"} <= set(r)
    # the 2-frame subset at step 3; after the last step all 3 frames, and the subset again among them
    assert [r["pass"] for r in rows] == ["subset", "final"]
    assert rows[0]["sets"]["fakeA:val"]["images"] == 2 and rows[1]["sets"]["fakeA:val"]["images"] == 3
    assert rows[0]["sets"]["fakeA:val"]["coarse_miou"] == rows[1]["subset"]["fakeA:val"]["coarse_miou"]  # fixed
    for r in rows:  # --keep-best ranks by the subset's gain
        assert r["best_value"] == r.get("subset", r["sets"])["fakeA:val"]["delta_miou"]
    best = max(rows, key=lambda r: r["best_value"])
    if rows[1]["best_value"] == rows[0]["best_value"]:
        best = rows[0]  # a tie keeps the first
    rec = json.loads((tmp_path / "best.json").read_text())
    assert rec["step"] == best["iter"] and rec["value"] == pytest.approx(best["best_value"])
    state = load_checkpoint(str(tmp_path / "best.pt"))  # digest checked
    assert state["step"] == best["iter"] and state["val"]["delta_miou"] == pytest.approx(best["best_value"])
    load_model(str(tmp_path / "best.pt"))
    assert any(ln.startswith("kept ") for ln in lines)
    # a fresh run in the same directory starts its own record
    train(resolve(**{**cfg.to_dict(), "iters": 3, "keep_best": False, "overwrite": True}), open_set=fake_open,
          echo=lambda s: None)
    assert not (tmp_path / "best.pt").exists() and not (tmp_path / "best.json").exists()


def test_save_best_keeps_only_improvements_and_ignores_records_of_later_steps(tmp_path):
    from segfix_train.checkpoint import BEST_FORMAT, load_checkpoint, save_best

    saved = [save_best(str(tmp_path), step, "delta_miou", v,
                       lambda v=v: {"format": BEST_FORMAT, "model": {}, "config": {}, "v": torch.tensor(v)})
             for step, v in ((1, 0.1), (2, 0.05), (3, 0.2), (4, 0.2))]
    assert saved == [True, False, True, False]
    assert json.loads((tmp_path / "best.json").read_text())["step"] == 3
    assert load_checkpoint(str(tmp_path / "best.pt"))["v"].item() == pytest.approx(0.2)
    # resumed at step 2: the record of step 3 belongs to a discarded future
    assert save_best(str(tmp_path), 3, "delta_miou", 0.01, lambda: {"format": BEST_FORMAT, "model": {}, "config": {}})
