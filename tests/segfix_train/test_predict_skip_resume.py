"""segfix predict on a folder a new user has: one unreadable image (--on-error skip, exit 3, a
summary), an interrupted run (a rerun keeps complete outputs, --overwrite redoes them), and an
implausible boundary fraction (a warning, not a silent 1.0000)."""
import os

import numpy as np
from click.testing import CliRunner
from PIL import Image

from cli.main import main
from segfix_data.refine.offsets import write_offsets
from tests.segfix_train.test_predict import checkpoint  # noqa: F401 (module-scoped fixture)
from tests.support.fakes import scene, one_torch_thread  # noqa: F401


def _images(tmp_path):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for i in range(2):
        Image.fromarray(scene(i, 32, 48)[0]).save(imgs / f"f{i}.png")
    (imgs / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return imgs


def _predict(checkpoint, imgs, out, *extra):
    return CliRunner().invoke(main, ["predict", "--checkpoint", checkpoint, "--images", str(imgs),
                                     "--out", str(out), "--device", "cpu", *extra])


def test_unreadable_image_stops_by_default_and_is_skipped_on_request(tmp_path, checkpoint):
    imgs, out = _images(tmp_path), tmp_path / "off"
    r = _predict(checkpoint, imgs, out)
    assert r.exit_code == 2 and "broken.png" in r.output and "--on-error skip" in r.output, r.output
    r = _predict(checkpoint, imgs, out, "--on-error", "skip")
    assert r.exit_code == 3, r.output
    assert "skipped: " in r.output and "broken.png" in r.output and "skipped 1 unreadable image" in r.output
    assert sorted(p.name for p in out.iterdir()) == ["f0.npz", "f1.npz", "predict.json"]


def test_rerun_resumes_and_overwrite_redoes(tmp_path, checkpoint):
    imgs, out = _images(tmp_path), tmp_path / "off"
    (imgs / "broken.png").unlink()
    assert _predict(checkpoint, imgs, out).exit_code == 0  # records its settings in predict.json
    sentinel = np.zeros((32, 48), np.uint8)
    write_offsets(out / "f0.npz", sentinel, np.full_like(sentinel, 255), 8)  # a complete earlier output
    (out / "f1.npz").write_bytes(b"half-written")                            # a damaged one
    before = os.path.getmtime(out / "f0.npz")
    r = _predict(checkpoint, imgs, out)
    assert r.exit_code == 0, r.output
    assert "wrote 1 offsets file" in r.output and "kept 1 complete from an earlier run" in r.output
    assert os.path.getmtime(out / "f0.npz") == before
    r = _predict(checkpoint, imgs, out, "--overwrite")
    assert r.exit_code == 0 and "wrote 2 offsets files" in r.output and "kept" not in r.output, r.output


def test_implausible_boundary_fraction_warns(tmp_path, checkpoint):
    """Over half of the pixels boundary, or none (an empty prediction refines nothing): a warning."""
    imgs, out = _images(tmp_path), tmp_path / "off"
    (imgs / "broken.png").unlink()
    r = _predict(checkpoint, imgs, out, "--threshold", "0")  # every probability > 0: all boundary
    assert r.exit_code == 0, r.output
    assert "mean boundary fraction 1.0000" in r.output and "warning: 100% of the pixels" in r.output
    # the fixture's barely trained model: probabilities within a few thousandths of 0.5
    r = _predict(checkpoint, imgs, tmp_path / "off2", "--threshold", "0.503")  # about a third boundary
    assert r.exit_code == 0 and "warning" not in r.output, r.output
    r = _predict(checkpoint, imgs, tmp_path / "off3", "--threshold", "0.99")
    assert r.exit_code == 0 and "mean boundary fraction 0.0000" in r.output, r.output
    assert "warning: no pixel is a boundary pixel" in r.output
