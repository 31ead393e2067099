"""The one name rule: shard_path (reading) and output_path (writing) accept and refuse the same names."""
from __future__ import annotations

import pytest

from segfix_data.atomic import atomic_write_json
from segfix_data.shards import ManifestError, is_plain_name, output_path, shard_path

PLAIN = ["shard-00000.h5", "a", "frankfurt_000000_000294", "a.b.c", "x..y"]
NOT_PLAIN = ["", ".", "..", ".hidden", ".hidden.h5", "a/b", "../x", "a\\b", "/abs", "a\0b", None, 3, b"a"]


@pytest.mark.parametrize("name", PLAIN)
def test_plain_names_are_accepted_by_both(tmp_path, name):
    assert is_plain_name(name)
    assert shard_path(tmp_path, name) == tmp_path / name
    assert output_path(tmp_path, name) == tmp_path / name


@pytest.mark.parametrize("name", NOT_PLAIN)
def test_other_names_are_refused_by_both(tmp_path, name):
    assert not is_plain_name(name)
    with pytest.raises(ManifestError):
        shard_path(tmp_path, name)
    with pytest.raises(ManifestError):
        output_path(tmp_path, name)


def test_atomic_write_json_is_sorted_with_a_final_newline(tmp_path):
    path = tmp_path / "sub" / "x.json"
    atomic_write_json(path, {"b": 1, "a": [1]})
    assert path.read_text() == '{\n "a": [\n  1\n ],\n "b": 1\n}\n'
    atomic_write_json(path, {"b": 1, "a": 2}, indent=2, sort_keys=False)
    assert path.read_text() == '{\n  "b": 1,\n  "a": 2\n}\n'
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]
