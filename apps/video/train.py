"""``python -m apps.video.train [flags]`` is ``rnnapps train video [flags]``."""

import sys

from apps.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "video", *sys.argv[1:]]))
