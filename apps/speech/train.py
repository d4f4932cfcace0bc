"""``python -m apps.speech.train [flags]`` is ``rnnapps train speech [flags]``."""

import sys

from apps.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "speech", *sys.argv[1:]]))
