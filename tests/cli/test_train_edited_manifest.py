"""`segfix train` refuses shards whose manifest was edited: one line naming the file."""
import json

from click.testing import CliRunner

from cli.main import main
from segfix_data.shards import BuildConfig, build_split
from segfix_data.shards.manifest import CHECKSUM_KEY, manifest_checksum
from tests.support.build_data import write_cityscapes


def test_train_refuses_edited_num_directions_with_one_line(tmp_path):
    data = write_cityscapes(tmp_path / "cs", {"train": 2}, 32, 48)
    build_split(data, tmp_path / "out", "train", BuildConfig(shard_size=2, tile=16))
    path = tmp_path / "out" / "train" / "manifest.json"
    m = json.loads(path.read_text())
    m["params"]["num_directions"] = 16  # the checksum recomputed too: the shards' records stop it
    m[CHECKSUM_KEY] = manifest_checksum(m)
    path.write_text(json.dumps(m))
    r = CliRunner().invoke(main, ["train", "--shards", str(tmp_path / "out"), "--split", "train",
                                  "--val-split", "none", "--out", str(tmp_path / "run"), "--device", "cpu",
                                  "--iters", "1", "--batch", "1", "--crop", "16", "--model", "hrnet_w18"])
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(path) in lines[0] and "num_directions: 8 (shard) vs 16 (manifest)" in lines[0]
    assert "Traceback" not in r.output and not (tmp_path / "run" / "checkpoints").exists()
