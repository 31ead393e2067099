"""Checkpoint messages: a full disk or the file-size limit during a save is one
line naming the file and --resume (torch's zip writer says only 'file write failed', as a
RuntimeError); no message quotes torch's advice to load with weights_only=False."""
from __future__ import annotations

import errno

import pytest
import torch
from click.testing import CliRunner

from segfix_train import checkpoint as ckpt
from segfix_train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint, torch_load_reason
from tests.support.fakes import fake_open, one_torch_thread  # noqa: F401

TORCH_WRITE_FAILED = ("[enforce fail at inline_container.cc:626] . unexpected pos 64 vs 0: "
                      "PytorchStreamWriter failed writing file data/0: file write failed")


@pytest.mark.parametrize("exc, says", [
    (RuntimeError(TORCH_WRITE_FAILED), "the write failed"),
    (OSError(errno.ENOSPC, "No space left on device"), "disk full"),
    (OSError(errno.EFBIG, "File too large"), "file-size limit (ulimit -f)"),
])
def test_save_failure_is_one_line_naming_the_file(tmp_path, monkeypatch, exc, says):
    def fail(obj, f, *a, **k):
        raise exc
    monkeypatch.setattr(torch, "save", fail)
    path = str(tmp_path / "checkpoints" / "ckpt_00000002.pt")
    with pytest.raises(OSError) as info:
        save_checkpoint(path, {"model": {}})
    msg = str(info.value)
    assert msg.startswith(f"{path}: cannot write the checkpoint: ") and says in msg and "--resume" in msg
    assert "\n" not in msg
    assert list((tmp_path / "checkpoints").iterdir()) == []  # nothing half-written


def test_train_cli_disk_full_during_save_exits_1_in_one_line(tmp_path, monkeypatch):
    from cli.main import main
    from segfix_train import loop

    real = loop.train
    monkeypatch.setattr(loop, "train", lambda cfg, **kw: real(cfg, open_set=fake_open, **kw))
    monkeypatch.setattr(ckpt.torch, "save", lambda *a, **k: (_ for _ in ()).throw(RuntimeError(TORCH_WRITE_FAILED)))
    (tmp_path / "tiny.toml").write_text('model_args = {blocks = 1, modules = [1, 1, 1], channels = [8, 16, 32, 64]}\n')
    r = CliRunner().invoke(main, ["train", "--shards", "fakeP", "--out", str(tmp_path / "run"), "--iters", "2",
                                  "--batch", "2", "--crop", "32", "--ckpt-every", "2", "--workers", "0",
                                  "--val-split", "none", "--config", str(tmp_path / "tiny.toml")])
    assert r.exit_code == 1, r.output
    assert "ckpt_00000002.pt: cannot write the checkpoint" in r.output and "--resume" in r.output
    assert "Traceback" not in r.output and "internal error" not in r.output


class _Evil:
    pass


def test_refused_pickle_message_never_quotes_torchs_weights_only_advice(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "config": {}, "e": _Evil()}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(str(path), verify=False)
    msg = str(info.value)
    assert "weights_only" not in msg and "can still be loaded" not in msg and "\x1b" not in msg
    assert "Unsupported global" in msg and "_Evil" in msg
    try:
        torch.load(path, weights_only=True)
    except Exception as e:  # the raw text does carry the advice: the filter is what removes it
        assert "weights_only" in str(e) and "weights_only" not in torch_load_reason(e)
