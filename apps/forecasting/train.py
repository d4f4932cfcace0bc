"""``python -m apps.forecasting.train [flags]``: train, export and evaluate the forecasting app
(the flags of ``rnnapps train forecasting``), without the suite's command line."""

import sys

from shared.train_command import main


def make_app():
    from apps.forecasting.app import ForecastingApp  # after the flags are read: TensorFlow loads

    return ForecastingApp()


if __name__ == "__main__":
    sys.exit(main(make_app, sys.argv[1:]))
