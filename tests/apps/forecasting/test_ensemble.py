"""Separately trained runs merged into one ensemble model."""

import dataclasses

import keras
import numpy as np
import pytest

from apps.forecasting import data as forecasting_data
from apps.forecasting.config import ForecastingConfig
from apps.forecasting.ensemble import merge_members, run_configs
from apps.forecasting.export import state_size, window_model
from apps.forecasting.model import build_core
from shared.errors import UserError
from tests.apps.forecasting.test_model import synthetic


def quick(**changes) -> ForecastingConfig:
    return ForecastingConfig(**{**ForecastingConfig.PRESETS["quick"], **changes})


def test_the_merged_forecast_is_the_mean_of_the_runs_forecasts():
    config = quick()
    cores = []
    for seed in (1, 2):
        keras.utils.set_random_seed(seed)
        cores.append(build_core(config))
    merged = merge_members(cores, config)
    test = forecasting_data.split_panel([synthetic("m", "monthly", 300, 12)], config, "s").test
    args = [test["history"], test["length"], test["phase"], test["frequency"]]
    each = [np.asarray(window_model(core, None)(args)["quantiles"]) for core in cores]
    assert np.abs(each[0] - each[1]).max() > 1e-3  # two different runs
    ensemble = np.asarray(window_model(merged, None)(args)["quantiles"])
    scale = np.abs(ensemble).max()
    np.testing.assert_allclose(ensemble, np.mean(each, axis=0), atol=1e-5 * scale)
    assert state_size(merged) == 2 * state_size(cores[0])


def test_an_ensemble_or_a_single_run_is_refused():
    config = quick()
    core = build_core(config)
    with pytest.raises(UserError, match="is itself an ensemble"):
        merge_members([build_core(dataclasses.replace(config, members=2)), core], config)
    with pytest.raises(UserError, match="at least 2 runs"):
        merge_members([core], config)


def test_runs_with_other_settings_are_refused_naming_the_field(tmp_path):
    folders = []
    for index, config in enumerate([quick(seed=1), quick(seed=2), quick(seed=3, units=48)]):
        folder = tmp_path / f"run{index}"
        folder.mkdir()
        (folder / "config.json").write_text(config.to_json())
        (folder / "model.keras").write_text("")
        (folder / "metrics.json").write_text("{}")
        folders.append(folder)
    assert [c.seed for c in run_configs(folders[:2])] == [1, 2]
    with pytest.raises(UserError, match=r"run2: trained with other settings .*units"):
        run_configs(folders)
    with pytest.raises(UserError, match="not a trained forecasting model"):
        run_configs([folders[0], tmp_path / "missing"])
    (folders[1] / "metrics.json").unlink()  # the merge reads it: refused before any work
    with pytest.raises(UserError, match=r"run1: not a trained forecasting model"):
        run_configs(folders[:2])
