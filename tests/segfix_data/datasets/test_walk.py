"""Directory walks visit each real directory once: symbolic-link loops (``ln -s . l1; ln -s . l2``)
must not make a build or a glob exponential."""
from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np
from PIL import Image

from segfix_data.datasets import find_frames
from segfix_data.datasets.frame import unreadable_dirs
from segfix_data.datasets.walk import glob_once, walk_once
from tests.support.deadline import deadline


def _png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((4, 5), np.uint8)).save(path)


def _loops(d: Path) -> None:
    os.symlink(".", d / "l1")
    os.symlink(".", d / "l2")


def test_walk_once_enters_each_real_directory_once(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    _loops(tmp_path / "a")
    os.symlink("../a", tmp_path / "a" / "b" / "up")
    os.symlink("a/b", tmp_path / "bl")  # a second way into a/b
    with deadline(10):
        visited = [os.path.realpath(d) for d, _, _ in walk_once(tmp_path)]
    real = sorted({os.path.realpath(tmp_path), os.path.realpath(tmp_path / "a"),
                   os.path.realpath(tmp_path / "a" / "b")})
    assert sorted(visited) == real


def test_unreadable_dirs_terminates_on_link_loops(tmp_path):
    _loops(tmp_path)
    with deadline(10):
        assert unreadable_dirs(tmp_path) == []


def test_folder_layout_with_link_loops_finds_each_file_once(tmp_path):
    for i in range(2):
        _png(tmp_path / "img" / f"f{i}.png")
        _png(tmp_path / "ann" / f"f{i}.png")
    _loops(tmp_path / "ann")
    _loops(tmp_path / "img")
    with deadline(10):
        frames, unpaired = find_frames("folder", tmp_path, "train", image_glob="img/**/*.png",
                                       label_glob="ann/**/*.png")
    assert [Path(f.label).name for f in frames] == ["f0.png", "f1.png"]
    assert unpaired == []


def test_glob_once_agrees_with_glob_without_links(tmp_path, monkeypatch):
    for rel in ["x.png", "a/y.png", "a/b/z.png", "a/b/z.jpg", ".hid/h.png", "a/.h.png", "c/d/e/w.png"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")
    for pat in ["**/*.png", "a/**/*.png", "**/b/*.png", "*/**/*.jpg", "c/**/e/*.png", "*.png"]:
        want = sorted(glob.glob(str(tmp_path / pat), recursive=True))
        assert sorted(glob_once(tmp_path / pat)) == want, pat
    monkeypatch.chdir(tmp_path)  # a relative pattern gives relative paths, as glob does
    assert sorted(glob_once("**/*.png")) == sorted(glob.glob("**/*.png", recursive=True))
