"""Validation passes (``segfix_train.valpass``): the same figures as scoring one frame at a time on
the host, with frames of several sizes batched, read and scored in worker processes; the fixed
subset, the final pass, the coarse scores computed once, no autotuning per frame size."""
import pytest
import torch
from hypothesis import given, settings, strategies as st

from segfix_train import valpass
from segfix_train.data import normalise
from segfix_train.models import create_model
from segfix_train.precision import Precision
from segfix_train.validate import RefinementScore, count, num_classes_of, summarise
from segfix_train.valpass import ValSet, Validator, shape_batches, subset_indices
from tests.support.fakes import FakeShardSet, one_torch_thread  # noqa: F401

TINY = {"blocks": 1, "modules": [1, 1, 1], "channels": [8, 16, 32, 64]}
#: frames of several sizes, odd ones among them; (40, 48) three times, so that it fills a batch
SHAPES = [(40, 48), (33, 47), (40, 48), (21, 30), (40, 48), (33, 47)]


def odd_sizes_set() -> FakeShardSet:
    """A FakeShardSet whose frames have the sizes of ``SHAPES``."""
    parts = [FakeShardSet(n=1, h=h, w=w, seed=10 + k) for k, (h, w) in enumerate(SHAPES)]
    ds = parts[0]
    for p in parts[1:]:
        ds.frames += p.frames
        ds.samples += p.samples
    return ds


def reference(model, ds, indices, num_classes) -> dict:
    """The figures of the frames ``indices`` scored one at a time on the host: the image
    normalised with numpy, the model's fp32 logits, ``count`` and ``RefinementScore.update``."""
    c = torch.zeros(8, dtype=torch.float64)
    ref = RefinementScore(num_classes)
    with torch.no_grad():
        for i in indices:
            r = ds.read(i, fields=("image", "semantic/boundary", "semantic/direction", "label"))
            bl, dl = model(torch.from_numpy(normalise(r["image"]))[None])
            c += count(bl, dl, torch.from_numpy(r["semantic/boundary"])[None],
                       torch.from_numpy(r["semantic/direction"])[None])
            ref.update(r["label"], bl, dl)
    return {**summarise(c), **ref.result(), "images": len(indices)}


def _model():
    torch.manual_seed(0)
    return create_model("hrnet_w18", num_directions=8, **TINY).eval()


def _validator(ds, subset, final, **kw):
    vs = ValSet("odd:val", ds, num_classes_of(ds), subset, final)
    return Validator([vs], target="semantic", device=torch.device("cpu"), precision=Precision("cpu"),
                     channels_last=False, **kw)


def _close(a: dict, b: dict):
    assert set(a) == set(b)
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-9, abs=1e-12), k


def test_subset_indices_spread_over_the_split():
    assert subset_indices(10, 4) == [0, 2, 5, 7]
    assert subset_indices(3, 2) == [0, 1] and subset_indices(3, 3) == [0, 1, 2]
    assert subset_indices(5, None) == list(range(5)) and subset_indices(5, 50) == list(range(5))
    for n in range(1, 40):
        for k in range(1, n + 1):
            got = subset_indices(n, k)
            assert len(set(got)) == k and got == sorted(got) and got[0] == 0 and got[-1] >= n - n // k - 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([(4, 5), (5, 4), (7, 7)]), min_size=1, max_size=20), st.integers(1, 5),
       st.data())
def test_shape_batches_hold_one_size_each_and_every_frame_once(shapes, batch, data):
    idx = data.draw(st.lists(st.integers(0, len(shapes) - 1), unique=True))
    got = shape_batches(shapes, idx, batch)
    assert sorted(i for b in got for i in b) == sorted(idx)
    assert all(0 < len(b) <= batch and len({shapes[i] for i in b}) == 1 for b in got)
    for s in {shapes[i] for i in idx}:  # within a size, the given order; full batches but the last
        same = [b for b in got if shapes[b[0]] == s]
        assert [i for b in same for i in b] == [i for i in idx if shapes[i] == s]
        assert all(len(b) == batch for b in same[:-1])


@pytest.mark.parametrize("workers", [0, 2])
def test_a_batched_pass_gives_the_figures_of_one_frame_at_a_time(workers):
    """Frames of four sizes in batches of 3, read (and scored) in 0 or 2 worker processes."""
    ds, model = odd_sizes_set(), _model()
    k = num_classes_of(ds)
    v = _validator(ds, [0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5], batch=3, workers=workers)
    try:
        got = v.run(model)
    finally:
        v.close()
    _close(got["sets"]["odd:val"], reference(model, ds, range(6), k))
    assert not model.training or pytest.fail("the pass leaves the model's mode as it found it")


def test_final_pass_scores_the_final_frames_and_the_subset_among_them(monkeypatch):
    """subset [0, 3], final [0, 1, 2]: frame 3 is forwarded for the subset figure only; the coarse
    maps are scored once for the subset (the second subset pass reuses them)."""
    ds, model = odd_sizes_set(), _model()
    k = num_classes_of(ds)
    calls = []
    real = valpass.score_frame

    def spy(*args):
        calls.append(args[-1])  # with_coarse
        return real(*args)
    monkeypatch.setattr(valpass, "score_frame", spy)
    v = _validator(ds, [0, 3], [0, 1, 2], batch=2, workers=0)
    first, second = v.run(model), v.run(model)
    assert calls == [True, True, False, False]  # coarse scored in the first subset pass only
    assert first["sets"] == second["sets"]
    _close(first["sets"]["odd:val"], reference(model, ds, [0, 3], k))
    calls.clear()
    fin = v.run(model, final=True)
    assert sorted(calls) == [True] * 4  # frames 0, 1, 2 and 3, each once
    _close(fin["sets"]["odd:val"], reference(model, ds, [0, 1, 2], k))
    _close(fin["subset"]["odd:val"], reference(model, ds, [0, 3], k))


def test_no_autotuning_during_the_pass_and_the_setting_restored(monkeypatch):
    ds, model = odd_sizes_set(), _model()
    flags = []
    model.backbone.register_forward_pre_hook(lambda mod, args: flags.append(torch.backends.cudnn.benchmark))
    before = torch.backends.cudnn.benchmark
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", True)
    v = _validator(ds, [0, 1, 3], [0, 1, 3], batch=2, workers=0)
    v.run(model)
    assert flags and not any(flags) and torch.backends.cudnn.benchmark is True
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", before)


def test_frames_waiting_for_the_scorer_are_bounded():
    """A scorer slower than the device: the pass waits for the oldest frame once the backlog
    (4 per worker, at least a batch) is full, rather than holding every frame's maps in memory;
    the figures are those of a prompt scorer."""
    ds, model = odd_sizes_set(), _model()

    class Lazy:
        def __init__(self, owner, args):
            self.owner, self.args, self.value = owner, args, None

        def done(self):
            return False  # never ready before it is asked for

        def result(self):
            if self.value is None:
                self.value = valpass.score_frame(*self.args)
                self.owner.waiting -= 1
            return self.value

    class SlowScorer:
        waiting = most = 0

        def submit(self, *args):
            self.waiting += 1
            self.most = max(self.most, self.waiting)
            return Lazy(self, args)

        def close(self):
            pass

    v = _validator(ds, list(range(6)), list(range(6)), batch=1, workers=0)
    v.scorer = SlowScorer()
    got = v.run(model)
    assert v.scorer.most <= 2  # backlog 1 (a batch) + the batch just submitted
    prompt = _validator(ds, list(range(6)), list(range(6)), batch=1, workers=0).run(model)
    assert got["sets"] == prompt["sets"]
