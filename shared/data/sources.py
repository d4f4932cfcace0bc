"""Parse ``--data SOURCE`` and load TFDS datasets.

A source is one of:
  ``default``        the app's embedded default (works offline)
  ``tfds:NAME``      a TensorFlow Datasets dataset (needs internet or a local TFDS cache)
  ``file:PATH`` or a bare existing PATH   the user's own files in the field's usual layout
"""

from __future__ import annotations

import dataclasses
import pathlib

from shared.errors import UserError


@dataclasses.dataclass(frozen=True)
class Source:
    kind: str  # "default" | "tfds" | "file"
    value: str = ""

    def __str__(self) -> str:
        return self.kind if self.kind == "default" else f"{self.kind}:{self.value}"


def parse_source(text: str | None) -> Source:
    """Turn the ``--data`` string into a Source, or raise UserError naming it."""
    if text is None or text in ("", "default"):
        return Source("default")
    if text.startswith("tfds:"):
        name = text[len("tfds:") :]
        if not name:
            raise UserError(f"--data {text!r}: give a dataset name after 'tfds:'")
        return Source("tfds", name)
    path_text = text[len("file:") :] if text.startswith("file:") else text
    path = pathlib.Path(path_text)
    if not path.exists():
        raise UserError(
            f"--data {text!r}: unknown source (not 'default', not 'tfds:NAME', and no such file or folder)"
        )
    return Source("file", str(path))


def load_tfds(name: str, split: str | list[str], **kwargs):
    """``tfds.load`` with a clear error when the dataset cannot be had offline."""
    import tensorflow_datasets as tfds

    try:
        return tfds.load(name, split=split, **kwargs)
    except Exception as error:  # TFDS raises many types for "not downloadable here"
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"tfds:{name}: could not load ({first[:200]})") from error
