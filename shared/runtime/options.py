"""An app's predict options, declared once: the CLI's flags, the server's parameter checks and
the OpenAPI description are all made from these declarations (``Runtime.options``)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from typing import Any

TYPES = ("integer", "number", "boolean", "string")


@dataclasses.dataclass(frozen=True)
class Option:
    """One keyword option of an app's ``predict``, with its type, default and bounds.

    Args:
        name: the keyword argument of ``predict`` (``top_k``; the flag is ``--top-k``).
        type: its JSON type: ``"integer"``, ``"number"``, ``"boolean"`` or ``"string"``.
        help: what it does, for ``--help``, the web page and the OpenAPI description.
        default: ``predict``'s default (None: the model's own setting, e.g. from its config).
        minimum, maximum: the values allowed (numbers).
        choices: the values allowed (strings).
        serve_maximum: a lower maximum for one request to the server, which keeps one
            request's work within its time limit (None: `maximum`).

    Example:
        >>> Option("length", "integer", "characters", 200, 1, 20000, serve_maximum=2000).check(300)
        300
    """

    name: str
    type: str
    help: str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    serve_maximum: float | None = None

    def __post_init__(self):
        if self.type not in TYPES:
            raise ValueError(f"{self.name}: type must be one of {TYPES}, got {self.type!r}")
        if self.type in ("integer", "number") and (self.minimum is None or self.maximum is None):
            raise ValueError(f"{self.name}: a number needs a minimum and a maximum")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def upper(self, serving: bool = False) -> float | None:
        return self.serve_maximum if serving and self.serve_maximum is not None else self.maximum

    def check(self, value: Any, serving: bool = False) -> Any:
        """The value in its type if it fits, else ValueError saying what was expected."""
        if self.type == "boolean":
            if not isinstance(value, bool):
                raise ValueError(f"expected true or false, got {_shown(value)}")
            return value
        if self.type == "string":
            if value not in self.choices:
                raise ValueError(f"expected one of {', '.join(self.choices)}, got {_shown(value)}")
            return value
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if self.type == "integer" and not (
            isinstance(value, int) or (is_number and float(value).is_integer())
        ):
            raise ValueError(f"expected an integer, got {_shown(value)}")
        if not is_number or not math.isfinite(value):
            raise ValueError(f"expected a number, got {_shown(value)}")
        upper = self.upper(serving)
        if not self.minimum <= value <= upper:
            raise ValueError(
                f"{self._text(value)} is outside [{self._text(self.minimum)}, {self._text(upper)}]"
            )
        return int(value) if self.type == "integer" else float(value)

    def schema(self, serving: bool = True) -> dict:
        """Its JSON schema (OpenAPI and the web page's form), with the server's bounds."""
        schema: dict[str, Any] = {"type": self.type, "description": self.help}
        if self.minimum is not None:
            schema.update(minimum=self.minimum, maximum=self.upper(serving))
        if self.choices:
            schema["enum"] = list(self.choices)
        if self.default is not None:
            schema["default"] = self.default
        return schema

    def _text(self, value: float) -> str:
        return f"{int(value):,}" if self.type == "integer" else f"{value:g}"

    def add_flag(self, parser: argparse.ArgumentParser, app: str) -> None:
        """This option as a command-line flag of `parser` (``predict APP``)."""
        text = f"{app}: {self.help}"
        if self.type == "boolean":
            parser.add_argument(self.flag, dest=self.name, action="store_true", help=text)
            return
        if self.minimum is not None:
            text += f" ({self._text(self.minimum)} to {self._text(self.maximum)}"
            text += f"; default {self.default})" if self.default is not None else ")"
        kind = {"integer": int, "number": float, "string": str}[self.type]
        parser.add_argument(
            self.flag, dest=self.name, type=kind, choices=self.choices or None, help=text
        )


def _shown(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, str | int | float | bool | type(None)) else None
    if text is None:
        text = type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."
