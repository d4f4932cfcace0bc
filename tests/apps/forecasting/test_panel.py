"""apps/forecasting/panel.py: the embedded panel, read offline, and the overlap check."""

import dataclasses
import importlib.metadata
import socket

import numpy as np
import pandas as pd
import pytest

from apps.forecasting import panel as panel_module
from apps.forecasting.panel import PANEL_SOURCES, embedded_panel, overlap_report
from apps.forecasting.series import FREQUENCIES, read_csv

PANDAS_FREQ = {
    "hourly": "h", "half_hourly": "30min", "daily": "D", "business_daily": "B",
    "weekly": "W-SAT", "monthly": "MS", "quarterly": "QS", "yearly": "YS",
}  # fmt: skip

# The files the panel reads, each inside an installed wheel (its RECORD lists it).
WHEEL_FILES = {
    "vega_datasets": ["seattle-temps.csv", "sf-temps.csv", "seattle-weather.csv", "stocks.csv",
                      "us-employment.csv"],
    "pmdarima": ["msft.tar.gz", "sunspots.txt.gz", "taylor.py", "airpassengers.py",
                 "wineind.py", "woolyrnq.py", "austres.py", "lynx.py"],
    "statsmodels": ["co2/co2.csv", "elnino/elnino.csv", "sunspots/sunspots.csv", "nile/nile.csv"],
}  # fmt: skip


@pytest.fixture(scope="module")
def panel():
    real_connect = socket.socket.connect

    def refuse(*args, **kwargs):
        raise OSError("network used while loading the embedded panel")

    socket.socket.connect = refuse  # offline: any download fails the test
    try:
        return embedded_panel()
    finally:
        socket.socket.connect = real_connect


@pytest.mark.parametrize("package", list(WHEEL_FILES))
def test_every_file_read_is_in_the_installed_wheel(package):
    recorded = [str(path) for path in importlib.metadata.files(package)]
    for name in WHEEL_FILES[package]:
        assert any(path.endswith(name) for path in recorded), f"{package}: {name} not in wheel"


def test_the_panel_covers_every_frequency_and_source(panel):
    assert [s.name for s in panel] == [entry.name for entry in PANEL_SOURCES]
    assert len({s.name for s in panel}) == len(panel) == 21
    assert {s.frequency for s in panel} == set(FREQUENCIES)
    for series in panel:
        assert series.source and series.licence and series.quantity, series.name
    quantities = {s.name: s.quantity for s in panel}
    assert quantities["sunspots_monthly"] == quantities["sunspots_yearly"] == "sunspots"
    assert quantities["msft"] == "msft"


def test_every_series_is_finite_long_enough_and_on_its_calendar(panel):
    for series in panel:
        horizon, period = series.horizon, series.period
        assert np.isfinite(series.values).all(), series.name
        assert series.values.size >= 3 * horizon + 2 * period, series.name
        assert (np.diff(series.timestamps) > np.timedelta64(0, "s")).all(), series.name
        grid = pd.date_range(
            pd.Timestamp(series.timestamps[0]),
            periods=series.values.size,
            freq=PANDAS_FREQ[series.frequency],
        )
        expected = grid.to_numpy().astype("datetime64[s]")
        np.testing.assert_array_equal(series.timestamps, expected, err_msg=series.name)


def test_values_agree_with_the_packages_own_loaders(panel):
    import statsmodels.api as sm
    from pmdarima import datasets
    from vega_datasets import local_data

    by_name = {s.name: s for s in panel}
    air = by_name["airpassengers"]
    assert (air.timestamps[0], air.values[0], air.values[-1]) == (
        np.datetime64("1949-01-01"), 112.0, 432.0,
    )  # Box & Jenkins series G, by hand  # fmt: skip
    co2 = sm.datasets.co2.load_pandas().data["co2"]
    np.testing.assert_allclose(by_name["co2"].values, co2.interpolate().to_numpy())
    assert by_name["co2"].note.count("59 missing weeks") == 1 and co2.isna().sum() == 59
    msft = datasets.load_msft()
    np.testing.assert_allclose(by_name["msft"].values, msft["Close"].to_numpy())
    assert by_name["msft"].timestamps[-1] == np.datetime64(msft["Date"].iloc[-1])
    assert "business-day steps over the row index" in by_name["msft"].note
    elnino = sm.datasets.elnino.load_pandas().data.set_index("YEAR")
    assert by_name["elnino"].values[12 * 3 + 6] == elnino.loc[1953, "JUL"]
    stocks = local_data.stocks()
    ibm = stocks[stocks.symbol == "IBM"].set_index("date")["price"]
    assert by_name["ibm"].values[-1] == ibm[pd.Timestamp("2010-03-01")]
    temps = local_data.seattle_temps().set_index("date")["temp"]
    seattle = by_name["seattle_temps"]
    assert seattle.values.size == temps.size + 1  # the filled daylight-saving hour
    np.testing.assert_allclose(seattle.values[:1731], temps.to_numpy()[:1731])
    taylor = by_name["taylor"]
    assert taylor.timestamps[0] == np.datetime64("2000-06-05T00:00")  # a Monday, R's start
    assert taylor.timestamps[-1] == np.datetime64("2000-08-27T23:30")  # Sunday, R's end
    yearly = by_name["sunspots_yearly"]
    assert (yearly.timestamps[0], yearly.timestamps[-1]) == (
        np.datetime64("1700-01-01"), np.datetime64("1748-01-01"),
    )  # fmt: skip


def test_a_panel_series_round_trips_through_a_long_csv(panel, tmp_path):
    chosen = [s for s in panel if s.name in ("msft", "co2", "taylor", "woolyrnq", "nile")]
    rows = [
        {"unique_id": s.name, "ds": pd.Timestamp(t).isoformat(sep=" "), "y": v}
        for s in chosen
        for t, v in zip(s.timestamps, s.values, strict=True)
    ]
    path = tmp_path / "panel.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    read, errors = read_csv(path)
    assert errors == {}
    for original, again in zip(chosen, read, strict=True):
        assert (again.name, again.frequency) == (original.name, original.frequency)
        np.testing.assert_array_equal(again.timestamps, original.timestamps)
        np.testing.assert_allclose(again.values, original.values, rtol=1e-15)


def last_horizons_split(series, horizons=3):
    cut = series.values.size - horizons * series.horizon
    return series.timestamps[cut - 1], series.timestamps[cut]


def test_the_real_panel_split_on_its_last_horizons_leaks_nothing(panel):
    report = overlap_report(panel, {s.name: last_horizons_split(s) for s in panel})
    pairs = [p["series"] for p in report["pairs"]]
    assert ("sunspots_monthly", "sunspots_yearly") in pairs
    assert ("seattle_temps", "seattle_temp_max") in pairs
    assert len(pairs) == 5  # sunspots, seattle temperature, 3 pairs of US employment
    assert report["leaks"] == []


def test_a_planted_duplicate_with_a_shifted_split_leaks(panel):
    co2 = next(s for s in panel if s.name == "co2")
    copy = dataclasses.replace(co2, name="co2_copy")
    splits = {s.name: last_horizons_split(s) for s in panel}
    splits["co2_copy"] = last_horizons_split(copy, horizons=7)  # tested on co2's training
    report = overlap_report([*panel, copy], splits)
    assert report["leaks"] == [
        {
            "quantity": co2.quantity,
            "test_of": "co2_copy",
            "train_of": "co2",
            "from": str(co2.timestamps[-7 * 13].astype("datetime64[D]")),
            "to": str(co2.timestamps[-3 * 13].astype("datetime64[D]")),
        }
    ]


def test_the_full_yearly_sunspots_would_leak(panel):
    import statsmodels.api as sm

    frame = sm.datasets.sunspots.load_pandas().data
    full = dataclasses.replace(
        next(s for s in panel if s.name == "sunspots_yearly"),
        values=frame["SUNACTIVITY"].to_numpy(float),
        timestamps=pd.date_range("1700", periods=len(frame), freq="YS").to_numpy(),
    )
    changed = [full if s.name == "sunspots_yearly" else s for s in panel]
    report = overlap_report(changed, {s.name: last_horizons_split(s) for s in changed})
    assert [(leak["test_of"], leak["train_of"]) for leak in report["leaks"]] == [
        ("sunspots_monthly", "sunspots_yearly")
    ]


def test_the_readme_data_section_is_current(panel):
    text = panel_module.README.read_text(encoding="utf-8")
    body = text.split(panel_module.README_START, 1)[1].split(panel_module.README_END, 1)[0]
    assert body.strip() == panel_module.data_section(panel).strip()
    for series in panel:
        assert f"| {series.name} | {series.frequency} | {series.values.size:,} |" in body
