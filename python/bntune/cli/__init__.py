"""The ``bntune`` command line: ``demo``, ``run``, ``show``, ``plot``, ``babysit``.

Built on the library's public API (``bntune.tune``, ``bntune.plots``, ``bntune.mlp``); nothing
in the library imports it.
"""

from bntune.cli.main import main

__all__ = ["main"]
