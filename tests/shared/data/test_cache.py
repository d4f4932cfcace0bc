import pathlib
import subprocess

import numpy as np
import pytest

from shared.data import cache
from shared.errors import UserError


def test_atomic_path_keeps_old_target_when_the_body_fails(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), cache.atomic_path(target) as work:
        work.mkdir()
        (work / "half.txt").write_text("half")
        raise RuntimeError("killed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    with cache.atomic_path(target) as work:
        work.mkdir()
        (work / "new.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.txt"]


def test_cached_folder_builds_once_and_rebuilds_when_tampered(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNAPPS_DATA", str(tmp_path))
    builds = []

    def build(folder: pathlib.Path) -> None:
        builds.append(1)
        (folder / "corpus.txt").write_text("hello")

    folder = cache.cached_folder("corpus", build)
    assert cache.cached_folder("corpus", build) == folder and len(builds) == 1
    (folder / "corpus.txt").write_text("half-writ")
    cache.cached_folder("corpus", build)
    assert len(builds) == 2 and (folder / "corpus.txt").read_text() == "hello"
    cache.cached_folder("corpus", build, version="2")
    assert len(builds) == 3


def test_pypi_download_is_verified(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNAPPS_DATA", str(tmp_path))

    def fake_pip(cmd, **kwargs):
        folder = pathlib.Path(cmd[cmd.index("-d") + 1])
        (folder / "pkg-1.0.tar.gz").write_bytes(b"payload")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(cache.subprocess, "run", fake_pip)
    with pytest.raises(UserError, match="does not match"):
        cache.fetch_pypi_sdist("pkg", "1.0", "0" * 64)
    assert not list((tmp_path / "downloads").glob("pkg-*"))
    import hashlib

    good = hashlib.sha256(b"payload").hexdigest()
    path = cache.fetch_pypi_sdist("pkg", "1.0", good)
    assert path.read_bytes() == b"payload"


def test_offline_and_not_cached_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNAPPS_DATA", str(tmp_path))
    monkeypatch.setattr(
        cache.subprocess,
        "run",
        lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", "ERROR: network is unreachable"),
    )
    with pytest.raises(UserError, match="not cached.*network is unreachable"):
        cache.fetch_pypi_sdist("pkg", "1.0", "0" * 64)


def test_cached_splits_store_arrays_and_lists_and_read_back_what_was_generated(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("RNNAPPS_DATA", str(tmp_path))
    calls = []

    def generate(split: str, count: int) -> dict:
        calls.append(split)
        return {"image": np.full((count, 2), len(split), np.uint8), "captions": [["a b"]] * count}

    sizes = {"train": 3, "test": 1}
    in_memory = cache.cached_splits("corpus", sizes, generate, ("image", "captions"), cache=False)
    stored = cache.cached_splits("corpus", sizes, generate, ("image", "captions"), cache=True)
    again = cache.cached_splits("corpus", sizes, generate, ("image", "captions"), cache=True)
    assert calls == ["train", "test"] * 2  # the third call read the folder
    for splits in (stored, again):
        for split in sizes:
            np.testing.assert_array_equal(splits[split]["image"], in_memory[split]["image"])
            assert splits[split]["captions"] == in_memory[split]["captions"]
    assert sorted(p.name for p in (tmp_path / "corpus").glob("train_*")) == [
        "train_captions.json",
        "train_image.npy",
    ]
