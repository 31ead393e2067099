"""`segfix-gt example DIR`: never writes into a non-empty DIR (maybe a real Cityscapes tree)
without --overwrite."""
from click.testing import CliRunner

from cli.gt import main


def _example(out, *extra):
    return CliRunner().invoke(main, ["example", str(out), "--train", "1", "--val", "0",
                                     "--size", "32x16", *extra])


def test_refuses_a_non_empty_directory_without_overwrite(tmp_path):
    out = tmp_path / "cityscapes"
    real = out / "leftImg8bit" / "train" / "aachen" / "aachen_000000_000019_leftImg8bit.png"
    real.parent.mkdir(parents=True)
    real.write_bytes(b"a real frame")
    res = _example(out)
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "not empty" in lines[0] and "--overwrite" in lines[0], res.output
    assert real.read_bytes() == b"a real frame", "the user's file must be left alone"
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == [real.name]


def test_new_or_empty_directory_is_written(tmp_path):
    assert _example(tmp_path / "new").exit_code == 0
    (tmp_path / "empty").mkdir()
    res = _example(tmp_path / "empty")
    assert res.exit_code == 0, res.output
    assert any((tmp_path / "empty" / "gtFine").rglob("*_gtFine_labelIds.png"))


def test_overwrite_writes_into_a_non_empty_directory(tmp_path):
    out = tmp_path / "ex"
    assert _example(out).exit_code == 0
    res = _example(out, "--overwrite")
    assert res.exit_code == 0, res.output
    assert _example(out).exit_code == 2, "rerunning without --overwrite is refused"
