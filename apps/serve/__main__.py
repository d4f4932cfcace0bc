"""``python -m apps.serve [PORT]``: serve saved_models/ on 127.0.0.1."""

import sys

from apps.serve import main

if __name__ == "__main__":
    sys.exit(main(port=int(sys.argv[1]) if len(sys.argv) > 1 else 8000))
