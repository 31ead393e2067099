"""`segfix-gt verify` on a split whose build skipped a frame (--on-error skip) must not say
"0 damaged" with exit 0: the frame is absent from the shards."""
from click.testing import CliRunner

from cli.gt import main
from tests.support.build_data import write_cityscapes


def run_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_verify_names_frames_the_build_skipped_and_exits_3(tmp_path):
    data = write_cityscapes(tmp_path / "cs", {"train": 3})
    bad = sorted((data / "gtFine" / "train").glob("*/*_labelIds.png"))[1]
    bad.write_bytes(b"not a png")
    r = run_cli("build", data, tmp_path / "out", "--split", "train", "--on-error", "skip")
    assert r.exit_code == 3, r.output
    v = run_cli("verify", tmp_path / "out")
    assert v.exit_code == 3, v.output
    assert "train: 2 samples, 0 damaged, 1 frame skipped by the build" in v.output
    assert "skipped: train/" in v.output and str(bad) in v.output


def test_verify_of_a_clean_build_exits_0(tmp_path):
    data = write_cityscapes(tmp_path / "cs", {"train": 2})
    assert run_cli("build", data, tmp_path / "out", "--split", "train").exit_code == 0
    v = run_cli("verify", tmp_path / "out")
    assert v.exit_code == 0 and "skipped" not in v.output, v.output
