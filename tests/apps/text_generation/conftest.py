"""A quick-preset text generation run that the end-to-end tests share."""

import os
import pathlib
import shutil

import pytest

from apps import cli


@pytest.fixture(scope="module")
def train_quick(tmp_path_factory):
    """Train, export and evaluate the quick preset (with ``--set`` settings): its folder."""

    def train(*settings: str) -> pathlib.Path:
        return _train(tmp_path_factory, settings)

    return train


def _train(tmp_path_factory, settings) -> pathlib.Path:
    data_dir = tmp_path_factory.mktemp("data")
    # Reuse a cached VADER sdist if the repository has one (it is checked by sha256 anyway).
    cached = pathlib.Path("data/downloads")
    if cached.is_dir():
        shutil.copytree(cached, data_dir / "downloads")
    previous = os.environ.get("RNNAPPS_DATA")
    os.environ["RNNAPPS_DATA"] = str(data_dir)
    out = tmp_path_factory.mktemp("models") / "text_generation"
    arguments = ["train", "text_generation", "--preset", "quick", "--out", str(out)]
    for setting in settings:
        arguments += ["--set", setting]
    try:
        assert cli.main(arguments) == 0
    finally:
        if previous is None:
            os.environ.pop("RNNAPPS_DATA")
        else:
            os.environ["RNNAPPS_DATA"] = previous
    return out
