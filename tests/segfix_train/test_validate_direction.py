"""``dir_acc_pred``: direction accuracy on the predicted boundary pixels, those off the
ground-truth boundary included (validation reads the direction band's targets, as training does)."""
import numpy as np
import torch

from segfix_train.validate import COUNTS, count, summarise
from segfix_train.valpass import FrameBatches
from tests.support.fakes import FakeShardSet


def _direction_logits(bins: np.ndarray, m: int = 8) -> torch.Tensor:
    d = torch.from_numpy(np.where(bins == 255, 0, bins).astype(np.int64))
    return 3.0 * torch.nn.functional.one_hot(d, m).permute(2, 0, 1)[None].float()


def test_dir_acc_pred_counts_predicted_pixels_off_the_ground_truth_boundary():
    ds = FakeShardSet(n=1, h=40, w=48, seed=5)
    frame = ds.frames[0]
    band, boundary = frame["semantic/direction_band"], frame["semantic/boundary"]
    off = (boundary == 0) & (band != 255)  # within the direction band, not ground-truth boundary
    assert off.sum() > 50
    item = FrameBatches(ds, [[0]])[0]  # what the validation pass reads: boundary and the band's directions
    bt, dt = item["boundary"], item["direction"]
    bl = torch.where(torch.from_numpy(off), 4.0, -4.0)[None, None]
    c = count(bl, _direction_logits(band), bt, dt)
    right = summarise(c)
    assert c[COUNTS.index("dir_n_pred")] == off.sum() and c[COUNTS.index("tp")] == 0
    assert right["dir_acc_pred"] == 1.0 and right["dir_pred_scored"] == 1.0
    wrong = summarise(count(bl, _direction_logits(np.where(band == 255, 255, (band + 4) % 8)), bt, dt))
    assert wrong["dir_acc_pred"] == 0.0


def test_summarise_direction_figures_by_hand():
    # tp 6, fp 4: 10 predicted boundary pixels, 8 of them with a target, 6 of those right;
    # 9 ground-truth boundary pixels with a target, 3 right
    c = torch.tensor([6, 4, 3, 6, 8, 3, 9, 100], dtype=torch.float64)
    m = summarise(c)
    assert m["dir_acc_pred"] == 6 / 8 and m["dir_pred_scored"] == 8 / 10 and m["dir_acc_gt"] == 3 / 9
