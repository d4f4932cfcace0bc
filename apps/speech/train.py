"""``python -m apps.speech.train [flags]``: train, export and evaluate the speech app
(the flags of ``rnnapps train speech``), without the suite's command line."""

import sys

from shared.train_command import main


def make_app():
    from apps.speech.app import SpeechApp  # after the flags are read: TensorFlow loads here

    return SpeechApp()


if __name__ == "__main__":
    sys.exit(main(make_app, sys.argv[1:]))
