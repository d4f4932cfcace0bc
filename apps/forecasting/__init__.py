"""Forecasting: a global recurrent model over real time series, with intervals and anomalies."""
