"""What a new user reads from `segfix train`: a crop larger than the images is said once (not a
banner claiming 96x96 crops of 64x64 images), and a --resume refusal names only the settings (and
the keys of a dictionary setting) that differ."""
import dataclasses

from segfix_train.data import padding_note
from segfix_train.loop import resume_differences, train
from tests.segfix_train.test_loop import TINY, _cfg
from tests.support.fakes import FakeShardSet, fake_open, one_torch_thread  # noqa: F401


def test_banner_says_when_crops_are_padded(tmp_path):
    lines = []
    train(_cfg(tmp_path, iters=1, ckpt_every=1, crop=96, val_split=None), open_set=fake_open,
          echo=lines.append)
    notes = [ln for ln in lines if "padded" in ln]
    assert notes == ["note: 8 of 8 images are smaller than the 96x96 crop (smallest 64x64): their crops "
                     "are padded with ignore; pass --crop 64 or less to train on image pixels only"]


def test_padding_note_counts_only_small_images():
    sets = [FakeShardSet(n=2, h=64, w=80), FakeShardSet(n=1, h=32, w=200)]
    assert padding_note(sets, 64) == ("note: 1 of 3 images are smaller than the 64x64 crop (smallest "
                                      "32x200): their crops are padded with ignore; pass --crop 32 or "
                                      "less to train on image pixels only")
    assert padding_note(sets, 32) is None


def test_resume_refusal_shows_only_the_differing_keys_of_a_dictionary():
    old = _cfg("run", model_args=TINY)
    new = _cfg("run", model_args=dict(TINY, channels=[8, 16, 32, 96]))
    diff = resume_differences(dataclasses.asdict(old), new)  # the checkpoint stores the config as a dict
    assert diff == ["model_args.channels: [8, 16, 32, 64] -> [8, 16, 32, 96] (run: flag; now: flag)"]
