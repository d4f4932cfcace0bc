"""``python -m apps.text_generation.train [flags]``: train, export and evaluate the text generation app
(the flags of ``rnnapps train text_generation``), without the suite's command line."""

import sys

from shared.train_command import main


def make_app():
    from apps.text_generation.app import (
        TextGenerationApp,  # after the flags are read: TensorFlow loads here
    )

    return TextGenerationApp()


if __name__ == "__main__":
    sys.exit(main(make_app, sys.argv[1:]))
