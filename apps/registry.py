"""Name -> App: the one place that lists the apps.

Apps are imported lazily, so ``rnnapps list`` and errors stay fast.
"""

from __future__ import annotations

import importlib

from shared.app import App
from shared.errors import UserError

APPS = {
    "sentiment": "apps.sentiment.app:SentimentApp",
}


def names() -> list[str]:
    return list(APPS)


def get_app(name: str) -> App:
    """A fresh App object for `name`, or a UserError listing the apps."""
    if name not in APPS:
        raise UserError(f"{name!r}: unknown app (choose from {', '.join(APPS)})")
    module_name, class_name = APPS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)()
