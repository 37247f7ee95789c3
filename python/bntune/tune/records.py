"""A study's trials as rows: dicts, or a pandas DataFrame."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bntune.tune.trial import FrozenTrial


def rows(trials: Sequence[FrozenTrial]) -> list[dict[str, Any]]:
    """One dict per trial: number, state, value (``values_<i>`` per objective when there are
    several), round, error, started, finished,
    ``params_<name>`` per hyperparameter it used and ``user_attrs_<key>`` per user attribute."""
    out = []
    for t in trials:
        row: dict[str, Any] = {
            "number": t.number,
            "state": t.state,
            "value": t.value,
            "round": t.round,
            "error": t.error,
            "started": t.started,
            "finished": t.finished,
        }
        if t.values is not None:
            row.update({f"values_{i}": v for i, v in enumerate(t.values)})
        row.update({f"params_{k}": v for k, v in t.params.items()})
        row.update({f"user_attrs_{k}": v for k, v in t.user_attrs.items()})
        out.append(row)
    return out


def dataframe(trials: Sequence[FrozenTrial]) -> Any:
    """:func:`rows` as a pandas DataFrame with a ``duration`` column (seconds); ImportError
    naming pandas when it is not installed."""
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(
            "trials_dataframe needs pandas, which is not installed: pip install pandas "
            "(study.to_records() gives the same rows as dicts without it)"
        ) from None
    frame = pd.DataFrame.from_records(rows(trials))
    frame["duration"] = frame["finished"] - frame["started"]
    return frame
