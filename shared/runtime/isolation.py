"""Run Python in a fresh interpreter where TensorFlow and Keras cannot be imported.

What proves the runtime needs neither: the end-to-end tests run each app's runtime this
way and compare its answers with the full stack's.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

BLOCKED = ("tensorflow", "keras", "tf_keras", "tensorflow_datasets", "tensorflow_text")

# Prepended to the code: a meta-path finder that fails every import of a blocked package,
# as an install without them would.
_BLOCKER = f"""
import sys
class _Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ImportError(f"{{name}} is blocked: the runtime must not import it")
        return None
sys.meta_path.insert(0, _Blocked())
"""

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run_without_tensorflow(code: str, timeout: float = 300) -> str:
    """Run `code` in a new interpreter (this one's, from the project root) whose imports of
    TensorFlow, Keras or TFDS raise ImportError; return its stdout.

    Raises:
        AssertionError: the code failed (its stderr in the message) or a blocked package
            ended up in ``sys.modules`` anyway.
    """
    check = f"\nassert not [m for m in sys.modules if m.split('.')[0] in {BLOCKED!r}]\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _BLOCKER + code + check],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise AssertionError(f"exit status {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout
