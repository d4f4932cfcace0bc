"""``python -m apps.captioning.train [flags]`` is ``rnnapps train captioning [flags]``."""

import sys

from apps.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "captioning", *sys.argv[1:]]))
