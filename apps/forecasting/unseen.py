"""Series the model never trains on, from another source: the shifted test set.

Four quarterly US macroeconomic series of statsmodels' ``macrodata`` (1959 Q1 to 2009 Q3,
from the St. Louis Fed's FRED and the BEA, public domain as statsmodels states). Training
reads the embedded panel only; these are forecast zero-shot, on the same rolling-origin
windows and measures, beside seasonal naive and Comb.
"""

from __future__ import annotations

import numpy as np

from apps.forecasting.series import Series, regular_timestamps

COLUMNS = {
    "realgdp": "real GDP, billions of chained 2005 dollars",
    "cpi": "consumer price index",
    "unemp": "unemployment rate, percent",
    "realcons": "real personal consumption, billions of chained 2005 dollars",
}
DESCRIPTION = (
    "unseen_series: four quarterly US macro series (statsmodels macrodata: real GDP, CPI, "
    "unemployment, consumption) the model never trained on, forecast zero-shot"
)


def unseen_series() -> list[Series]:
    """The four macrodata series (train-side: statsmodels reads its bundled CSV)."""
    import statsmodels.api as sm

    frame = sm.datasets.macrodata.load_pandas().data
    start = np.datetime64(f"{int(frame['year'].iloc[0])}-01-01T00:00:00")
    stamps = regular_timestamps(start, "quarterly", len(frame))
    return [
        Series(
            name=f"macro_{column}",
            values=frame[column].to_numpy(np.float64),
            frequency="quarterly",
            timestamps=stamps,
            source=f"statsmodels macrodata {column} (FRED / BEA)",
            licence="statsmodels (BSD-3-Clause); data: public domain, as statsmodels states",
            quantity=f"us {column}",
            note=note,
        )
        for column, note in COLUMNS.items()
    ]
