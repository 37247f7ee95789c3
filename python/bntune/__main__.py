"""``python -m bntune``: the ``bntune`` command."""

import sys

from bntune.cli import main

if __name__ == "__main__":
    sys.exit(main())
