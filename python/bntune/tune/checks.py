"""Argument checks and error text the tuner's entry points share (one wording everywhere)."""

from __future__ import annotations

import traceback
from collections.abc import Sequence


def study_seed(what: str, seed: object) -> int | None:
    """``seed`` when it is None or an int in [0, 2**63) (SQLite stores signed 64-bit integers);
    ValueError saying ``what`` took it otherwise."""
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63
    ):
        raise ValueError(f"{what}: seed must be None or an integer in [0, 2**63), got {seed!r}")
    return seed


def positive_int(name: str, value: object) -> int:
    """``value`` when it is an int >= 1 (not a bool); ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def exception_classes(
    catch: Sequence[type[BaseException]] | type[BaseException],
) -> tuple[type[BaseException], ...]:
    """``catch`` (one exception class or several) as a tuple; TypeError for anything else."""
    items = (catch,) if isinstance(catch, type) else tuple(catch)
    for c in items:
        if not (isinstance(c, type) and issubclass(c, BaseException)):
            raise TypeError(f"catch must be exception classes, got {catch!r}")
    return items


def traceback_text(e: BaseException) -> str:
    """The exception's traceback as stored with a failed trial."""
    return "".join(traceback.format_exception(type(e), e, e.__traceback__)).rstrip()
