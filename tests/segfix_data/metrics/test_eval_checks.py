"""segfix eval cannot silently mis-score: id-space checks, splits without fallback, pixel radii,
and the boundary F mean over the classes present."""
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cli.main import main
from segfix_data.datasets.labels import cityscapes_label_ids_to_train_ids
from segfix_data.metrics import SegmentationScore, boundary_f_image
from segfix_data.metrics.directory import check_prediction_ids, evaluate_directory
from segfix_data.metrics.report import format_table
from tests.support.build_data import write_ade20k, write_cityscapes


@pytest.fixture()
def cs(tmp_path):
    """A val-only generated Cityscapes layout and its ground truth as predictions in both id spaces."""
    data = write_cityscapes(tmp_path / "data", {"val": 2}, height=32, width=64)
    for lab in sorted((data / "gtFine" / "val").rglob("*_labelIds.png")):
        key = lab.name.replace("_gtFine_labelIds.png", "")
        ids = np.array(Image.open(lab))
        for d, arr in (("label_ids", ids), ("train_ids", cityscapes_label_ids_to_train_ids(ids).astype(np.uint8))):
            (tmp_path / d).mkdir(exist_ok=True)
            Image.fromarray(arr).save(tmp_path / d / f"{key}_leftImg8bit.png")
    return tmp_path


def _eval(*args):
    return CliRunner().invoke(main, ["eval", *map(str, args)])


def test_train_ids_scored_as_label_ids_stop_naming_train_ids(cs):
    r = _eval(cs / "data", cs / "train_ids")
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "train_ids/aachen_000000_000019_leftImg8bit.png" in r.output
    assert "they look like trainIds: pass --id-space trainIds" in r.output
    assert "--allow-ignored-ids" in r.output
    r = _eval(cs / "data", cs / "train_ids", "--id-space", "trainIds")
    assert r.exit_code == 0 and "mean (authors)       100.00" in r.output, r.output
    # insisting scores them (as wrong): the run completes with a low mIoU
    r = _eval(cs / "data", cs / "train_ids", "--allow-ignored-ids", "--json", cs / "s.json")
    assert r.exit_code == 0, r.output
    assert json.loads((cs / "s.json").read_text())["miou"] < 0.5


def test_label_ids_scored_as_train_ids_are_impossible(cs):
    r = _eval(cs / "data", cs / "label_ids", "--id-space", "trainIds")
    assert r.exit_code == 2
    line = [ln for ln in r.output.splitlines() if ln.startswith("error:")][0]
    assert "label_ids/aachen_000000_000019_leftImg8bit.png: ids " in line
    assert "impossible in Cityscapes trainIds (0..18, 255) (--id-space trainIds)" in line
    assert "they fit labelIds: pass --id-space labelIds" in line
    assert "23" in line or "26" in line


def test_id_checks_by_hand():
    gt = np.zeros((4, 4), np.int64)  # every pixel evaluated (road)
    ok = np.zeros((4, 4), np.uint8) + 7  # labelId 7 = road
    check_prediction_ids("p.png", ok, gt, "cityscapes", "labelIds", 19)
    half = ok.copy()
    half[:2] = 0  # 50% on "unlabeled": not more than half, accepted
    check_prediction_ids("p.png", half, gt, "cityscapes", "labelIds", 19)
    half[2, 0] = 0  # now 9 of 16
    with pytest.raises(ValueError, match=r"p.png: 56% of the pixels .* \(most often 0\)"):
        check_prediction_ids("p.png", half, gt, "cityscapes", "labelIds", 19)
    check_prediction_ids("p.png", half, gt, "cityscapes", "labelIds", 19, allow_ignored_ids=True)
    ignored_gt = np.full((4, 4), 255)
    check_prediction_ids("p.png", half, ignored_gt, "cityscapes", "labelIds", 19)  # nothing evaluated
    with pytest.raises(ValueError, match="ids 151, 200 are impossible in ADE20K labelIds.*check --layout"):
        check_prediction_ids("a.png", np.array([[1, 151], [200, 255]]), gt[:2, :2], "ade20k", "labelIds", 150)
    with pytest.raises(ValueError, match=r"ids -1, 3 are impossible in train ids of 3 classes"):
        check_prediction_ids("f.npy", np.array([[0, -1], [3, 2]]), gt[:2, :2], "folder", "trainIds", 3,
                             allow_ignored_ids=True)  # impossible ids are an error even then


def test_absent_split_is_an_error_without_fallback(cs):
    r = _eval(cs / "data", cs / "label_ids", "--split", "train")
    assert r.exit_code == 2 and "no split 'train' (splits found: val)" in r.output
    # label files below GT_DIR outside gtFine/<split> are never scored instead
    flat = cs / "flat"
    flat.mkdir()
    for p in (cs / "data" / "gtFine" / "val").rglob("*.png"):
        (flat / p.name).write_bytes(p.read_bytes())
    r = _eval(flat, cs / "label_ids")
    assert r.exit_code == 2 and "no split 'val' and no other split found" in r.output
    # GT_DIR may be the gtFine directory itself
    assert evaluate_directory(cs / "data" / "gtFine", cs / "label_ids")["miou"] == 1.0


def test_ade20k_eval_uses_validation_and_accepts_val(tmp_path):
    data = write_ade20k(tmp_path / "ade", {"training": 1, "validation": 2}, height=16, width=24)
    pred = tmp_path / "pred"
    pred.mkdir()
    for p in (data / "ADEChallengeData2016" / "annotations" / "validation").glob("*.png"):
        (pred / p.name).write_bytes(p.read_bytes())
    for split in (None, "val", "validation"):
        r = evaluate_directory(data, pred, layout="ade20k", split=split)
        assert r["split"] == "validation" and r["num_images"] == 2 and r["miou"] == 1.0
    with pytest.raises(ValueError, match=r"no split 'test' \(splits found: training, validation\)"):
        evaluate_directory(data, pred, layout="ade20k", split="test")


def test_px_radii_in_json_and_headers(cs):
    r = _eval(cs / "data", cs / "label_ids", "--px", "1,2,3", "--json", cs / "px.json")
    assert r.exit_code == 0, r.output
    assert "F@1px" in r.output and "F@3px" in r.output
    d = json.loads((cs / "px.json").read_text())
    assert set(d["boundary_f"]) == {"1", "2", "3"} and d["threshold_unit"] == "px"
    assert d["boundary_radius_px"] == {"1": {"32x64": 1}, "2": {"32x64": 2}, "3": {"32x64": 3}}
    r = _eval(cs / "data", cs / "label_ids", "--json", cs / "diag.json")
    assert r.exit_code == 0, r.output
    # at 32x64 every paper threshold is a 1 px radius: the header says so
    assert "F@0.0003 (1px)" in r.output and "F@0.0009 (1px)" in r.output
    assert "0.0009: 1 px at 32x64" in r.output
    d = json.loads((cs / "diag.json").read_text())
    assert d["threshold_unit"] == "diagonal" and d["image_sizes"] == ["32x64"]
    assert d["boundary_radius_px"]["0.0009"] == {"32x64": 1}
    # 2048x1024: the paper's 1/2/3 px (ceil(t * 2289.7))
    from segfix_data.metrics.directory import radii_by_size
    assert radii_by_size((0.0003, 0.0006, 0.0009), {(1024, 2048)}) == {
        "0.0003": {"1024x2048": 1}, "0.0006": {"1024x2048": 2}, "0.0009": {"1024x2048": 3}}
    for bad in ("0,1", "a", "1.5"):
        r = _eval(cs / "data", cs / "label_ids", "--px", bad)
        assert r.exit_code == 2 and "pixel radii" in r.output
    with pytest.raises(ValueError, match="mix diagonal fractions"):
        evaluate_directory(cs / "data", cs / "label_ids", thresholds=(0.0003, 2))


def test_present_class_mean_against_per_image_oracle():
    rng = np.random.default_rng(3)
    k, ts = 4, (1.0, 2.0)
    pairs = []
    for _ in range(5):
        gt = np.kron(rng.integers(0, 3, (3, 4)), np.ones((5, 5), int))  # classes 0..2; 3 never in gt
        pred = gt.copy()
        pred[rng.random(gt.shape) < 0.1] = int(rng.integers(0, 3))
        gt[:2] = 255  # ignore rows
        pairs.append((pred, gt))
    pairs[0][0][10:12, 10:12] = 3  # class 3 predicted once
    score = SegmentationScore(k, ts)
    for p, g in pairs:
        score.update(p, g)
    res = score.result()
    f = np.stack([boundary_f_image(p, g, k, ts) for p, g in pairs])  # (N, K, T)
    present = np.zeros((len(pairs), k), bool)
    for i, (p, g) in enumerate(pairs):
        for c in range(k):
            present[i, c] = ((g == c).any() or ((p == c) & (g != 255)).any())
    assert present[:, 3].sum() == 1 and present[:, :3].all(axis=0).any()
    for j, t in enumerate(("1", "2")):
        per_class = [f[present[:, c], c, j].mean() for c in range(k)]
        assert res["boundary_f_present"][t] == pytest.approx(np.mean(per_class))
        assert res["boundary_f"][t] == pytest.approx(f[:, :, j].mean(axis=0).mean())
        assert res["class_boundary_f_present"][t]["3"] == pytest.approx(f[0, 3, j])
    # a class present in no image is None, and left out of the mean
    s2 = SegmentationScore(k, ts)
    s2.update(*pairs[1])
    r2 = s2.result()
    assert r2["class_boundary_f_present"]["1"]["3"] is None
    assert r2["class_boundary_f"]["1"]["3"] == 1.0  # the authors' convention: absent counts 1
    table = format_table({**r2, "threshold_unit": "px"})
    assert "mean (authors)" in table and "mean (present)" in table


# --- the id space judged by agreement with the ground truth, not only by the ranges of the ids


def _one_frame(tmp_path, label_ids):
    """A one-frame Cityscapes val split whose ground truth is ``label_ids``; returns (data, key)."""
    data = write_cityscapes(tmp_path / "data", {"val": 1}, height=32, width=64)
    lab = next((data / "gtFine" / "val").rglob("*_labelIds.png"))
    Image.fromarray(label_ids.astype(np.uint8)).save(lab)
    return data, lab.name.replace("_gtFine_labelIds.png", "")


def _scene(*label_ids_and_rows):
    ids = np.zeros((32, 64), np.uint8)
    y = 0
    for v, rows in label_ids_and_rows:
        ids[y:y + rows] = v
        y += rows
    return ids


def test_label_ids_all_below_19_scored_as_train_ids_stop(tmp_path):
    """road 7, sidewalk 8, building 11, wall 12, fence 13, pole 17: every value is a valid trainId,
    no pixel lands on a class-less id, and the score was mIoU 0.0 with exit 0."""
    ids = _scene((7, 10), (8, 6), (11, 8), (12, 3), (13, 3), (17, 2))
    data, key = _one_frame(tmp_path, ids)
    (tmp_path / "pred").mkdir()
    Image.fromarray(ids).save(tmp_path / "pred" / f"{key}_leftImg8bit.png")
    r = _eval(data, tmp_path / "pred", "--id-space", "trainIds")
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert "read as Cityscapes trainIds (0..18, 255) the prediction agrees with the ground truth on 0%" in r.output
    assert "read as labelIds on 100%; pass --id-space labelIds" in r.output
    assert _eval(data, tmp_path / "pred").exit_code == 0
    assert _eval(data, tmp_path / "pred", "--id-space", "trainIds", "--allow-ignored-ids").exit_code == 0


def test_train_ids_with_building_40_percent_scored_as_label_ids_stop(tmp_path):
    """building 40% (trainId 2: labelId 2, no class), car 40% and vegetation 20% (trainIds 13 and 8:
    the labelIds of fence and sidewalk): 40% of pixels class-less passed the 50% rule."""
    ids = _scene((11, 13), (26, 13), (21, 6))
    data, key = _one_frame(tmp_path, ids)
    (tmp_path / "pred").mkdir()
    train = cityscapes_label_ids_to_train_ids(ids).astype(np.uint8)
    Image.fromarray(train).save(tmp_path / "pred" / f"{key}_leftImg8bit.png")
    r = _eval(data, tmp_path / "pred")
    assert r.exit_code == 2 and "pass --id-space trainIds" in r.output and "on 100%" in r.output, r.output
    assert _eval(data, tmp_path / "pred", "--id-space", "trainIds").exit_code == 0


def test_a_poor_prediction_in_the_right_id_space_is_scored(tmp_path):
    """Agreement is compared between the two readings: a bad model is still scored."""
    ids = _scene((7, 10), (8, 6), (11, 8), (12, 3), (13, 3), (17, 2))
    data, key = _one_frame(tmp_path, ids)
    (tmp_path / "pred").mkdir()
    poor = np.roll(ids, 9, axis=0)  # 3% of the pixels right (0% read as trainIds)
    Image.fromarray(poor).save(tmp_path / "pred" / f"{key}_leftImg8bit.png")
    r = _eval(data, tmp_path / "pred")
    assert r.exit_code == 0, r.output
