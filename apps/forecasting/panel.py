"""The embedded default panel: real series read from files inside installed wheels.

Every series comes from data shipped in ``vega_datasets``, ``pmdarima`` or ``statsmodels``;
nothing is downloaded (pmdarima's gasoline data would be, so it is not used). A loader that
fails raises: no series is skipped silently. ``PANEL_SOURCES`` lists the series and where they
come from; ``sources_table`` renders it, with lengths, for the README's Data section.

Choices made here, each in the series' note:

- **Missing steps.** The hourly temperatures miss one hour (2010-03-14 02:00, the change to
  daylight saving time); Mauna Loa CO2 misses 59 weeks. Both are filled by linear
  interpolation.
- **Trading days.** MSFT trades on business days less exchange holidays; its timestamps are
  business-day steps over the row index, ending on the true last date (2017-11-10), so
  earlier timestamps drift from the real dates by the holidays in between.
- **Overlap.** Two series of one quantity must not let the test range of one sit inside the
  training range of the other (``overlap_report``). statsmodels' yearly sunspots
  (1700-2008) are the yearly means of the monthly ones (1749-1983) for the years both
  cover, so the yearly series keeps only 1700-1748, before the monthly one begins.
- **Too short.** vega's monthly GOOG prices (68 months, from the 2004 listing) are shorter
  than the 78 months a monthly series needs (3 horizons + 2 periods) and are left out;
  vega's monthly MSFT is left out because the daily series covers the stock.

Train side only: imports pandas, statsmodels, vega_datasets and pmdarima.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import pathlib
from collections.abc import Callable

import numpy as np

from apps.forecasting.series import (
    FREQUENCIES,
    Series,
    format_time,
    future_timestamps,
    regular_timestamps,
)

_VEGA = "vega_datasets (MIT)"
_PMDARIMA = "pmdarima (MIT)"
_STATSMODELS = "statsmodels (BSD-3-Clause)"
_NOAA = "data: public-domain NOAA data, as vega_datasets states"


@dataclasses.dataclass(frozen=True)
class PanelSource:
    """One series of the embedded panel and where it comes from.

    Args:
        name: the series' name in the panel.
        frequency: a key of ``FREQUENCIES``.
        quantity: what is measured (the overlap group).
        source: package and dataset name, original provider.
        licence: the package's licence and the data's origin as the package states it.
        load: () -> (timestamps datetime64[s] [n], values float64 [n], note).
    """

    name: str
    frequency: str
    quantity: str
    source: str
    licence: str
    load: Callable[[], tuple[np.ndarray, np.ndarray, str]]


def _interpolate(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Fill NaNs by linear interpolation over the index; (filled, how many were missing)."""
    missing = np.isnan(values)
    if missing[0] or missing[-1]:
        raise ValueError("cannot interpolate a missing first or last value")
    index = np.arange(values.size)
    filled = values.copy()
    filled[missing] = np.interp(index[missing], index[~missing], values[~missing])
    return filled, int(missing.sum())


def _on_grid(
    timestamps: np.ndarray, values: np.ndarray, frequency: str, what: str
) -> tuple[np.ndarray, np.ndarray, str]:
    """Put observations on the regular grid of `frequency`, interpolating missing steps."""
    grid_size = 1
    while regular_timestamps(timestamps[0], frequency, grid_size)[-1] < timestamps[-1]:
        grid_size = max(grid_size * 2, 2)
    grid = regular_timestamps(timestamps[0], frequency, grid_size)
    grid = grid[grid <= timestamps[-1]]
    position = np.searchsorted(grid, timestamps)
    if not np.array_equal(grid[np.minimum(position, grid.size - 1)], timestamps):
        raise ValueError(f"{what}: timestamps off the {frequency} grid")
    on_grid = np.full(grid.size, np.nan)
    on_grid[position] = values
    filled, count = _interpolate(on_grid)
    missing = grid[np.isnan(on_grid)]
    if not count:
        return grid, filled, ""
    shown = ", ".join(format_time(t) for t in missing[:3])
    unit = {"hourly": "hour", "weekly": "week"}.get(frequency, "step")
    plural = "" if count == 1 else "s"
    more = " ..." if count > 3 else ""
    return (
        grid,
        filled,
        (f"{count} missing {unit}{plural} ({shown}{more}) filled by linear interpolation"),
    )


def _from(start: str, frequency: str, values: np.ndarray) -> np.ndarray:
    return regular_timestamps(np.datetime64(start, "s"), frequency, len(values))


# ---------------------------------------------------------------- loaders


def _vega(name: str):
    from vega_datasets import local_data

    if name not in local_data.list_datasets():
        raise FileNotFoundError(f"vega_datasets: {name} is not in the installed wheel")
    return local_data(name)


def _vega_temps(name: str) -> tuple[np.ndarray, np.ndarray, str]:
    frame = _vega(name)
    timestamps = frame["date"].to_numpy().astype("datetime64[s]")
    grid, values, note = _on_grid(timestamps, frame["temp"].to_numpy(float), "hourly", name)
    if note:
        note += " (the day clocks moved to daylight saving time)"
    return grid, values, "degrees Fahrenheit; " + note


def _seattle_weather() -> tuple[np.ndarray, np.ndarray, str]:
    frame = _vega("seattle-weather")
    timestamps = frame["date"].to_numpy().astype("datetime64[s]")
    grid, values, note = _on_grid(timestamps, frame["temp_max"].to_numpy(float), "daily", "seattle")
    return grid, values, "daily maximum, degrees Celsius" + (f"; {note}" if note else "")


def _vega_stock(symbol: str) -> tuple[np.ndarray, np.ndarray, str]:
    frame = _vega("stocks")
    frame = frame[frame["symbol"] == symbol].sort_values("date")
    timestamps = frame["date"].to_numpy().astype("datetime64[s]")
    grid, values, note = _on_grid(timestamps, frame["price"].to_numpy(float), "monthly", symbol)
    return (
        grid,
        values,
        "price on the first trading day of each month" + (f"; {note}" if note else ""),
    )


def _employment(column: str) -> tuple[np.ndarray, np.ndarray, str]:
    frame = _vega("us-employment")
    timestamps = frame["month"].to_numpy().astype("datetime64[s]")
    grid, values, note = _on_grid(timestamps, frame[column].to_numpy(float), "monthly", column)
    return grid, values, "thousands of jobs, seasonally adjusted" + (f"; {note}" if note else "")


def _pmdarima(name: str, start: str, frequency: str, note: str = ""):
    def load() -> tuple[np.ndarray, np.ndarray, str]:
        from pmdarima import datasets

        values = np.asarray(getattr(datasets, f"load_{name}")(), dtype=np.float64)
        return _from(start, frequency, values), values, note

    return load


def _msft() -> tuple[np.ndarray, np.ndarray, str]:
    from pmdarima.datasets import load_msft

    frame = load_msft()
    dates = frame["Date"].to_numpy().astype("datetime64[D]")
    values = frame["Close"].to_numpy(np.float64)
    if not (np.diff(dates) > np.timedelta64(0, "D")).all():
        raise ValueError("msft: trading dates are not strictly increasing")
    last = np.datetime64(dates[-1], "s")
    first = np.busday_offset(dates[-1], -(values.size - 1), roll="backward")
    timestamps = regular_timestamps(np.datetime64(first, "s"), "business_daily", values.size)
    if timestamps[-1] != last:
        raise ValueError("msft: business-day steps do not end on the last date")
    drift = int(np.busday_count(dates[0], first))
    return (
        timestamps,
        values,
        (
            f"closing price; {values.size} trading days ({dates[0]} to {dates[-1]}) placed on "
            f"business-day steps over the row index ending on the true last date: exchange "
            f"holidays are not business-day gaps, so the first timestamp is {first}, "
            f"{abs(drift)} business days off the true {dates[0]}"
        ),
    )


def _statsmodels_frame(name: str):
    import importlib

    return importlib.import_module(f"statsmodels.datasets.{name}").load_pandas().data


def _co2() -> tuple[np.ndarray, np.ndarray, str]:
    frame = _statsmodels_frame("co2")
    timestamps = frame.index.to_numpy().astype("datetime64[s]")
    grid, values, note = _on_grid(timestamps, frame["co2"].to_numpy(float), "weekly", "co2")
    return grid, values, "ppm, weekly (Saturdays); " + note


def _elnino() -> tuple[np.ndarray, np.ndarray, str]:
    frame = _statsmodels_frame("elnino")
    years = frame["YEAR"].to_numpy(int)
    wide = frame.drop(columns="YEAR").to_numpy(np.float64)  # [years, 12 months]
    values = wide.reshape(-1)  # year by year, January to December
    return (
        _from(f"{years[0]}-01", "monthly", values),
        values,
        ("degrees Celsius, Nino 1+2 region; the table's year x month columns read row by row"),
    )


def _yearly_sunspots() -> tuple[np.ndarray, np.ndarray, str]:
    frame = _statsmodels_frame("sunspots")
    kept = frame[frame["YEAR"] < 1749]
    values = kept["SUNACTIVITY"].to_numpy(np.float64)
    return (
        _from(f"{int(kept['YEAR'].iloc[0])}", "yearly", values),
        values,
        (
            f"years 1700-1748 of the package's 1700-2008: later years overlap the monthly "
            f"sunspots (their yearly means), so they are left out ({len(frame) - len(kept)} years)"
        ),
    )


def _nile() -> tuple[np.ndarray, np.ndarray, str]:
    frame = _statsmodels_frame("nile")
    values = frame["volume"].to_numpy(np.float64)
    return (
        _from(str(int(frame["year"].iloc[0])), "yearly", values),
        values,
        ("annual flow at Aswan, 10^8 cubic metres"),
    )


# ---------------------------------------------------------------- the panel

PANEL_SOURCES: tuple[PanelSource, ...] = (
    PanelSource(
        "seattle_temps", "hourly", "seattle temperature",
        "vega_datasets seattle-temps (NOAA, Seattle 2010)", f"{_VEGA}; {_NOAA}",
        lambda: _vega_temps("seattle-temps"),
    ),
    PanelSource(
        "sf_temps", "hourly", "san francisco temperature",
        "vega_datasets sf-temps (NOAA, San Francisco 2010)", f"{_VEGA}; {_NOAA}",
        lambda: _vega_temps("sf-temps"),
    ),
    PanelSource(
        "taylor", "half_hourly", "electricity demand england and wales",
        "pmdarima load_taylor (Taylor 2003; R forecast package)",
        f"{_PMDARIMA}; data: 'kindly provided by James W Taylor', as pmdarima states",
        _pmdarima(
            "taylor", "2000-06-05", "half_hourly",
            "megawatts; from Monday 2000-06-05 00:00, the start the R forecast docs give",
        ),
    ),
    PanelSource(
        "seattle_temp_max", "daily", "seattle temperature",
        "vega_datasets seattle-weather temp_max (NOAA, 2012-2015)", f"{_VEGA}; {_NOAA}",
        _seattle_weather,
    ),
    PanelSource(
        "msft", "business_daily", "msft",
        "pmdarima load_msft Close (Kaggle 'Price, volume data for all US stocks & ETFs')",
        f"{_PMDARIMA}; data: the Kaggle stock dataset, as pmdarima states", _msft,
    ),
    PanelSource(
        "co2", "weekly", "co2 mauna loa",
        "statsmodels co2 (Scripps / CDIAC, Mauna Loa flask samples)",
        f"{_STATSMODELS}; data: public domain, as statsmodels states", _co2,
    ),
    PanelSource(
        "sunspots_monthly", "monthly", "sunspots",
        "pmdarima load_sunspots (R datasets; Zurich, then Tokyo observatories)",
        f"{_PMDARIMA}; data: R's datasets package, as pmdarima states",
        _pmdarima("sunspots", "1749-01", "monthly", "monthly mean relative sunspot number"),
    ),
    PanelSource(
        "airpassengers", "monthly", "airline passengers",
        "pmdarima load_airpassengers (Box & Jenkins series G)",
        f"{_PMDARIMA}; data: Box, Jenkins and Reinsel (1976), as pmdarima states",
        _pmdarima("airpassengers", "1949-01", "monthly", "thousands of passengers"),
    ),
    PanelSource(
        "wineind", "monthly", "australian wine sales",
        "pmdarima load_wineind (R forecast package)",
        f"{_PMDARIMA}; data: R's forecast package, as pmdarima states",
        _pmdarima("wineind", "1980-01", "monthly", "bottles of at most 1 litre"),
    ),
    PanelSource(
        "elnino", "monthly", "sea surface temperature nino 1+2",
        "statsmodels elnino (NOAA NWS, ERSST.V3B Nino 1+2)",
        f"{_STATSMODELS}; data: public domain, as statsmodels states", _elnino,
    ),
    *(
        PanelSource(
            symbol.lower(), "monthly", symbol.lower(), f"vega_datasets stocks {symbol}",
            f"{_VEGA}; data: origin not stated by the package", lambda s=symbol: _vega_stock(s),
        )
        for symbol in ("AAPL", "AMZN", "IBM")
    ),
    *(
        PanelSource(
            f"us_employment_{column}", "monthly", "us employment",
            f"vega_datasets us-employment {column} (BLS Current Employment Statistics)",
            f"{_VEGA}; data: public domain (US government), as vega_datasets states",
            lambda c=column: _employment(c),
        )
        for column in ("nonfarm", "construction", "leisure_and_hospitality")
    ),
    PanelSource(
        "woolyrnq", "quarterly", "australian woollen yarn",
        "pmdarima load_woolyrnq (R forecast package)",
        f"{_PMDARIMA}; data: R's forecast package, as pmdarima states",
        _pmdarima("woolyrnq", "1965-01", "quarterly", "tonnes"),
    ),
    PanelSource(
        "austres", "quarterly", "australian residents",
        "pmdarima load_austres (Brockwell & Davis 1996; R datasets)",
        f"{_PMDARIMA}; data: Brockwell and Davis (1996), as pmdarima states",
        _pmdarima(
            "austres", "1971-04", "quarterly",
            "thousands of residents; the package says 'from March 1971'; its 89 quarters are "
            "placed from 1971 Q2 to 1993 Q2, as R's datasets::austres ts starts",
        ),
    ),
    PanelSource(
        "lynx", "yearly", "lynx trappings",
        "pmdarima load_lynx (Hudson's Bay Company; Brockwell & Davis 1991)",
        f"{_PMDARIMA}; data: Brockwell and Davis (1991), R's datasets, as pmdarima states",
        _pmdarima("lynx", "1821", "yearly", "lynx skins trapped, 1821-1934"),
    ),
    PanelSource(
        "sunspots_yearly", "yearly", "sunspots",
        "statsmodels sunspots (NOAA National Geophysical Data Center)",
        f"{_STATSMODELS}; data: public domain, as statsmodels states", _yearly_sunspots,
    ),
    PanelSource(
        "nile", "yearly", "nile flow",
        "statsmodels nile (Cobb 1978; Aswan 1871-1970)",
        f"{_STATSMODELS}; data: public domain, as statsmodels states", _nile,
    ),
)  # fmt: skip


def embedded_panel() -> list[Series]:
    """Every series of ``PANEL_SOURCES``, read from the installed wheels (no network).

    Returns:
        Series in ``PANEL_SOURCES`` order, finite values, timestamps on their frequency's
        regular grid.

    Example:
        >>> panel = embedded_panel()
        >>> panel[0].name, panel[0].frequency
        ('seattle_temps', 'hourly')
    """
    panel = []
    for entry in PANEL_SOURCES:
        timestamps, values, note = entry.load()
        panel.append(
            Series(
                name=entry.name,
                values=values,
                frequency=entry.frequency,
                timestamps=timestamps,
                source=entry.source,
                licence=entry.licence,
                quantity=entry.quantity,
                note=note.strip("; "),
            )
        )
    return panel


def package_versions() -> dict[str, str]:
    """The installed versions of the packages the panel is read from (to pin)."""
    return {
        name: importlib.metadata.version(name)
        for name in ("vega_datasets", "pmdarima", "statsmodels", "pandas")
    }


def sources_table(panel: list[Series]) -> str:
    """The README's Data table: name, frequency, length, span, source, licence, note.

    Example:
        >>> print(sources_table(embedded_panel())[:40])  # doctest: +SKIP
        | Series | Frequency | Length | Span | S
    """
    lines = [
        "| Series | Frequency | Length | Span | Source | Licence | Note |",
        "|---|---|---:|---|---|---|---|",
    ]
    for series in panel:
        span = f"{series.timestamps[0].astype('datetime64[D]')} to "
        span += f"{series.timestamps[-1].astype('datetime64[D]')}"
        lines.append(
            f"| {series.name} | {series.frequency} | {series.values.size:,} | {span} | "
            f"{series.source} | {series.licence} | {series.note} |"
        )
    return "\n".join(lines)


LEFT_OUT = (
    "Left out: vega_datasets' monthly GOOG (68 months, shorter than the 78 a monthly series "
    "needs: 3 horizons + 2 periods) and monthly MSFT (the daily series covers the stock); "
    "statsmodels' yearly sunspots after 1748 (the yearly means of the monthly series); "
    "pmdarima's gasoline (downloaded, not in the wheel)."
)
README = pathlib.Path(__file__).with_name("README.md")
README_START = "<!-- forecasting-data:start (generated by apps.forecasting.panel) -->"
README_END = "<!-- forecasting-data:end -->"


def data_section(panel: list[Series]) -> str:
    """The generated body of the README's Data section (between the markers)."""
    versions = ", ".join(f"{k}=={v}" for k, v in package_versions().items())
    return (
        f"{len(panel)} real series, read offline from files inside installed wheels "
        f"({versions}). Horizons and periods per frequency: "
        + ", ".join(f"{k} {f.horizon} / {f.period}" for k, f in FREQUENCIES.items())
        + ".\n\n"
        + sources_table(panel)
        + "\n\n"
        + LEFT_OUT
    )


def update_readme(readme: pathlib.Path = README, panel: list[Series] | None = None) -> None:
    """Rewrite the Data section between ``README_START`` and ``README_END`` in `readme`.

    Run ``python -m apps.forecasting.panel`` after changing the panel or a package version.
    """
    from shared.report import update_block

    body = data_section(embedded_panel() if panel is None else panel)
    update_block(readme, README_START, README_END, body)


# ---------------------------------------------------------------- overlap


def _end_of(timestamp: np.datetime64, frequency: str) -> np.datetime64:
    """The end of the period that starts at `timestamp` (the next timestamp)."""
    return future_timestamps(timestamp, frequency, 1)[0]


def overlap_report(
    panel: list[Series], splits_by_name: dict[str, tuple[np.datetime64, np.datetime64]]
) -> dict:
    """Test/train leaks between series of one quantity.

    A series' training range is the time from its first timestamp to the end of the period
    that starts at `train_end`; its test range is from `test_start` to the end of its last
    period. For each ordered pair (a, b) of series of one quantity, a's test range sharing
    any time with b's training range is a leak: the model saw, in b, the time it is scored
    on in a (monthly sunspots of 1980 inside the yearly ones, say).

    Args:
        panel: the series.
        splits_by_name: series name -> (last training timestamp, first test timestamp), as
            datetime64. Every series of a quantity shared with another must have one.

    Returns:
        {"pairs": [{"quantity", "series": (a, b)}...] (unordered, a before b in the panel),
         "leaks": [{"quantity", "test_of", "train_of", "from", "to"}...] (ordered; the shared
         time as ISO text)}.

    Example:
        >>> overlap_report(panel, {s.name: (s.timestamps[-55], s.timestamps[-54])
        ...                        for s in panel})["leaks"]  # doctest: +SKIP
        []
    """
    groups: dict[str, list[Series]] = {}
    for series in panel:
        groups.setdefault(series.quantity, []).append(series)
    pairs, leaks = [], []
    for quantity, members in groups.items():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                pairs.append({"quantity": quantity, "series": (a.name, b.name)})
                for test, train in ((a, b), (b, a)):
                    shared = _shared_time(test, train, splits_by_name)
                    if shared:
                        leaks.append(
                            {"quantity": quantity, "test_of": test.name,
                             "train_of": train.name, "from": shared[0], "to": shared[1]}
                        )  # fmt: skip
    return {"pairs": pairs, "leaks": leaks}


def _shared_time(test: Series, train: Series, splits: dict) -> tuple[str, str] | None:
    for series in (test, train):
        if series.name not in splits:
            raise ValueError(f"overlap_report: no split for series {series.name!r}")
    test_from = np.datetime64(splits[test.name][1], "s")
    test_to = _end_of(test.timestamps[-1], test.frequency)
    train_from = train.timestamps[0]
    train_to = _end_of(np.datetime64(splits[train.name][0], "s"), train.frequency)
    start, end = max(test_from, train_from), min(test_to, train_to)
    if start >= end:
        return None
    return format_time(start), format_time(end)


if __name__ == "__main__":
    update_readme()
