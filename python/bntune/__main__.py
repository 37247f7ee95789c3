"""``python -m bntune``: the ``bntune`` command."""

import sys

from bntune.cli import main

sys.exit(main())
