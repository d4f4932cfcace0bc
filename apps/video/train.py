"""``python -m apps.video.train [flags]``: train, export and evaluate the video app
(the flags of ``rnnapps train video``), without the suite's command line."""

import sys

from shared.train_command import main


def make_app():
    from apps.video.app import VideoApp  # after the flags are read: TensorFlow loads here

    return VideoApp()


if __name__ == "__main__":
    sys.exit(main(make_app, sys.argv[1:]))
