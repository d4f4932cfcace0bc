"""``python -m apps.translation.train [flags]`` is ``rnnapps train translation [flags]``."""

import sys

from apps.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "translation", *sys.argv[1:]]))
