"""What must hold before work goes to local worker processes, checked in the driver so that a
mistake is one clear error instead of a broken pool, a hang or a worker's traceback.

- **The objective (or trainable) can be sent**: a local pool pickles it, and a lambda, a
  function defined inside another function or an object holding an open file cannot be.
- **The script has a ``__main__`` guard**: worker processes are started with forkserver or
  spawn, which import the main script again in each worker; a script whose top level starts
  the study without ``if __name__ == "__main__":`` would run it again there.
"""

from __future__ import annotations

import ast
import multiprocessing
import pickle
import sys
from pathlib import Path

GUARD_HINT = (
    'put the code that runs the study under `if __name__ == "__main__":` (worker processes '
    "import the main script again, and without the guard they would run the study too), or "
    "run it in this process with n_workers=1"
)


def check_sendable(obj: object, what: str) -> None:
    """TypeError naming ``what`` when ``obj`` cannot be pickled for a worker process."""
    name = getattr(obj, "__qualname__", "")
    if name == "<lambda>":
        raise TypeError(
            f"{what}: a lambda cannot be sent to worker processes: use a module-level function "
            f"or n_workers=1"
        )
    try:
        pickle.dumps(obj)
    except Exception as e:  # pickle raises PicklingError, TypeError, AttributeError, ...
        raise TypeError(
            f"{what}: {obj!r} cannot be sent to worker processes ({type(e).__name__}: {e}); "
            f"define it at module level (importable by the workers), or use n_workers=1"
        ) from None


def check_main_guard() -> None:
    """RuntimeError when starting worker processes would run the main script's study again:
    in a worker importing the script, or from a script without a ``__main__`` guard."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if multiprocessing.parent_process() is not None and _running_main_script(path):
        raise RuntimeError(f"a worker process is running the main script's study again: "
                           f"{GUARD_HINT}")  # fmt: skip
    if path is None or not str(path).endswith(".py"):
        return  # an interactive session, a notebook or `python -c`: nothing is re-imported
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name.endswith(".__main__"):
        return  # `python -m package`: multiprocessing does not import a package's __main__

    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return  # cannot tell: let it run
    if not any(_is_main_guard(node) for node in tree.body):
        raise RuntimeError(f'{path} has no `if __name__ == "__main__":` guard: {GUARD_HINT}')


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    sides = [node.test.left, *node.test.comparators]
    names = {s.id for s in sides if isinstance(s, ast.Name)}
    values = {s.value for s in sides if isinstance(s, ast.Constant)}
    return "__name__" in names and "__main__" in values


def _running_main_script(path: str | None) -> bool:
    """Whether the main script's top level is on the stack (the script is being imported)."""
    if path is None:
        return False
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_code.co_filename == path:
            return True
        frame = frame.f_back
    return False
