"""`segfix-gt inspect` and `segfix-gt export` on a tiny dataset built with `segfix-gt build`."""

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cli.gt import main
from tests.support.code_edges import assert_openseg_codes_equal
from tests.support.paths import parity_dir
from segfix_data import instance_targets, semantic_targets
from segfix_data.interop import load_openseg_targets_mat
from segfix_data.datasets.labels import cityscapes_instance_ids_to_openseg_segments, cityscapes_label_ids_to_train_ids
from segfix_data.synthetic import write_example_dataset


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("insp")
    data = root / "data"
    frames = write_example_dataset(data, splits={"val": 2}, height=64, width=128, seed=11)
    for preset, variant in (("openseg", "both"), ("paper", "semantic")):
        res = _invoke("build", data, root / preset, "--split", "val", "--preset", preset, "--variant", variant, "-q")
        assert res.exit_code == 0, res.output
    return root, frames


def test_inspect_writes_a_panel_and_prints_stats(built, tmp_path):
    root, frames = built
    out = tmp_path / "p.png"
    res = _invoke("inspect", root / "paper", "--out", out)
    assert res.exit_code == 0, res.output
    panel = np.asarray(Image.open(out))
    assert panel.ndim == 3 and panel.shape[2] == 3 and panel.shape[1] > 3 * 640
    assert "frankfurt_000000_000019_leftImg8bit" in res.output
    lines = res.output.splitlines()
    header = next(line for line in lines if line.startswith("class"))
    assert header.split()[-5:] == ["w<=1", "w<=2", "w<=3", "w<=4", "w<=5"]
    road = next(line for line in lines if line.startswith("road"))
    # the printed share equals a direct count on the source label map
    label = cityscapes_label_ids_to_train_ids(np.asarray(Image.open(frames[0]["label_ids"])))
    from segfix_data.targets.edt import multilabel_distance

    d = multilabel_distance(label)
    share = [(d[label == 0] <= w).mean() * 100 for w in (1, 2, 3, 4, 5)]
    assert [float(x.rstrip("%")) for x in road.split()[-5:]] == pytest.approx(share, abs=0.051)


def test_inspect_sample_variant_and_split_stats(built, tmp_path):
    root, _ = built
    stem = "lindau_000000_000019_leftImg8bit"
    out = tmp_path / "q.png"
    res = _invoke("inspect", root / "openseg", "--split", "val", "--sample", stem, "--variant", "instance",
                  "--stats", "split", "--out", out, "--tile-width", "200")
    assert res.exit_code == 0, res.output
    assert stem in res.output and "instance targets" in res.output and "2 samples" in res.output
    assert np.asarray(Image.open(out)).shape[1] >= 600
    bad = CliRunner().invoke(main, ["inspect", str(root / "openseg"), "--sample", "nope"])
    assert bad.exit_code != 0 and "nope" in bad.output
    bad = CliRunner().invoke(main, ["inspect", str(root / "paper"), "--variant", "instance"])
    assert bad.exit_code != 0 and "not built" in bad.output
    bad = CliRunner().invoke(main, ["inspect", str(root / "paper"), "--split", "train"])
    assert bad.exit_code != 0 and "val" in bad.output


def test_export_openseg_mat_equals_the_targets(built, tmp_path):
    root, frames = built
    dest = tmp_path / "mat"
    for variant in ("semantic", "instance"):
        res = _invoke("export", root / "openseg", dest, "--format", "openseg-mat", "--variant", variant)
        assert res.exit_code == 0, res.output
    for fr in frames:
        stem = fr["image"].name[: -len(".png")]
        label_ids = np.asarray(Image.open(fr["label_ids"]))
        sem = semantic_targets(cityscapes_label_ids_to_train_ids(label_ids), preset="openseg").to_openseg()
        got = load_openseg_targets_mat(dest / "val" / "semantic" / f"{stem}.mat")
        np.testing.assert_array_equal(got["depth"], sem["depth"])
        np.testing.assert_array_equal(got["dir_deg"], sem["dir_deg"])
        assert got["deg_reduce"] == 2
        seg = cityscapes_instance_ids_to_openseg_segments(np.asarray(Image.open(fr["instance_ids"])).astype(np.int32))
        ins = instance_targets(seg, ignore_index=255, preset="openseg").to_openseg()
        got = load_openseg_targets_mat(dest / "val" / "instance" / f"{stem}.mat")
        np.testing.assert_array_equal(got["depth"], ins["depth"])
        np.testing.assert_array_equal(got["dir_deg"], ins["dir_deg"])
    assert sorted(p.name for p in (dest / "val" / "semantic").iterdir()) == [
        "frankfurt_000000_000019_leftImg8bit.mat", "lindau_000000_000019_leftImg8bit.mat"]


def test_export_refuses_paper_shards_and_missing_splits(built, tmp_path):
    root, _ = built
    dest = tmp_path / "mat"
    res = CliRunner().invoke(main, ["export", str(root / "paper"), str(dest), "--format", "openseg-mat"])
    assert res.exit_code == 2 and "--preset openseg" in res.output  # a user error (cli/_errors.py)
    assert not dest.exists(), "nothing written when refusing"
    res = CliRunner().invoke(main, ["export", str(root / "openseg"), str(dest), "--format", "openseg-mat",
                                    "--split", "train"])
    assert res.exit_code == 2 and "train" in res.output and "val" in res.output
    res = CliRunner().invoke(main, ["export", str(root / "openseg"), str(dest)])  # --format: its one choice
    assert res.exit_code == 0 and "exported 2 openseg-mat files (semantic)" in res.output, res.output
    assert len(list((dest / "val" / "semantic").glob("*.mat"))) == 2


def test_export_reproduces_the_authors_files_on_the_parity_fixtures(tmp_path):
    """End to end: PNGs -> build --preset openseg -> export == the authors' generator's output, as run
    on either kind of processor (exact but for ``dir_deg``'s code-edge pixels, tests/support/code_edges.py)."""
    import shutil

    fixtures = parity_dir()

    data = tmp_path / "cs"
    stems = {}
    for k, name in enumerate(("cityscapes_a", "cityscapes_b")):
        base = f"frankfurt_000000_{k:06d}"
        gt = data / "gtFine" / "val" / "frankfurt"
        img = data / "leftImg8bit" / "val" / "frankfurt"
        gt.mkdir(parents=True, exist_ok=True)
        img.mkdir(parents=True, exist_ok=True)
        shutil.copy(fixtures / f"{name}_labelIds.png", gt / f"{base}_gtFine_labelIds.png")
        shutil.copy(fixtures / f"{name}_instanceIds.png", gt / f"{base}_gtFine_instanceIds.png")
        w, h = Image.open(fixtures / f"{name}_labelIds.png").size
        Image.new("RGB", (w, h), (90, 90, 90)).save(img / f"{base}_leftImg8bit.png")
        stems[name] = f"{base}_leftImg8bit"
    out, dest = tmp_path / "shards", tmp_path / "mat"
    res = _invoke("build", data, out, "--split", "val", "--preset", "openseg", "--variant", "both", "-q")
    assert res.exit_code == 0, res.output
    for variant in ("semantic", "instance"):
        res = _invoke("export", out, dest, "--format", "openseg-mat", "--variant", variant)
        assert res.exit_code == 0, res.output
    for name, stem in stems.items():
        sem = load_openseg_targets_mat(dest / "val" / "semantic" / f"{stem}.mat")
        ins = load_openseg_targets_mat(dest / "val" / "instance" / f"{stem}.mat")
        train_ids = cityscapes_label_ids_to_train_ids(np.array(Image.open(fixtures / f"{name}_labelIds.png")))
        segments = cityscapes_instance_ids_to_openseg_segments(np.array(Image.open(fixtures / f"{name}_instanceIds.png")))
        sem_gradient = semantic_targets(train_ids, preset="openseg").gradient
        ins_gradient = instance_targets(segments, ignore_index=255, preset="openseg").gradient
        for run in ("openseg", "openseg_x86v3"):
            ref = np.load(fixtures / f"{name}_{run}.npz")
            assert_openseg_codes_equal(sem["depth"], sem["dir_deg"], ref["depth"], ref["dir_deg"], sem_gradient,
                                       valid=train_ids != 255)
            assert_openseg_codes_equal(ins["depth"], ins["dir_deg"], ref["inst_depth"], ref["inst_dir_deg"],
                                       ins_gradient, valid=segments != 255)


def test_export_sweeps_what_a_killed_export_left(built, tmp_path):
    """A killed export leaves a hidden (maybe 0-byte) temporary .mat; the next export removes it, and
    keeps the temporary file of an export still running into the same folder."""
    import os
    import subprocess
    import sys

    root, _ = built
    folder = tmp_path / "mat" / "val" / "semantic"
    folder.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = folder / f".lindau_000000_000019_leftImg8bit.mat.{dead.pid}.0badf00d.mat"
    running = folder / f".other.mat.{os.getppid()}.0badf00d.mat"
    left.write_bytes(b"")
    running.write_bytes(b"")
    res = _invoke("export", root / "openseg", tmp_path / "mat", "--format", "openseg-mat")
    assert res.exit_code == 0, res.output
    assert not left.exists() and running.exists()


def test_inspect_sample_by_frame_key_and_closest_names(built, tmp_path):
    """--sample takes the frame key everywhere it takes the stem; an unknown name lists the closest."""
    root, _ = built
    by_key = _invoke("inspect", root / "paper", "--sample", "lindau_000000_000019", "--out", tmp_path / "k.png")
    assert by_key.exit_code == 0, by_key.output
    assert "panel of val/lindau_000000_000019_leftImg8bit" in by_key.output
    by_stem = _invoke("inspect", root / "paper", "--sample", "lindau_000000_000019_leftImg8bit",
                      "--out", tmp_path / "s.png")
    assert by_stem.exit_code == 0 and (tmp_path / "k.png").read_bytes() == (tmp_path / "s.png").read_bytes()
    wrong = _invoke("inspect", root / "paper", "--sample", "lindau_000003_000019", "--out", tmp_path / "w.png")
    assert wrong.exit_code == 2 and "Traceback" not in wrong.output
    assert "no sample 'lindau_000003_000019'" in wrong.output and "closest: lindau_000000_000019" in wrong.output
    assert "(2 samples;" in wrong.output


def test_ade20k_inspect_table_names_the_classes(tmp_path):
    from tests.support.build_data import write_ade20k

    data = write_ade20k(tmp_path / "ade", {"validation": 1}, height=32, width=48)
    assert _invoke("build", data, tmp_path / "sh", "--layout", "ade20k", "-q").exit_code == 0
    res = _invoke("inspect", tmp_path / "sh", "--out", tmp_path / "p.png")
    assert res.exit_code == 0, res.output
    rows = [r for r in res.output.split("w<=5")[-1].splitlines() if r.strip() and not r.startswith("-")]
    names = [r.rsplit(None, 6)[0] for r in rows if not r.startswith("all ")]
    from segfix_data.datasets.labels import ADE20K_CLASS_NAMES

    assert names and set(names) <= set(ADE20K_CLASS_NAMES), res.output
    assert "1 sample:" not in res.output and "sample ADE_val_00000001:" in res.output
