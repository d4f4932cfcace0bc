import dataclasses
from typing import ClassVar

import pytest

from shared.config import BaseConfig, load_config, resolve_config
from shared.errors import UserError


@dataclasses.dataclass
class ToyConfig(BaseConfig):
    units: int = 32
    cell: str = "gru"
    bidirectional: bool = True
    dropout_rate: float = 0.1
    sizes: tuple[int, ...] = (1, 2)

    PRESETS: ClassVar[dict] = {"quick": {"units": 4, "epochs": 1}}


def test_preset_then_overrides():
    config = resolve_config(ToyConfig, "quick", ["cell=lstm", "bidirectional=false", "sizes=3,4"])
    assert (config.units, config.epochs, config.preset) == (4, 1, "quick")
    assert config.cell == "lstm" and config.bidirectional is False and config.sizes == (3, 4)
    assert resolve_config(ToyConfig, "default").units == 32


@pytest.mark.parametrize(
    "preset, overrides, message",
    [
        ("fast", [], "unknown preset"),
        ("quick", ["nope=1"], "unknown field"),
        ("quick", ["units=many"], "not a valid int"),
        ("quick", ["units"], "expected key=value"),
        ("quick", ["bidirectional=maybe"], "not a valid bool"),
    ],
)
def test_bad_settings_are_user_errors(preset, overrides, message):
    with pytest.raises(UserError, match=message):
        resolve_config(ToyConfig, preset, overrides)


def test_json_round_trip(tmp_path):
    config = resolve_config(ToyConfig, "quick", ["dropout_rate=0.25"])
    (tmp_path / "config.json").write_text(config.to_json())
    assert load_config(ToyConfig, tmp_path / "config.json") == config


@dataclasses.dataclass
class CheckedConfig(ToyConfig):
    def validate(self) -> None:
        self.require_at_least(1, "units", "epochs")
        self.require_at_least(8, "batch_size")


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["units=0", "epochs=0"], "--set units=0: must be at least 1"),  # the first named
        (["epochs=-2"], "--set epochs=-2: must be at least 1"),
        (["batch_size=7"], "--set batch_size=7: must be at least 8"),
    ],
)
def test_require_at_least_names_the_first_field_below_its_minimum(overrides, message):
    with pytest.raises(UserError) as caught:
        resolve_config(CheckedConfig, "quick", overrides)
    assert str(caught.value) == message
    assert resolve_config(CheckedConfig, "quick", ["batch_size=8", "units=1"]).units == 1
