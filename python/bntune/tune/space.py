"""A search space: named dimensions, and the map between the unit cube and configurations."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from bntune.tune import dimensions as dims_
from bntune.tune.dimensions import (
    Choice,
    Dimension,
    Fixed,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
)


class Space(Mapping[str, Dimension]):
    """Named search dimensions, e.g. ``Space(lr=LogUniform(1e-4, 1), hidden=IntUniform(50, 100))``.

    The unit cube has one coordinate per non-``Fixed`` dimension, in the order given
    (``space.names``); ``from_unit`` turns a point of it into a configuration and ``to_unit``
    maps a configuration back.
    """

    def __init__(self, **dims: Dimension) -> None:
        if not dims:
            raise ValueError("Space: give at least one dimension, e.g. Space(lr=LogUniform(...))")
        for name, dim in dims.items():
            if not isinstance(dim, Dimension):
                raise TypeError(
                    f"Space: dimension {name!r} must be a tune dimension (Uniform, LogUniform, "
                    f"Choice, Fixed, ...), got {dim!r}"
                )
        self._dims = dict(dims)
        #: names of the dimensions that take a unit-cube coordinate, in coordinate order
        self.names: tuple[str, ...] = tuple(n for n, d in dims.items() if d.uses_coordinate)
        self._coordinate_dims = [self._dims[n] for n in self.names]
        self._fixed = {n: d.from_unit(0.5) for n, d in dims.items() if not d.uses_coordinate}
        #: a Choice of the space carries branches: trials define their parameters as they run
        self.conditional = _check_branches(dims)
        description = json.dumps([[n, d.describe()] for n, d in dims.items()])
        #: a short fingerprint: equal for spaces that map the unit cube alike
        self.key: str = hashlib.blake2b(description.encode(), digest_size=6).hexdigest()

    @property
    def coordinate_dims(self) -> list[Dimension]:
        """The dimensions that take a unit-cube coordinate, in coordinate order."""
        return list(self._coordinate_dims)

    @property
    def d(self) -> int:
        """The dimension of the unit cube (number of non-``Fixed`` dimensions)."""
        return len(self.names)

    def __getitem__(self, name: str) -> Dimension:
        return self._dims[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dims)

    def __len__(self) -> int:
        return len(self._dims)

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={d!r}" for n, d in self._dims.items())
        return f"Space({inner})"

    def describe(self) -> list[Any]:
        """A JSON-able description of the space (stored with the study)."""
        return [[n, d.describe()] for n, d in self._dims.items()]

    def from_unit(self, u: Sequence[float] | np.ndarray) -> dict[str, Any]:
        """The configuration at unit point ``u`` (length ``space.d``, coordinates in [0, 1))."""
        if len(u) != len(self._coordinate_dims):
            raise ValueError(
                f"Space.from_unit: u must have {len(self._coordinate_dims)} coordinates "
                f"(one per dimension {self.names}), got {len(u)}"
            )
        coords = iter(u)
        params: dict[str, Any] = {}
        for name, dim in self._dims.items():
            params[name] = dim.from_unit(next(coords)) if dim.uses_coordinate else self._fixed[name]
        return params

    def to_unit(self, params: Mapping[str, Any]) -> np.ndarray:
        """The unit point of configuration ``params`` (inverse of ``from_unit``)."""
        missing = [n for n in self.names if n not in params]
        if missing:
            raise ValueError(f"Space.to_unit: params lack dimensions {missing}, got {params!r}")
        return np.array(
            [d.to_unit(params[n]) for n, d in zip(self.names, self._coordinate_dims, strict=True)]
        )

    def sample(self, n: int, *, sampler: str = "sobol", seed: int | None = None) -> list[dict]:
        """``n`` configurations from ``sampler`` ("sobol" (scrambled, the default), "halton",
        "lhs", "random" or "grid"). With the same ``seed``, configuration k is the one a
        ``Study(seed=seed)`` gives trial k; ``seed=None`` draws a fresh seed."""
        if self.conditional:
            raise ValueError(
                "Space.sample: a conditional space's trials define their parameters as they run; "
                "use study.optimize / study.ask"
            )
        from bntune.tune.samplers import as_sampler

        if seed is None:
            seed = secrets.randbits(63)
        points = as_sampler(sampler).points(self._coordinate_dims, seed, 0, n, n)
        return [self.from_unit(p) for p in points]


def default_space(optimizer: str = "momentum") -> Space:
    """The course's ranking of hyperparameters made concrete.

    - ``lr``: LogUniform(1e-4, 1) — the most important one;
    - ``momentum``: OneMinusLogUniform(0.9, 0.999) (for ``optimizer="momentum"``);
    - ``hidden``: IntUniform(50, 100); ``batch_size``: Choice([32, 64, 128, 256, 512, 1024]);
    - ``layers``: IntUniform(2, 4); ``lr_decay``: LogUniform(1e-3, 1), the rate in
      ``lr / (1 + lr_decay * epoch)``.

    With ``optimizer="adam"`` the momentum dimension is replaced by Adam's ``beta1=0.9``,
    ``beta2=0.999``, ``eps=1e-8``, all ``Fixed``: the course advises not to tune them.
    """
    if optimizer not in ("momentum", "adam"):
        raise ValueError(
            f"default_space: optimizer must be 'momentum' or 'adam', got {optimizer!r}"
        )
    dims: dict[str, Dimension] = {"lr": LogUniform(1e-4, 1.0)}
    if optimizer == "momentum":
        dims["momentum"] = OneMinusLogUniform(0.9, 0.999)
    dims["hidden"] = IntUniform(50, 100)
    dims["batch_size"] = Choice([32, 64, 128, 256, 512, 1024])
    dims["layers"] = IntUniform(2, 4)
    dims["lr_decay"] = LogUniform(1e-3, 1.0)
    if optimizer == "adam":
        dims["beta1"] = Fixed(0.9)
        dims["beta2"] = Fixed(0.999)
        dims["eps"] = Fixed(1e-8)
    return Space(**dims)


def _check_branches(dims: Mapping[str, Dimension], where: str = "") -> bool:
    """Whether ``dims`` hold a conditional Choice; ValueError when a name has two different
    distributions in different branches (a parameter keeps one for the study)."""
    seen: dict[str, list[Any]] = {}
    conditional = False

    def walk(level: Mapping[str, Dimension], path: str) -> None:
        nonlocal conditional
        for name, dim in level.items():
            described = dim.describe() if not isinstance(dim, Choice) else ["Choice", dim.options]
            if name in seen and seen[name] != described:
                raise ValueError(
                    f"Space: {name!r} is {seen[name]} in one branch and {described} in another "
                    f"({path or 'top level'}); give them different names"
                )
            seen[name] = described
            if isinstance(dim, Choice) and dim.branches:
                conditional = True
                for option, sub in dim.branches.items():
                    walk(sub, f"{path}{name}={option!r}/")

    walk(dims, where)
    return conditional


def suggest_into(trial: Any, dims: Mapping[str, Dimension]) -> None:
    """Defines ``dims`` on a define-by-run ``trial``: each dimension suggested on its own scale,
    a conditional Choice's branch only when its option is chosen."""
    for name, dim in dims.items():
        if isinstance(dim, Fixed):
            trial.params[name] = dim.value
        elif isinstance(dim, Choice):
            value = trial.suggest_categorical(name, dim.options)
            if dim.branches:
                suggest_into(trial, dim.branches[value])
        elif isinstance(dim, LogUniform):
            trial.suggest_float(name, dim.low, dim.high, log=True)
        elif isinstance(dim, OneMinusLogUniform):
            trial.suggest_one_minus_log(name, dim.low, dim.high)
        elif isinstance(dim, IntUniform):
            trial.suggest_int(name, dim.low, dim.high)
        elif isinstance(dim, dims_.IntLogUniform):
            trial.suggest_int(name, dim.low, dim.high, log=True)
        elif isinstance(dim, dims_.Stepped) and dim.integer:
            trial.suggest_int(name, dim.low, dim.high, step=dim.step)
        elif isinstance(dim, dims_.Stepped):
            trial.suggest_float(name, dim.low, dim.high, step=dim.step)
        elif isinstance(dim, dims_.Uniform):
            trial.suggest_float(name, dim.low, dim.high)
        else:
            raise TypeError(f"cannot suggest {name!r}: {dim!r} has no suggest_* form")


class DefinedBy:
    """An objective run on a conditional space: each trial first defines the space's parameters
    (``suggest_into``), then the objective reads ``trial.params`` as with any declared space."""

    def __init__(self, objective: Any, space: Space) -> None:
        self.objective = objective
        self.space = space

    def __call__(self, trial: Any) -> Any:
        suggest_into(trial, self.space)
        return self.objective(trial)

    def __repr__(self) -> str:
        return f"DefinedBy({self.objective!r})"
