"""``python -m apps.translation.train [flags]``: train, export and evaluate the translation app
(the flags of ``rnnapps train translation``), without the suite's command line."""

import sys

from shared.train_command import main


def make_app():
    from apps.translation.app import (
        TranslationApp,  # after the flags are read: TensorFlow loads here
    )

    return TranslationApp()


if __name__ == "__main__":
    sys.exit(main(make_app, sys.argv[1:]))
