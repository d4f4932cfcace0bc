"""``python -m apps.music.train [flags]``: train, export and evaluate the music app (the flags
of ``rnnapps train music``), without the suite's command line."""

import sys

from shared.train_command import main


def make_app():
    from apps.music.app import MusicApp  # after the flags are read: TensorFlow loads here

    return MusicApp()


if __name__ == "__main__":
    sys.exit(main(make_app, sys.argv[1:]))
