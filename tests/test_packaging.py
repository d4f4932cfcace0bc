"""The wheel: the package data the apps and the server need, the licence, and a base install
without TensorFlow (the `train` extra brings it)."""

import email
import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """The wheel built from the tracked files (a copy, so no build/ lands in the tree)."""
    source = tmp_path_factory.mktemp("source")
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in tracked:
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, target)
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", str(source)]
    subprocess.run([*command, "-w", str(out)], check=True, cwd=out)
    return zipfile.ZipFile(next(out.glob("rnn_apps-*.whl")))


def test_the_wheel_holds_the_code_and_the_data_it_reads(wheel):
    names = set(wheel.namelist())
    for needed in (
        "apps/cli.py",
        "apps/serve/static/index.html",
        "apps/serve/static/app.js",
        "apps/serve/static/style.css",
        "shared/runtime/litert.py",
        "apps/sentiment/runtime.py",
        "apps/sentiment/README.md",
    ):
        assert needed in names, needed
    assert not any(name.startswith(("tests/", "data/", "saved_models/")) for name in names)
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)


def test_the_base_install_is_the_runtime_and_training_is_an_extra(wheel):
    metadata_name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    metadata = email.message_from_bytes(wheel.read(metadata_name))
    requires = metadata.get_all("Requires-Dist")
    base = [r for r in requires if "extra ==" not in r]
    assert any(r.startswith("ai-edge-litert") for r in base)
    assert not any(r.startswith(("tensorflow", "keras")) for r in base)
    assert any(r.startswith("tensorflow") and 'extra == "train"' in r for r in requires)
    assert metadata["License-Expression"] == "Apache-2.0"
    assert (
        "rnnapps = apps.cli:main"
        in wheel.read(next(n for n in wheel.namelist() if n.endswith("entry_points.txt"))).decode()
    )
