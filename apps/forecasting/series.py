"""Time series for forecasting: frequencies, the Series record, calendar phases, CSV input.

Runs on device: only the standard library, NumPy and ``shared.errors`` (no pandas).

A CSV is read in long format, as Nixtla's libraries take it: one row per observation, a time
column (``ds``, ``date``, ``time``, ``timestamp`` or the first column), a value column (``y``,
``value``, else the last numeric column) and an optional series id (``unique_id``, ``id``,
``series``). Times are ISO dates or datetimes (``2024-01-31``, ``2024-01-31 13:30``,
``2024-01-31T13:30:00``; ``2024/01/31`` too), ``YYYY-MM`` or ``YYYY``. Gaps are refused, not
filled: a missing value or a missing step is an error naming where it is.

Frequencies, horizons and seasonal periods follow M4 (hourly 48 / 24, daily 14 / 7, weekly
13 / 52, monthly 18 / 12, quarterly 8 / 4, yearly 6 / 1); half-hourly (48 / 48) and business
days (14 / 5) are ours.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import pathlib
import re
import statistics

import numpy as np

from shared.errors import UserError

HUGE = 1e12  # |value| above this is refused: float32 inference loses all precision near it
_MISSING = {"", "na", "nan", "n/a", "null", "none", "-"}
_TIME_NAMES = ("ds", "date", "time", "timestamp")
_VALUE_NAMES = ("y", "value")
_ID_NAMES = ("unique_id", "id", "series")
_SHOWN = 5  # at most this many rows are listed in one message


@dataclasses.dataclass(frozen=True)
class Frequency:
    """How often a series is observed, and how far and with what season it is forecast.

    Args:
        horizon: steps forecast ahead (M4's horizon for the frequency).
        period: steps in one seasonal cycle (1: no season).
        step: the fixed time between observations, or None for calendar steps (months,
            quarters, years). Business days have a one-day step that skips weekends.

    Example:
        >>> FREQUENCIES["monthly"].horizon, FREQUENCIES["monthly"].period
        (18, 12)
    """

    horizon: int
    period: int
    step: np.timedelta64 | None


FREQUENCIES: dict[str, Frequency] = {
    "hourly": Frequency(48, 24, np.timedelta64(1, "h")),
    "half_hourly": Frequency(48, 48, np.timedelta64(30, "m")),
    "daily": Frequency(14, 7, np.timedelta64(1, "D")),
    "business_daily": Frequency(14, 5, np.timedelta64(1, "D")),
    "weekly": Frequency(13, 52, np.timedelta64(7, "D")),
    "monthly": Frequency(18, 12, None),
    "quarterly": Frequency(8, 4, None),
    "yearly": Frequency(6, 1, None),
}
_MONTHS = {"monthly": 1, "quarterly": 3, "yearly": 12}  # calendar steps, in months


@dataclasses.dataclass(frozen=True, eq=False)
class Series:
    """One observed time series and where it comes from.

    Args:
        name: unique within a panel (the CSV's series id, or the file's stem).
        values: float64 [n], finite.
        frequency: a key of ``FREQUENCIES``.
        timestamps: datetime64[s] [n], strictly increasing, one frequency step apart.
        source: package and dataset name, original provider.
        licence: the licence of the package and the origin of the data as it states it.
        quantity: what is measured; two series of one quantity (monthly and yearly
            sunspots) form an overlap group, checked for test/train leaks.
        note: what was done to the data (e.g. "59 missing weeks filled by linear
            interpolation").

    Example:
        >>> s = Series("x", np.arange(3.0), "yearly", future_timestamps(
        ...     np.datetime64("1999-01-01"), "yearly", 3), "", "", "x")
        >>> s.horizon, str(s.timestamps[0])
        (6, '2000-01-01T00:00:00')
    """

    name: str
    values: np.ndarray
    frequency: str
    timestamps: np.ndarray
    source: str
    licence: str
    quantity: str
    note: str = ""

    def __post_init__(self) -> None:
        if self.frequency not in FREQUENCIES:
            raise ValueError(
                f"frequency must be one of {sorted(FREQUENCIES)}, got {self.frequency!r}"
            )
        values = np.asarray(self.values, dtype=np.float64)
        timestamps = np.asarray(self.timestamps).astype("datetime64[s]")
        if values.ndim != 1 or values.shape != timestamps.shape:
            raise ValueError(
                f"values {values.shape} and timestamps {timestamps.shape} must be one 1-D length"
            )
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "timestamps", timestamps)

    @property
    def horizon(self) -> int:
        """Steps forecast ahead, from ``FREQUENCIES``."""
        return FREQUENCIES[self.frequency].horizon

    @property
    def period(self) -> int:
        """Steps in one seasonal cycle, from ``FREQUENCIES``."""
        return FREQUENCIES[self.frequency].period


# ---------------------------------------------------------------- calendar


def _days(timestamps: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 (int64)."""
    return np.asarray(timestamps).astype("datetime64[D]").astype(np.int64)


def _weekday(timestamps: np.ndarray) -> np.ndarray:
    """Monday 0 ... Sunday 6 (1970-01-01 was a Thursday)."""
    return (_days(timestamps) + 3) % 7


def _iso_week(timestamps: np.ndarray) -> np.ndarray:
    """ISO 8601 week number (1-53): the week of the year that holds the week's Thursday."""
    thursday = (_days(timestamps) - _weekday(timestamps) + 3).astype("datetime64[D]")
    new_year = thursday.astype("datetime64[Y]").astype("datetime64[D]")
    return (thursday - new_year).astype(np.int64) // 7 + 1


def calendar_phase(timestamps: np.ndarray, frequency: str) -> np.ndarray:
    """Where each timestamp sits in its seasonal period, from the calendar, in [0, 1).

    hourly: hour / 24; half_hourly: (2 * hour + minute // 30) / 48; daily: weekday / 7
    (Monday 0); business_daily: weekday / 5 (a weekend day counts as Friday); weekly:
    (ISO week - 1) / 52, week 53 as week 52; monthly: (month - 1) / 12; quarterly:
    (quarter - 1) / 4; yearly: 0.

    Args:
        timestamps: datetime64 [n].
        frequency: a key of ``FREQUENCIES``.

    Returns:
        float32 [n].

    Example:
        >>> calendar_phase(np.array(["2024-03-15"], "datetime64[s]"), "monthly")
        array([0.16666667], dtype=float32)
    """
    timestamps = np.asarray(timestamps).astype("datetime64[s]")
    seconds = (timestamps - timestamps.astype("datetime64[D]")).astype(np.int64)
    months = timestamps.astype("datetime64[M]").astype(np.int64) % 12  # January 0
    if frequency == "hourly":
        phase = (seconds // 3600) / 24
    elif frequency == "half_hourly":
        phase = (seconds // 1800) / 48
    elif frequency == "daily":
        phase = _weekday(timestamps) / 7
    elif frequency == "business_daily":
        phase = np.minimum(_weekday(timestamps), 4) / 5
    elif frequency == "weekly":
        phase = np.minimum(_iso_week(timestamps) - 1, 51) / 52
    elif frequency == "monthly":
        phase = months / 12
    elif frequency == "quarterly":
        phase = (months // 3) / 4
    elif frequency == "yearly":
        phase = np.zeros(timestamps.shape)
    else:
        raise ValueError(f"frequency must be one of {sorted(FREQUENCIES)}, got {frequency!r}")
    return phase.astype(np.float32)


def _calendar_steps(start: np.datetime64, months: int, count: int) -> np.ndarray:
    """`count` timestamps from `start` (included), `months` calendar months apart.

    The day of the month is kept (clipped to the month's length); a start on the last day of
    its month gives month ends.
    """
    month = start.astype("datetime64[M]")
    day_start = month.astype("datetime64[D]")
    offset = start - day_start.astype("datetime64[s]")  # days and time into the month
    month_end = (month + 1).astype("datetime64[D]") - np.timedelta64(1, "D")
    months_out = month + np.arange(count) * months
    first_days = months_out.astype("datetime64[D]")
    lengths = ((months_out + 1).astype("datetime64[D]") - first_days).astype(np.int64)
    day = offset.astype("timedelta64[D]").astype(np.int64)
    time_of_day = offset - np.timedelta64(day, "D").astype("timedelta64[s]")
    if start.astype("datetime64[D]") == month_end:
        days = lengths - 1
    else:
        days = np.minimum(day, lengths - 1)
    return (
        first_days.astype("datetime64[s]") + days.astype("timedelta64[D]") + time_of_day
    ).astype("datetime64[s]")


def regular_timestamps(start: np.datetime64, frequency: str, count: int) -> np.ndarray:
    """`count` timestamps one `frequency` step apart, the first being `start`.

    Args:
        start: the first timestamp (a weekday for business_daily).
        frequency: a key of ``FREQUENCIES``.
        count: how many.

    Returns:
        datetime64[s] [count].
    """
    start = np.datetime64(start, "s")
    if frequency in _MONTHS:
        return _calendar_steps(start, _MONTHS[frequency], count)
    if frequency == "business_daily":
        day = start.astype("datetime64[D]")
        time_of_day = start - day.astype("datetime64[s]")
        days = np.busday_offset(day, np.arange(count), roll="forward")
        return days.astype("datetime64[s]") + time_of_day
    if frequency not in FREQUENCIES:
        raise ValueError(f"frequency must be one of {sorted(FREQUENCIES)}, got {frequency!r}")
    step = FREQUENCIES[frequency].step.astype("timedelta64[s]")
    return start + np.arange(count) * step


def future_timestamps(last: np.datetime64, frequency: str, count: int) -> np.ndarray:
    """The `count` timestamps that follow `last` at `frequency`.

    Business days skip weekends; monthly, quarterly and yearly steps add calendar months
    (keeping the day of the month, or the month's end).

    Args:
        last: the last observed timestamp.
        frequency: a key of ``FREQUENCIES``.
        count: how many steps ahead.

    Returns:
        datetime64[s] [count].

    Example:
        >>> future_timestamps(np.datetime64("2024-01-31"), "monthly", 2)
        array(['2024-02-29T00:00:00', '2024-03-31T00:00:00'], dtype='datetime64[s]')
    """
    return regular_timestamps(last, frequency, count + 1)[1:]


def infer_frequency(timestamps: np.ndarray, name: str = "timestamps") -> str:
    """The frequency whose step matches the median step between `timestamps`.

    A median step of one day with no weekend date (and some Friday-to-Monday step) is
    business_daily.

    Args:
        timestamps: datetime64 [n], sorted, n >= 2.
        name: the input named in an error message.

    Returns:
        A key of ``FREQUENCIES``.

    Raises:
        UserError: fewer than two timestamps, or a median step that fits no frequency.

    Example:
        >>> infer_frequency(np.array(["2024-01-01", "2024-01-08", "2024-01-15"], "datetime64[D]"))
        'weekly'
    """
    timestamps = np.asarray(timestamps).astype("datetime64[s]")
    if timestamps.size < 2:
        raise UserError(f"{name}: need at least 2 timestamps to tell the frequency")
    steps = np.diff(timestamps).astype(np.int64)
    median = statistics.median(steps.tolist())  # seconds
    day = 86400
    fixed = {1800: "half_hourly", 3600: "hourly", 7 * day: "weekly"}
    if median in fixed:
        return fixed[median]
    if median == day:
        weekend = np.isin(_weekday(timestamps), (5, 6)).any()
        return "daily" if weekend or not (steps == 3 * day).any() else "business_daily"
    for frequency, (low, high) in {
        "monthly": (28, 31),
        "quarterly": (89, 92),
        "yearly": (365, 366),
    }.items():
        if low * day <= median <= high * day:
            return frequency
    raise UserError(
        f"{name}: the median step between timestamps ({_duration(median)}) matches no "
        f"frequency (one of {', '.join(FREQUENCIES)}); pass the frequency"
    )


def _duration(seconds: float) -> str:
    if seconds % 86400 == 0:
        return f"{int(seconds // 86400)} days"
    return f"{seconds / 3600:g} hours"


# ---------------------------------------------------------------- checks


def _rows(rows: list, limit: int = _SHOWN) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def _check_values(
    values: np.ndarray, where: list[str], label: str, min_length: int | None, frequency: str
) -> None:
    """Raise a UserError for missing, huge, too few or constant values.

    `where` names each value's place (a CSV row and time, or an index and time)."""
    missing = np.flatnonzero(np.isnan(values))
    if missing.size:
        raise UserError(
            f"{label}: {missing.size} missing value(s) at {_rows([where[i] for i in missing])}; "
            "gaps are refused, fill or drop them"
        )
    huge = np.flatnonzero(~(np.abs(values) <= HUGE))
    if huge.size:
        i = huge[0]
        raise UserError(
            f"{label}: value {values[i]:g} at {where[i]} is too large (|value| > {HUGE:g}); "
            "rescale the series"
        )
    needed = 2 * FREQUENCIES[frequency].horizon if min_length is None else min_length
    if values.size < needed:
        raise UserError(
            f"{label}: history of {values.size} {frequency} steps is shorter than the "
            f"{needed} needed"
        )
    if values.size and np.all(values == values[0]):
        raise UserError(
            f"{label}: constant series (every value is {values[0]:g}); nothing to forecast"
        )


def _check_times(timestamps: np.ndarray, where: list[str], label: str, frequency: str) -> None:
    """Raise a UserError for unsorted, duplicated or irregular timestamps."""
    steps = np.diff(timestamps)
    if (steps < np.timedelta64(0, "s")).any():
        i = int(np.flatnonzero(steps < np.timedelta64(0, "s"))[0]) + 1
        raise UserError(f"{label}: timestamps are not in order at {where[i]}")
    duplicated = np.flatnonzero(steps == np.timedelta64(0, "s")) + 1
    if duplicated.size:
        raise UserError(
            f"{label}: duplicated timestamp(s) at {_rows([where[i] for i in duplicated])}"
        )
    if not timestamps.size:
        return
    if frequency == "business_daily" and _weekday(timestamps[:1])[0] >= 5:
        raise UserError(f"{label}: business_daily series starts on a weekend at {where[0]}")
    expected = regular_timestamps(timestamps[0], frequency, timestamps.size)
    wrong = np.flatnonzero(expected != timestamps)
    if wrong.size:
        i = int(wrong[0])
        raise UserError(
            f"{label}: irregular timestamps: {where[i]} should be {format_time(expected[i])} "
            f"for {frequency} steps after {where[i - 1]}"
        )


def format_time(timestamp: np.datetime64) -> str:
    """ISO text of a timestamp, without a midnight time: 2024-01-31, 2024-01-31 13:30:00."""
    text = str(np.datetime64(timestamp, "s")).replace("T", " ")
    return text.removesuffix(" 00:00:00")


def check_series(series: Series, min_length: int | None = None) -> None:
    """Check a Series built in memory as ``read_csv`` checks a file's series.

    Args:
        series: the series.
        min_length: the shortest history accepted (default 2 * horizon).

    Raises:
        UserError: missing (NaN) or huge values, too short, constant, unordered,
            duplicated or irregular timestamps; the message names the series and where.

    Example:
        >>> check_series(Series("flat", np.ones(40), "yearly",
        ...     regular_timestamps(np.datetime64("1980-01-01"), "yearly", 40), "", "", "x"))
        Traceback (most recent call last):
        ...
        shared.errors.UserError: series 'flat': constant series (every value is 1); nothing to forecast
    """
    label = f"series '{series.name}'"
    where = [f"index {i} ({format_time(t)})" for i, t in enumerate(series.timestamps)]
    _check_times(series.timestamps, where, label, series.frequency)
    _check_values(series.values, where, label, min_length, series.frequency)


# ---------------------------------------------------------------- CSV


_SLASHED = re.compile(r"^\d{4}/\d{1,2}(/\d{1,2})?")


def parse_time(text: str) -> np.datetime64:
    """An ISO date or datetime, ``YYYY-MM`` or ``YYYY`` (or slashes for dashes) -> datetime64[s].

    Raises:
        ValueError: anything else.
    """
    text = text.strip()
    if _SLASHED.match(text):
        text = text.replace("/", "-", 2)
    parts = text.split(" ", 1)
    if len(parts) == 2:  # numpy wants 2024-01-05T13:30, not 2024-01-05 13:30
        text = "T".join(parts)
    if not text or text[0] in "+-" or text.endswith("Z") or re.search(r"[+-]\d\d:?\d\d$", text):
        raise ValueError(text)  # signs are odd years; time zones are not taken
    return np.datetime64(text, "s")


def _read_rows(path: pathlib.Path) -> list[list[str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise UserError(f"{path}: cannot read the file as UTF-8 CSV ({error})") from None
    if len(rows) < 2:
        raise UserError(f"{path}: needs a header row and at least one data row")
    return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _find_columns(path: pathlib.Path, rows: list[list[str]]) -> tuple[int, int, int | None]:
    """(time, value, id or None) column indices, from the header names or the content."""
    header = [name.strip().lower() for name in rows[0]]

    def named(names: tuple[str, ...]) -> int | None:
        return next((header.index(n) for n in names if n in header), None)

    time_column = named(_TIME_NAMES)
    time_column = 0 if time_column is None else time_column
    id_column = named(_ID_NAMES)
    value_column = named(_VALUE_NAMES)
    if value_column is None:
        others = [i for i in range(len(header)) if i not in (time_column, id_column)]
        sample = rows[1:201]
        numeric = [
            i
            for i in others
            if sum(_is_number(r[i]) for r in sample if i < len(r) and r[i].strip())
            > sum(1 for r in sample if i < len(r) and r[i].strip()) / 2
        ]
        value_column = numeric[-1] if numeric else None
    if value_column is None:
        raise UserError(
            f"{path}: no value column (name one 'y' or 'value'); header: {', '.join(rows[0])}"
        )
    if value_column == time_column:
        raise UserError(f"{path}: no time column beside the value column '{rows[0][value_column]}'")
    return time_column, value_column, id_column


def _parse_series(
    path: pathlib.Path, name: str, records: list[tuple[int, list[str]]], columns: tuple
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(timestamps, values, line numbers) of one series' rows, sorted by time."""
    time_column, value_column, _ = columns
    label = f"{path}: series '{name}'"
    times, values, lines = [], [], []
    for line, row in records:
        if max(time_column, value_column) >= len(row):
            raise UserError(f"{label}, row {line}: has {len(row)} fields, too few")
        try:
            times.append(parse_time(row[time_column]))
        except ValueError:
            raise UserError(
                f"{label}, row {line}: time {row[time_column]!r} is not an ISO date or datetime "
                "(YYYY-MM-DD[ HH:MM[:SS]], YYYY-MM or YYYY)"
            ) from None
        text = row[value_column].strip()
        if text.lower() in _MISSING:
            values.append(math.nan)
        elif _is_number(text) and not math.isnan(float(text)):
            values.append(float(text))
        else:
            raise UserError(
                f"{label}, row {line} ({format_time(times[-1])}): value {text!r} is not a number"
            )
        lines.append(line)
    timestamps = np.array(times, dtype="datetime64[s]")
    order = np.argsort(timestamps, kind="stable")
    return timestamps[order], np.array(values)[order], [lines[i] for i in order]


def read_csv(
    path: str | pathlib.Path, frequency: str | None = None, min_length: int | None = None
) -> tuple[list[Series], dict[str, UserError]]:
    """Read a long-format CSV: one series per id (or one for the file), each checked.

    Args:
        path: the CSV file.
        frequency: a key of ``FREQUENCIES``; None infers each series' own from its median
            step.
        min_length: the shortest history accepted (default 2 * horizon of the frequency).

    Returns:
        (the good series in file order, {series name: UserError} for the bad ones). A bad
        series does not stop the others; each error names the file, the series and the
        row or time, in one line.

    Raises:
        UserError: a problem with the whole file: unreadable, no rows, no value column,
            an unknown frequency name.

    Example:
        >>> good, bad = read_csv("sales.csv")  # doctest: +SKIP
        >>> [s.name for s in good], {k: str(e) for k, e in bad.items()}  # doctest: +SKIP
        (['shop_1'], {'shop_2': "sales.csv: series 'shop_2', row 9 (2024-03-01): value 'x' ..."})
    """
    path = pathlib.Path(path)
    if frequency is not None and frequency not in FREQUENCIES:
        raise UserError(
            f"{path}: unknown frequency {frequency!r}; expected one of {', '.join(FREQUENCIES)}"
        )
    rows = _read_rows(path)
    columns = _find_columns(path, rows)
    id_column = columns[2]
    groups: dict[str, list[tuple[int, list[str]]]] = {}
    for line, row in enumerate(rows[1:], start=2):
        key = row[id_column].strip() if id_column is not None and id_column < len(row) else ""
        groups.setdefault(key or path.stem, []).append((line, row))
    good, bad = [], {}
    for name, records in groups.items():
        try:
            good.append(_read_series(path, name, records, columns, frequency, min_length))
        except UserError as error:
            bad[name] = error
    return good, bad


def _read_series(
    path: pathlib.Path,
    name: str,
    records: list[tuple[int, list[str]]],
    columns: tuple,
    frequency: str | None,
    min_length: int | None,
) -> Series:
    label = f"{path}: series '{name}'"
    timestamps, values, lines = _parse_series(path, name, records, columns)
    where = [f"row {line} ({format_time(t)})" for line, t in zip(lines, timestamps, strict=True)]
    duplicated = np.flatnonzero(np.diff(timestamps) == np.timedelta64(0, "s")) + 1
    if duplicated.size:  # before inferring: repeated times would drag the median step to 0
        raise UserError(
            f"{label}: duplicated timestamp(s) at {_rows([where[i] for i in duplicated])}"
        )
    if frequency is None:
        frequency = infer_frequency(timestamps, label)
    _check_times(timestamps, where, label, frequency)
    _check_values(values, where, label, min_length, frequency)
    return Series(
        name=name,
        values=values,
        frequency=frequency,
        timestamps=timestamps,
        source=f"file {path.name}",
        licence="the user's own data",
        quantity=name,
    )


def write_csv(path: str | pathlib.Path, panel: list[Series]) -> None:
    """Write series in the long format ``read_csv`` reads: unique_id, ds, y.

    Example:
        >>> write_csv("panel.csv", embedded_panel())  # doctest: +SKIP
    """
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["unique_id", "ds", "y"])
        for series in panel:
            for timestamp, value in zip(series.timestamps, series.values, strict=True):
                writer.writerow([series.name, format_time(timestamp), repr(float(value))])
