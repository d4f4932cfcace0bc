"""Test-wide settings: quiet TensorFlow, and a per-module data cache for the tests that ask."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="module")
def data_cache(tmp_path_factory):
    """``RNNAPPS_DATA`` set to a fresh temporary folder (yielded) until the module's tests end,
    then restored: whatever a test module downloads or caches stays out of ``data/``."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("data")
        patch.setenv("RNNAPPS_DATA", str(folder))
        yield folder
