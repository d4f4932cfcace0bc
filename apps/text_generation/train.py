"""``python -m apps.text_generation.train [flags]`` is ``rnnapps train text_generation [flags]``."""

import sys

from apps.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "text_generation", *sys.argv[1:]]))
