"""``python -m apps.sentiment.train [flags]`` is ``rnnapps train sentiment [flags]``."""

import sys

from apps.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "sentiment", *sys.argv[1:]]))
