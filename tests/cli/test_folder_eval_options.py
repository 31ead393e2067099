"""`segfix eval --layout folder` takes the options `segfix-gt build` took:
--label-glob (with {split}), --img-suffix/--seg-suffix, --class-map; the same command-line options
score the frames the build read, with the build's id conversion."""
import json

import numpy as np
from click.testing import CliRunner
from PIL import Image

from cli.gt import main as gt_main
from cli.main import main


def _tree(root):
    """images/<split>/f<k>.png and labels/<split>/f<k>.png in raw ids 10/20/30, one split 'val'."""
    for d in ("images/val", "labels/val"):
        (root / d).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k in range(2):
        raw = np.full((24, 32), 10, np.uint8)
        raw[:, 16:] = 20
        raw[18:, :] = 30
        Image.fromarray(raw).save(root / "labels" / "val" / f"f{k}.png")
        Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save(root / "images" / "val" / f"f{k}.png")
    (root / "cm.json").write_text(json.dumps({"10": 0, "20": 1, "30": 255}))
    return root


def test_folder_eval_takes_builds_label_glob_and_class_map(tmp_path):
    data = _tree(tmp_path / "data")
    opts = ["--layout", "folder", "--split", "val", "--image-glob", "images/{split}/*.png",
            "--label-glob", "labels/{split}/*.png", "--class-map", str(data / "cm.json")]
    res = CliRunner().invoke(gt_main, ["build", str(data), str(tmp_path / "shards"), *opts, "-q"])
    assert res.exit_code == 0, res.output
    preds = tmp_path / "preds"
    preds.mkdir()
    for k in range(2):  # perfect predictions in train ids (what the class map gives)
        raw = np.array(Image.open(data / "labels" / "val" / f"f{k}.png"))
        Image.fromarray(np.select([raw == 10, raw == 20], [0, 1], 255).astype(np.uint8)).save(preds / f"f{k}.png")
    out = tmp_path / "s.json"
    res = CliRunner().invoke(main, ["eval", str(data), str(preds), *opts, "--num-classes", "2",
                                    "--id-space", "trainIds", "--json", str(out)])
    assert res.exit_code == 0, res.output
    scores = json.loads(out.read_text())
    assert scores["miou"] == 1.0, scores["miou"]


def test_folder_options_with_another_layout_are_refused(tmp_path):
    data = _tree(tmp_path / "data")
    res = CliRunner().invoke(main, ["eval", str(data), str(data), "--layout", "mmseg", "--label-glob", "x/*"])
    assert res.exit_code == 2 and "--label-glob" in res.output and "folder" in res.output


def test_folder_plots_draw_the_fixed_broken_maps_on_the_images(tmp_path):
    # with build's --image-glob the maps show the frame's photo, without it the dimmed labels
    import pytest

    pytest.importorskip("matplotlib")
    from segfix_data.metrics import plots

    data = _tree(tmp_path / "data")
    opts = ["--layout", "folder", "--split", "val", "--label-glob", "labels/{split}/*.png",
            "--class-map", str(data / "cm.json"), "--num-classes", "2", "--id-space", "trainIds"]
    preds, base = tmp_path / "preds", tmp_path / "base"
    for d, col in ((preds, 16), (base, 12)):  # the baseline puts the class edge 4 px off
        d.mkdir()
        for k in range(2):
            lab = np.zeros((24, 32), np.uint8)
            lab[:, col:] = 1
            Image.fromarray(lab).save(d / f"f{k}.png")
    seen = []
    real = plots.plot_fixed_broken
    plots.plot_fixed_broken = lambda path, background, *a, **kw: (seen.append(background.copy()),
                                                                   real(path, background, *a, **kw))[1]
    try:
        for extra in ([], ["--image-glob", "images/{split}/*.png"]):
            res = CliRunner().invoke(main, ["eval", str(data), str(preds), *opts, *extra, "--baseline", str(base),
                                            "--plots", str(tmp_path / "plots"), "--plot-frames", "1"])
            assert res.exit_code == 0, res.output
    finally:
        plots.plot_fixed_broken = real
    image = np.asarray(Image.open(data / "images" / "val" / "f0.png").convert("RGB"))
    assert len(seen) == 2 and not np.array_equal(seen[0], image)
    assert np.array_equal(seen[1], image)  # the photo itself (plot_fixed_broken dims it)
