"""apps/forecasting/series.py: calendar phases, steps, frequency inference and CSV input."""

import datetime
import pathlib
import re

import numpy as np
import pandas as pd
import pytest

from apps.forecasting.series import (
    FREQUENCIES,
    Series,
    calendar_phase,
    check_series,
    future_timestamps,
    infer_frequency,
    read_csv,
    regular_timestamps,
)
from shared.errors import UserError

# pandas' own calendar for each frequency: an independent grid to compare ours with
PANDAS_FREQ = {
    "hourly": "h",
    "half_hourly": "30min",
    "daily": "D",
    "business_daily": "B",
    "weekly": "W-SAT",
    "monthly": "MS",
    "quarterly": "QS",
    "yearly": "YS",
}


def times(*texts: str) -> np.ndarray:
    return np.array(texts, dtype="datetime64[s]")


@pytest.mark.parametrize(
    ("frequency", "text", "expected"),
    [
        ("hourly", "2024-01-05T13:45", 13 / 24),
        ("hourly", "2024-01-05T00:59", 0.0),
        ("half_hourly", "2024-01-05T13:45", 27 / 48),
        ("half_hourly", "2024-01-05T23:30", 47 / 48),
        ("daily", "2024-01-01", 0.0),  # a Monday
        ("daily", "2024-01-07", 6 / 7),  # a Sunday
        ("business_daily", "2024-01-05", 4 / 5),  # a Friday
        ("business_daily", "2024-01-08", 0.0),  # a Monday
        ("weekly", "2024-01-01", 0.0),  # ISO week 1
        ("weekly", "2024-06-15", 23 / 52),  # ISO week 24
        ("weekly", "2020-12-31", 51 / 52),  # ISO week 53, clipped below 1
        ("weekly", "2024-12-30", 0.0),  # ISO week 1 of 2025
        ("monthly", "2024-03-15", 2 / 12),
        ("monthly", "2024-12-31T23:00", 11 / 12),
        ("quarterly", "2024-08-01", 2 / 4),
        ("yearly", "2024-08-01", 0.0),
    ],
)
def test_calendar_phase_of_hand_computed_dates(frequency, text, expected):
    phase = calendar_phase(times(text), frequency)
    assert phase.dtype == np.float32
    np.testing.assert_allclose(phase, [expected], rtol=1e-6)


def test_calendar_phase_agrees_with_pythons_calendar_over_years():
    days = np.arange("2015-01-01", "2027-01-01", dtype="datetime64[D]")
    dates = [datetime.date.fromisoformat(str(d)) for d in days]
    weekday = np.array([d.weekday() for d in dates])
    week = np.array([d.isocalendar()[1] for d in dates])
    month = np.array([d.month for d in dates])
    np.testing.assert_allclose(calendar_phase(days, "daily"), weekday / 7, rtol=1e-6)
    np.testing.assert_allclose(calendar_phase(days, "weekly"), (np.minimum(week, 52) - 1) / 52)
    np.testing.assert_allclose(calendar_phase(days, "monthly"), (month - 1) / 12, rtol=1e-6)
    np.testing.assert_allclose(calendar_phase(days, "quarterly"), ((month - 1) // 3) / 4)
    for frequency in FREQUENCIES:
        phase = calendar_phase(days, frequency)
        assert phase.min() >= 0 and phase.max() < 1, frequency


@pytest.mark.parametrize(
    ("frequency", "last", "expected"),
    [
        ("monthly", "2024-01-31", ["2024-02-29", "2024-03-31", "2024-04-30"]),
        ("monthly", "2023-11-15", ["2023-12-15", "2024-01-15", "2024-02-15"]),
        ("quarterly", "2024-11-01", ["2025-02-01", "2025-05-01", "2025-08-01"]),
        ("yearly", "2020-02-29", ["2021-02-28", "2022-02-28", "2023-02-28"]),
        ("business_daily", "2024-01-04", ["2024-01-05", "2024-01-08", "2024-01-09"]),
        ("weekly", "2024-12-28", ["2025-01-04", "2025-01-11", "2025-01-18"]),
        ("half_hourly", "2024-12-31T23:30", ["2025-01-01T00:00", "2025-01-01T00:30",
                                             "2025-01-01T01:00"]),
    ],
)  # fmt: skip
def test_future_timestamps_by_hand(frequency, last, expected):
    got = future_timestamps(np.datetime64(last), frequency, 3)
    np.testing.assert_array_equal(got, times(*expected))


@pytest.mark.parametrize("frequency", list(FREQUENCIES))
def test_regular_steps_match_pandas_calendar(frequency):
    grid = pd.date_range("1999-03-01", periods=200, freq=PANDAS_FREQ[frequency])
    expected = grid.to_numpy().astype("datetime64[s]")
    np.testing.assert_array_equal(regular_timestamps(expected[0], frequency, 200), expected)


@pytest.mark.parametrize("frequency", list(FREQUENCIES))
def test_infer_frequency_of_each_frequency(frequency):
    grid = pd.date_range("2001-07-02", periods=60, freq=PANDAS_FREQ[frequency])
    assert infer_frequency(grid.to_numpy()) == frequency


def test_infer_frequency_refuses_an_unknown_step():
    grid = np.arange(0, 20 * 10, 10).astype("timedelta64[D]") + np.datetime64("2020-01-01")
    with pytest.raises(UserError, match="10 days.*matches no frequency"):
        infer_frequency(grid)


# ---------------------------------------------------------------- CSV


def monthly_rows(name: str, count: int = 48, start: str = "2000-01") -> list[list[str]]:
    months = pd.date_range(start, periods=count, freq="MS")
    rng = np.random.default_rng(len(name))
    return [
        [name, m.strftime("%Y-%m-%d"), f"{v:.3f}"]
        for m, v in zip(months, rng.normal(size=count) + 10, strict=True)
    ]


def write(
    path: pathlib.Path, rows: list[list[str]], header=("unique_id", "ds", "y")
) -> pathlib.Path:
    path.write_text("\n".join(",".join(r) for r in [list(header), *rows]) + "\n", encoding="utf-8")
    return path


def spoil(rows, index, value=None, time=None):
    rows = [list(r) for r in rows]
    if value is not None:
        rows[index][2] = value
    if time is not None:
        rows[index][1] = time
    return rows


BAD = {  # case -> (the bad series' rows, words its message must hold)
    "non_numeric": (spoil(monthly_rows("bad"), 5, value="12.5x"), ["row 7", "2000-06-01", "not a number"]),
    "missing": (spoil(spoil(monthly_rows("bad"), 3, value=""), 9, value="NA"),
                ["2 missing", "row 5 (2000-04-01)", "row 11 (2000-10-01)"]),
    "duplicated": (spoil(monthly_rows("bad"), 4, time="2000-04-01"), ["duplicated", "2000-04-01"]),
    "irregular": (monthly_rows("bad")[:20] + monthly_rows("bad", 20, "2001-10")[:20],
                  ["irregular", "row 22 (2001-10-01)", "2001-09-01"]),
    "short": (monthly_rows("bad", 20), ["20 monthly steps", "shorter than the 36"]),
    "constant": ([[n, t, "4.0"] for n, t, _ in monthly_rows("bad")], ["constant", "4"]),
    "huge": (spoil(monthly_rows("bad"), 30, value="3e13"), ["too large", "row 32 (2002-07-01)"]),
    "infinite": (spoil(monthly_rows("bad"), 30, value="inf"), ["too large", "row 32"]),
    "bad_time": (spoil(monthly_rows("bad"), 2, time="March 2000"), ["row 4", "'March 2000'", "ISO"]),
    "odd_step": ([["bad", str(np.datetime64("2000-01-01") + np.timedelta64(10 * i, "D")), str(i % 7)]
                  for i in range(40)], ["10 days", "matches no frequency"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_series_is_named_and_the_others_still_read(tmp_path, case):
    good = monthly_rows("good")
    bad_rows, words = BAD[case]
    path = write(tmp_path / f"{case}.csv", [*bad_rows, *good, *monthly_rows("other", 40)])
    series, errors = read_csv(path)
    assert [s.name for s in series] == ["good", "other"]
    np.testing.assert_allclose(series[0].values, [float(r[2]) for r in good])
    assert series[0].frequency == "monthly"
    assert list(errors) == ["bad"]
    message = str(errors["bad"])
    assert message.startswith(f"{path}: series 'bad'"), message
    assert "\n" not in message
    for word in words:
        assert word in message, (word, message)


def test_rows_are_sorted_by_time_per_series(tmp_path):
    rows = monthly_rows("a", 40)
    path = write(
        tmp_path / "shuffled.csv", [rows[i] for i in np.random.default_rng(0).permutation(40)]
    )
    (series,), errors = read_csv(path)
    assert not errors
    np.testing.assert_allclose(series.values, [float(r[2]) for r in rows])
    np.testing.assert_array_equal(series.timestamps, times(*[r[1] for r in rows]))


def test_columns_found_by_name_or_position(tmp_path):
    # no id column: one series named after the file; the value is the last numeric column
    hours = pd.date_range("2010-01-01", periods=100, freq="h")
    lines = ["when,station,temp"] + [
        f"{h:%Y/%m/%d %H:%M},KSEA,{i % 24}.5" for i, h in enumerate(hours)
    ]
    path = tmp_path / "temps.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    (series,), errors = read_csv(path)
    assert (series.name, series.frequency, errors) == ("temps", "hourly", {})
    np.testing.assert_allclose(series.values, [i % 24 + 0.5 for i in range(100)])
    assert series.timestamps[-1] == np.datetime64("2010-01-05T03:00")


def test_year_month_times_and_a_given_frequency(tmp_path):
    path = write(tmp_path / "ym.csv", [["s", f"{2000 + i // 12}-{i % 12 + 1:02d}", str(i % 5)]
                                       for i in range(40)])  # fmt: skip
    (series,), _ = read_csv(path, frequency="monthly", min_length=40)
    assert series.timestamps[13] == np.datetime64("2001-02-01")
    _, errors = read_csv(path, frequency="quarterly")
    assert "irregular" in str(errors["s"])
    _, errors = read_csv(path, min_length=41)
    assert "shorter than the 41" in str(errors["s"])


def test_the_real_seattle_file_has_its_daylight_saving_gap_named():
    import vega_datasets

    path = pathlib.Path(vega_datasets.__file__).parent / "_data" / "seattle-temps.csv"
    frame = pd.read_csv(path, parse_dates=["date"])
    gap = int(np.flatnonzero(frame["date"].diff() != pd.Timedelta("1h"))[1])  # [0] is NaT
    series, errors = read_csv(path, frequency="hourly")
    assert series == []
    message = str(errors["seattle-temps"])
    assert f"row {gap + 2} ({frame['date'][gap]:%Y-%m-%d %H:%M:%S})" in message, message
    assert "irregular" in message


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, ["cannot read"]),
        (b"\xff\xfe\x00bad", ["cannot read", "UTF-8"]),
        (b"ds,y\n", ["header row and at least one data row"]),
        (b"ds,label\n2000-01-01,up\n2000-02-01,down\n", ["no value column", "ds, label"]),
    ],
)
def test_file_level_problems_raise(tmp_path, content, words):
    path = tmp_path / "input.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError) as raised:
        read_csv(path)
    assert str(raised.value).startswith(str(path))
    for word in words:
        assert word in str(raised.value)


def test_an_unknown_frequency_name_raises(tmp_path):
    path = write(tmp_path / "f.csv", monthly_rows("s"))
    with pytest.raises(UserError, match=r"f\.csv: unknown frequency 'fortnightly'"):
        read_csv(path, frequency="fortnightly")


def make(values, frequency="monthly", start="2000-01-01", name="mem"):
    stamps = pd.date_range(start, periods=len(values), freq=PANDAS_FREQ[frequency]).to_numpy()
    return Series(name, np.asarray(values, float), frequency, stamps, "test", "test", "q")


def test_check_series_in_memory():
    check_series(make(np.arange(40.0)))  # a good one passes
    cases = {
        "missing value(s) at index 3 (2000-04-01)": np.where(np.arange(40) == 3, np.nan, 1.0 * np.arange(40)),
        "too large": np.arange(40.0) * 1e12,
        "constant series": np.full(40, 2.5),
        "shorter than the 36": np.arange(30.0),
    }  # fmt: skip
    for words, values in cases.items():
        with pytest.raises(UserError, match=r"^series 'mem': .*" + re.escape(words)):
            check_series(make(values))
    shuffled = make(np.arange(40.0))
    swapped = shuffled.timestamps.copy()
    swapped[[4, 5]] = swapped[[5, 4]]
    with pytest.raises(UserError, match="not in order at index 5"):
        check_series(Series("mem", shuffled.values, "monthly", swapped, "", "", "q"))
    with pytest.raises(UserError, match="irregular"):
        daily = make(np.arange(40.0), "daily")
        check_series(Series("mem", daily.values, "weekly", daily.timestamps, "", "", "q"))


def test_series_properties_and_types():
    series = make([1, 2, 3], "quarterly")
    assert (series.horizon, series.period) == (8, 4)
    assert series.values.dtype == np.float64 and series.timestamps.dtype == "datetime64[s]"
    with pytest.raises(ValueError, match="frequency"):
        Series("x", np.ones(2), "fortnightly", series.timestamps[:2], "", "", "q")
