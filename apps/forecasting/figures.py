"""A forecast drawn without TensorFlow (matplotlib, imported when drawing: the ``serve`` and
``train`` extras bring it): the recent history, the median forecast with its 80% and 95%
bands, and the observations flagged as anomalies. ``rnnapps predict forecasting FILE --plot
PNG``, the server (``ForecastingRuntime.answer_figure``) and ``ForecastingApp.figure`` call
``forecast_plot``.
"""

from __future__ import annotations

import io

import numpy as np

from apps.forecasting.series import parse_time, read_csv

HISTORY_SHOWN = 5  # horizons of history drawn before the forecast


def forecast_plot(predictor, raw: str, answers: list[dict]) -> bytes | None:
    """PNG bytes of the first answer's series (one panel per series, at most four)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    entries = [e for a in answers for e in a.get("series", []) if "forecast" in e][:4]
    if not entries:
        return None
    good, _ = read_csv(raw)
    by_name = {series.name: series for series in good}
    figure = Figure(figsize=(8.0, 2.6 * len(entries)), dpi=100)
    FigureCanvasAgg(figure)
    for index, entry in enumerate(entries):
        axis = figure.add_subplot(len(entries), 1, index + 1)
        series = by_name.get(entry["name"])
        if series is not None:
            shown = HISTORY_SHOWN * entry["horizon"]
            axis.plot(
                series.timestamps[-shown:],
                series.values[-shown:],
                color="black",
                linewidth=1.2,
                label="history",
            )
        times = np.array([parse_time(row["time"]) for row in entry["forecast"]])
        rows = entry["forecast"]
        axis.fill_between(
            times,
            [r["lo95"] for r in rows],
            [r["hi95"] for r in rows],
            color="tab:blue",
            alpha=0.18,
            label="95% interval",
        )
        axis.fill_between(
            times,
            [r["lo80"] for r in rows],
            [r["hi80"] for r in rows],
            color="tab:blue",
            alpha=0.35,
            label="80% interval",
        )
        axis.plot(
            times, [r["median"] for r in rows], color="tab:blue", linewidth=1.8, label="median"
        )
        flagged = [a for a in entry["anomalies"]]
        if series is not None:
            first_shown = series.timestamps[-HISTORY_SHOWN * entry["horizon"]]
            flagged = [a for a in flagged if parse_time(a["time"]) >= first_shown]
        if flagged:
            axis.scatter(
                [parse_time(a["time"]) for a in flagged],
                [a["value"] for a in flagged],
                color="tab:red",
                zorder=3,
                s=18,
                label="anomaly",
            )
        axis.set_title(
            f"{entry['name']} ({entry['frequency']}): {entry['horizon']} steps ahead", fontsize=9
        )
        axis.legend(loc="upper left", fontsize=7)
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
