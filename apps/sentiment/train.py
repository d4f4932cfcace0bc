"""``python -m apps.sentiment.train [flags]``: train, export and evaluate the sentiment app
(the flags of ``rnnapps train sentiment``), without the suite's command line."""

import sys

from shared.train_command import main


def make_app():
    from apps.sentiment.app import SentimentApp  # after the flags are read: TensorFlow loads here

    return SentimentApp()


if __name__ == "__main__":
    sys.exit(main(make_app, sys.argv[1:]))
