"""Checkpoints are data: weights_only loading, digests, fallback to the newest intact one."""
import os
import random

import numpy as np
import pytest
import torch

from segfix_train import checkpoint as ckpt


class _Evil:
    """Pickles to a call of os.system: what a crafted checkpoint would run on a pickle load."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def write_crafted(path, marker) -> None:
    """A checkpoint that runs a shell command if unpickled, with a valid digest beside it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save({"model": {}, "config": {}, "evil": _Evil(marker)}, path)
    with open(str(path) + ckpt.DIGEST_SUFFIX, "w") as f:
        f.write(f"{ckpt.file_sha256(path)}  {os.path.basename(path)}\n")


def _payload(step):
    return {"format": ckpt.TRAIN_FORMAT, "step": step, "config": {"model": "m"},
            "model": {"w": torch.full((3,), float(step))}, "rng": [ckpt.rng_state()]}


def test_roundtrip_restores_every_rng_with_weights_only(tmp_path):
    random.seed(3), np.random.seed(4), torch.manual_seed(5)
    path = ckpt.checkpoint_path(str(tmp_path), 7)
    ckpt.save_checkpoint(path, _payload(7))
    want = (random.random(), np.random.rand(), torch.rand(1).item())
    state = ckpt.load_checkpoint(path)
    assert torch.equal(state["model"]["w"], torch.full((3,), 7.0))
    ckpt.set_rng_state(state["rng"][0])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == want
    assert open(path + ".sha256").read().split() == [ckpt.file_sha256(path), "ckpt_00000007.pt"]


def test_crafted_pickle_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = str(tmp_path / "checkpoints" / "ckpt_00000001.pt")
    write_crafted(path, marker)
    with pytest.raises(ckpt.CheckpointError, match="refused: it holds objects other than tensors"):
        ckpt.load_checkpoint(path)
    from segfix_train.predict import load_model

    with pytest.raises(ckpt.CheckpointError):
        load_model(path)
    assert not marker.exists()


def test_damaged_truncated_or_undigested_checkpoints_are_refused(tmp_path):
    path = ckpt.checkpoint_path(str(tmp_path), 1)
    ckpt.save_checkpoint(path, _payload(1))
    data = bytearray(open(path, "rb").read())
    for k in (len(data) // 3, len(data) - 30):   # a tensor byte and a zip record byte
        bad = bytearray(data)
        bad[k] ^= 0x10
        open(path, "wb").write(bad)
        with pytest.raises(ckpt.CheckpointError, match="damaged: its SHA-256"):
            ckpt.load_checkpoint(path)
    open(path, "wb").write(data[: len(data) // 2])
    with pytest.raises(ckpt.CheckpointError, match="damaged"):
        ckpt.load_checkpoint(path)
    open(path, "wb").write(data)
    os.remove(path + ".sha256")
    with pytest.raises(ckpt.CheckpointError, match="no digest file"):
        ckpt.load_checkpoint(path)
    assert ckpt.load_checkpoint(path, verify=False)["step"] == 1
    with pytest.raises(ckpt.CheckpointError, match="not found"):
        ckpt.load_checkpoint(str(tmp_path / "nope.pt"))


def test_load_latest_falls_back_and_says_why(tmp_path):
    run = str(tmp_path)
    for step in (2, 4, 6):
        ckpt.save_checkpoint(ckpt.checkpoint_path(run, step), _payload(step))
    with open(ckpt.checkpoint_path(run, 6), "r+b") as f:   # newest: one flipped bit
        f.seek(100)
        b = f.read(1)
        f.seek(100)
        f.write(bytes([b[0] ^ 1]))
    write_crafted(ckpt.checkpoint_path(run, 5), tmp_path / "pwned")
    path, state, skipped = ckpt.load_latest(run)
    assert path == ckpt.checkpoint_path(run, 4) and state["step"] == 4
    assert [(os.path.basename(p), why.split(": ")[1].split(" ")[0]) for p, why in skipped] == [
        ("ckpt_00000006.pt", "damaged"), ("ckpt_00000005.pt", "refused")]
    assert not (tmp_path / "pwned").exists()
    assert ckpt.load_latest(str(tmp_path / "empty")) == (None, None, [])


def test_keep_prunes_digests_and_remove_stale_clears_leftovers(tmp_path):
    run = str(tmp_path)
    for step in (1, 2, 3):
        ckpt.save_checkpoint(ckpt.checkpoint_path(run, step), _payload(step), keep=2)
    d = tmp_path / "checkpoints"
    assert sorted(p.name for p in d.iterdir()) == ["ckpt_00000002.pt", "ckpt_00000002.pt.sha256",
                                                   "ckpt_00000003.pt", "ckpt_00000003.pt.sha256"]
    (d / ".ckpt_00000004.pt.123.abcdef12.pt").write_bytes(b"half")      # killed torch.save
    (d / "ckpt_00000004.pt.sha256").write_text("0" * 64 + "  ckpt_00000004.pt\n")  # killed before publish
    removed = sorted(os.path.basename(p) for p in ckpt.remove_stale(run))
    assert removed == [".ckpt_00000004.pt.123.abcdef12.pt", "ckpt_00000004.pt.sha256"]
    assert len(list(d.iterdir())) == 4


def test_disk_full_on_save_names_the_file_and_leaves_nothing(tmp_path, monkeypatch):
    import errno

    def full(obj, f, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(torch, "save", full)
    path = ckpt.checkpoint_path(str(tmp_path), 3)
    with pytest.raises(OSError, match="ckpt_00000003.pt: cannot write the checkpoint: disk full"):
        ckpt.save_checkpoint(path, _payload(3))
    assert list((tmp_path / "checkpoints").iterdir()) == []


# --- the layout and its format tag (checkpoint.py owns both) ---------------------------------

TINY = {"blocks": 1, "modules": [1, 1, 1], "channels": [8, 16, 32, 64]}


def _tiny_model():
    from segfix_train.models import create_model

    torch.manual_seed(0)
    return create_model("hrnet_w18", num_directions=8, **TINY)


@pytest.mark.parametrize("fmt,says", [
    ("segfix-train-3", "holds a segfix-train-3 checkpoint, written by a newer segfix"),
    ("segfix-best-2", "holds a segfix-best-2 checkpoint, written by a newer segfix"),
    ("segfix-train-1", "holds a segfix-train-1 checkpoint, written by an older segfix"),
    ("mmseg-weights-1", "not a segfix checkpoint: it holds format 'mmseg-weights-1'"),
    (None, "not a segfix checkpoint: it holds no 'format' entry (keys: config, model)"),
])
def test_foreign_future_or_untagged_checkpoints_are_refused_in_one_line(tmp_path, fmt, says):
    state = {"model": {"w": torch.zeros(2)}, "config": {}, **({"format": fmt} if fmt else {})}
    path = ckpt.checkpoint_path(str(tmp_path), 1)
    ckpt.save_checkpoint(path, state)
    with pytest.raises(ckpt.CheckpointError) as e:
        ckpt.load_checkpoint(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: ") and says in msg and "\n" not in msg, msg
    assert ckpt.load_latest(str(tmp_path)) == (None, None, [(path, msg)])  # --resume skips it, saying why


def test_predict_refuses_a_future_checkpoint_with_exit_2(tmp_path):
    from click.testing import CliRunner

    from cli.main import main

    path = str(tmp_path / "future.pt")
    ckpt.save_checkpoint(path, {**ckpt.make_payload(ckpt.BEST_FORMAT, _tiny_model(), {}, step=1, val={}),
                                "format": "segfix-best-9"})
    (tmp_path / "imgs").mkdir()
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "imgs" / "a.png")
    r = CliRunner().invoke(main, ["predict", "--checkpoint", path, "--images", str(tmp_path / "imgs"),
                                  "--out", str(tmp_path / "o"), "--device", "cpu"])
    assert r.exit_code == 2, r.output
    (line,) = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert f"error: {path}: holds a segfix-best-9 checkpoint, written by a newer segfix" in line
    assert "Traceback" not in r.output and not (tmp_path / "o" / "a.npz").exists()


def test_each_use_reads_its_formats(tmp_path):
    """A best.pt payload is a model for predict, not a training state for --resume."""
    path = ckpt.checkpoint_path(str(tmp_path), 1)
    ckpt.save_checkpoint(path, ckpt.make_payload(ckpt.BEST_FORMAT, _tiny_model(), {}, step=1, val={"x": 1.0}))
    assert ckpt.load_checkpoint(path)["val"] == {"x": 1.0}
    with pytest.raises(ckpt.CheckpointError, match=r"holds the best model of a run \(--keep-best\) "
                                                   r"\(segfix-best-1\), not a training checkpoint"):
        ckpt.load_checkpoint(path, accept=(ckpt.TRAIN_FORMAT,))
    assert ckpt.load_latest(str(tmp_path))[1] is None


def test_make_payload_is_the_one_layout_of_each_format():
    model = _tiny_model()
    p = ckpt.make_payload(ckpt.BEST_FORMAT, model, {"model": "hrnet_w18"}, step=3, val={"delta_miou": 0.1})
    assert set(p) == {"format", "model", "model_spec", "num_directions", "config", "step", "val"}
    assert p["format"] == "segfix-best-1" and p["num_directions"] == 8 and p["model_spec"] == model.spec
    with torch.no_grad():
        next(model.parameters()).add_(1.0)  # the payload holds a copy, not the live weights
    assert not torch.equal(p["model"][next(iter(model.state_dict()))], next(model.parameters()).cpu())
    with pytest.raises(ValueError, match=r"needs the entries \['data', 'grad_scaler', 'log_window'"):
        ckpt.make_payload(ckpt.TRAIN_FORMAT, model, {}, step=1)
    with pytest.raises(ValueError, match="unknown checkpoint format"):
        ckpt.make_payload("segfix-best-2", model, {}, step=1, val={})
    assert set(ckpt.FORMAT_ENTRIES) == {ckpt.TRAIN_FORMAT, ckpt.BEST_FORMAT, ckpt.CONVERTED_FORMAT}
