"""App configs: one dataclass per app, named presets, ``--set key=value`` overrides."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, ClassVar, TypeVar

from shared.errors import UserError

PRESETS = ("quick", "demo", "default")


@dataclasses.dataclass
class BaseConfig:
    """Fields every app has. Apps subclass it and add their own.

    ``PRESETS`` on a subclass maps a preset name to the fields it changes;
    "quick" runs in seconds (tests), "demo" in a few minutes (the README's main
    job), "default" gives full quality.
    """

    preset: str = "default"
    seed: int = 1234  # initialisation and shuffling: what `--seeds N` varies
    # The data: which rows (or generated items) land in train, validation and test. Kept fixed
    # while `seed` varies, so every seed of a spread is scored on the same test split.
    split_seed: int = 1234
    epochs: int = 10
    batch_size: int = 64  # global batch: divided among replicas by tf.distribute
    learning_rate: float = 2e-3
    early_stopping_patience: int = 3
    strategy: str = "default"  # default | mirrored | multi_worker (reads TF_CONFIG)
    latency_runs: int = 200  # LiteRT timing runs for metrics.json

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    def require_at_least(self, minimum: int, *names: str) -> None:
        """For ``validate``: a UserError naming the first of the fields `names` below `minimum`."""
        for name in names:
            value = getattr(self, name)
            if value < minimum:
                raise UserError(f"--set {name}={value}: must be at least {minimum}")


ConfigT = TypeVar("ConfigT", bound=BaseConfig)


def _convert(name: str, text: str, annotation: Any) -> Any:
    """Parse the string `text` as the type of field `name`."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if text.lower() in ("none", "null"):
            return None
        annotation = options[0]
    try:
        if annotation is bool:
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if annotation in (int, float, str):
            return annotation(text)
        if typing.get_origin(annotation) in (tuple, list):
            item_type = typing.get_args(annotation)[0]
            values = [item_type(v) for v in text.split(",") if v]
            return tuple(values) if typing.get_origin(annotation) is tuple else values
    except ValueError:
        raise UserError(f"--set {name}={text}: not a valid {annotation.__name__}") from None
    raise UserError(f"--set {name}={text}: this field cannot be set from the command line")


def resolve_config(
    config_class: type[ConfigT], preset: str = "default", overrides: list[str] | None = None
) -> ConfigT:
    """The config for `preset`, with ``key=value`` strings applied on top."""
    if preset not in PRESETS:
        raise UserError(f"--preset {preset!r}: unknown preset (choose from {', '.join(PRESETS)})")
    values = dict(config_class.PRESETS.get(preset, {}))
    values["preset"] = preset
    hints = typing.get_type_hints(config_class)
    fields = {f.name for f in dataclasses.fields(config_class)}
    for item in overrides or []:
        if "=" not in item:
            raise UserError(f"--set {item!r}: expected key=value")
        key, text = item.split("=", 1)
        key = key.strip()
        if key not in fields:
            raise UserError(
                f"--set {key}: unknown field (fields: {', '.join(sorted(fields - {'preset'}))})"
            )
        values[key] = _convert(key, text.strip(), hints[key])
    config = config_class(**values)
    validate = getattr(config, "validate", None)
    if validate is not None:
        validate()
    return config


def describe_fields(config_class: type, preset: str = "default") -> str:
    """The fields ``--set`` takes, one per line with its value under `preset`."""
    config = resolve_config(config_class, preset)
    lines = []
    for field in dataclasses.fields(config_class):
        if field.name == "preset":
            continue
        value = getattr(config, field.name)
        shown = ",".join(map(str, value)) if isinstance(value, tuple) else value
        lines.append(f"  {field.name}={shown}")
    return "\n".join(lines)


def load_config(config_class: type[ConfigT], path) -> ConfigT:
    """The config saved beside a model (config.json), ignoring unknown keys."""
    with open(path) as f:
        data = json.load(f)
    fields = {f.name for f in dataclasses.fields(config_class)}
    for name, value in list(data.items()):
        if isinstance(value, list):
            data[name] = tuple(value)
    return config_class(**{k: v for k, v in data.items() if k in fields})
