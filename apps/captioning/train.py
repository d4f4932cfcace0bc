"""``python -m apps.captioning.train [flags]``: train, export and evaluate the captioning app
(the flags of ``rnnapps train captioning``), without the suite's command line."""

import sys

from shared.train_command import main


def make_app():
    from apps.captioning.app import CaptioningApp  # after the flags are read: TensorFlow loads here

    return CaptioningApp()


if __name__ == "__main__":
    sys.exit(main(make_app, sys.argv[1:]))
