"""Search dimensions: each maps the unit interval [0, 1) to its own scale, and back.

Every sampler produces points in the unit cube; a dimension turns one coordinate ``u`` into a
value on the scale the hyperparameter lives on. Coarse-to-fine zoom shrinks boxes in that same
unit space, so log scales are respected for free.

=========================  ==============================================================
dimension                  ``from_unit(u)``
=========================  ==============================================================
Uniform(low, high)         ``low + u * (high - low)``
IntUniform(low, high)      ``low + floor(u * (high - low + 1))``: inclusive, each equally likely
LogUniform(low, high)      ``10 ** r``, ``r = a + u * (b - a)``, ``a, b = log10(low), log10(high)``
IntLogUniform(low, high)   ``floor(exp(ln low + u * (ln(high + 1) - ln low)))``: integer k has
                           probability ``ln((k + 1) / k) / ln((high + 1) / low)``
OneMinusLogUniform(l, h)   ``1 - 10 ** r``, ``r = b - u * (b - a)``, ``a, b = log10(1 - h),
                           log10(1 - l)``: ``1 - value`` is log-uniform, value grows with ``u``
Choice(options)            ``options[floor(u * len(options))]``
Fixed(value)               ``value`` (uses no coordinate of the unit cube)
=========================  ==============================================================

``to_unit`` inverts ``from_unit``: exactly (up to rounding) for continuous dimensions, and to the
centre of the value's cell for integer and categorical ones.

A range may hold a single value (``low == high``, as Optuna's ``suggest_int("n", 3, 3)``): every
``u`` maps to that value exactly, ``to_unit`` puts it at the centre (0.5) and any other value
outside [0, 1], and a grid gives it one level. ``low > high`` is refused, and so are bounds a
scale cannot take (``LogUniform(0, 0)``: no log of 0).
"""

from __future__ import annotations

import json
import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

# The largest float below 1: from_unit clamps u here so that u = 1.0 (which a user may pass,
# though samplers never produce it) still maps inside the range.
_BELOW_ONE = math.nextafter(1.0, 0.0)


def _finite_number(kind: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{kind}: {name} must be a real number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{kind}: {name} must be finite, got {value!r}")
    return float(value)


def _integer(kind: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        # numpy integers are accepted through __index__
        try:
            return int(value.__index__())
        except AttributeError:
            raise TypeError(f"{kind}: {name} must be an integer, got {value!r}") from None
    return value


def _unit(u: float) -> float:
    u = float(u)
    if not 0.0 <= u <= 1.0:
        raise ValueError(f"unit coordinate must be in [0, 1], got {u!r}")
    return min(u, _BELOW_ONE)


class Dimension(ABC):
    """One hyperparameter's scale. Subclasses say how [0, 1) maps onto it."""

    #: Whether values are numbers ordered along the unit coordinate (grid levels apply).
    numeric: bool = True
    #: Whether the dimension takes a coordinate of the unit cube (False only for Fixed).
    uses_coordinate: bool = True

    @abstractmethod
    def from_unit(self, u: float) -> Any:
        """The value at unit coordinate ``u`` in [0, 1)."""

    @abstractmethod
    def to_unit(self, value: Any) -> float:
        """The unit coordinate of ``value`` (inverse of ``from_unit``)."""

    @abstractmethod
    def describe(self) -> list[Any]:
        """A JSON-able description; two dimensions with equal descriptions map alike."""

    def levels(self, k: int) -> int:
        """How many grid levels this dimension gets when numeric ones get ``k``."""
        return k

    def __repr__(self) -> str:
        kind, *args = self.describe()
        return f"{kind}({', '.join(repr(a) for a in args)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dimension) and self.describe() == other.describe()

    def __hash__(self) -> int:
        return hash(json.dumps(self.describe()))


class _Bounded(Dimension):
    """A numeric range ``[low, high]`` with ``low <= high`` (``low == high``: a single value)."""

    def __init__(self, low: float, high: float) -> None:
        kind = type(self).__name__
        low_f = _finite_number(kind, "low", low)
        high_f = _finite_number(kind, "high", high)
        if not low_f <= high_f:
            raise ValueError(f"{kind}: low must be <= high, got low={low!r}, high={high!r}")
        self.low = low
        self.high = high
        #: the range holds one value (``low == high``)
        self.single = low_f == high_f

    def _single_unit(self, value: Any) -> float:
        """``to_unit`` of a single-value range: its value at the centre, any other outside."""
        offset = float(value) - float(self.low)
        return 0.5 if offset == 0.0 else math.copysign(math.inf, offset)

    def levels(self, k: int) -> int:
        return 1 if self.single else k

    def describe(self) -> list[Any]:
        return [type(self).__name__, self.low, self.high]


class Uniform(_Bounded):
    """A real value uniform in ``[low, high)``: ``low + u * (high - low)``."""

    def __init__(self, low: float, high: float) -> None:
        super().__init__(low, high)
        self.low, self.high = float(low), float(high)

    def from_unit(self, u: float) -> float:
        return self.low + _unit(u) * (self.high - self.low)

    def to_unit(self, value: Any) -> float:
        if self.single:
            return self._single_unit(value)
        return (float(value) - self.low) / (self.high - self.low)


class LogUniform(_Bounded):
    """A positive real value whose log10 is uniform: ``10 ** r``, r uniform in
    ``[log10 low, log10 high]``. For learning rates: [1e-4, 1] puts a quarter of the samples in
    each decade."""

    def __init__(self, low: float, high: float) -> None:
        super().__init__(low, high)
        if not self.low > 0:
            raise ValueError(f"LogUniform: low must be > 0 on a log scale, got low={low!r}")
        self.low, self.high = float(low), float(high)
        self._a = math.log10(self.low)
        self._b = math.log10(self.high)

    def from_unit(self, u: float) -> float:
        if self.single:
            return self.low  # 10 ** log10(low) need not round back to low
        return 10.0 ** (self._a + _unit(u) * (self._b - self._a))

    def to_unit(self, value: Any) -> float:
        if self.single:
            return self._single_unit(value)
        return (math.log10(float(value)) - self._a) / (self._b - self._a)


class OneMinusLogUniform(_Bounded):
    """A value in (0, 1) whose distance to 1 is log-uniform: ``beta = 1 - 10 ** r``. For momentum
    and Adam betas: [0.9, 0.999] gives [0.9, 0.99] and [0.99, 0.999] equal samples, because the
    averaging window 1 / (1 - beta) is what matters. The value grows with ``u``."""

    def __init__(self, low: float, high: float) -> None:
        super().__init__(low, high)
        if not (self.low > 0.0 and self.high < 1.0):
            raise ValueError(
                "OneMinusLogUniform: bounds must lie in (0, 1) so that 1 - value is positive, "
                f"got low={low!r}, high={high!r}"
            )
        self.low, self.high = float(low), float(high)
        self._a = math.log10(1.0 - self.high)  # e.g. -3 for 0.999
        self._b = math.log10(1.0 - self.low)  # e.g. -1 for 0.9

    def from_unit(self, u: float) -> float:
        if self.single:
            return self.low
        return 1.0 - 10.0 ** (self._b - _unit(u) * (self._b - self._a))

    def to_unit(self, value: Any) -> float:
        if self.single:
            return self._single_unit(value)
        return (self._b - math.log10(1.0 - float(value))) / (self._b - self._a)


class IntUniform(_Bounded):
    """An integer in ``[low, high]``, both included, every integer equally likely."""

    def __init__(self, low: int, high: int) -> None:
        low_i = _integer("IntUniform", "low", low)
        high_i = _integer("IntUniform", "high", high)
        super().__init__(low_i, high_i)
        self._count = high_i - low_i + 1

    def from_unit(self, u: float) -> int:
        return self.low + min(int(_unit(u) * self._count), self._count - 1)

    def to_unit(self, value: Any) -> float:
        return (_integer("IntUniform", "value", value) - self.low + 0.5) / self._count

    def levels(self, k: int) -> int:
        return min(k, self._count)


class Stepped(_Bounded):
    """A value on the grid ``low, low + step, ...`` up to ``high``, every grid value equally
    likely (``suggest_float(..., step=)`` and ``suggest_int(..., step=)``). Integers when
    ``low``, ``high`` and ``step`` all are."""

    def __init__(self, low: float, high: float, step: float) -> None:
        super().__init__(low, high)
        step_f = _finite_number("Stepped", "step", step)
        if not step_f > 0:
            raise ValueError(f"Stepped: step must be > 0, got step={step!r}")
        self.step = step
        self.integer = all(isinstance(v, int) and not isinstance(v, bool)
                           for v in (low, high, step))  # fmt: skip
        # a grid point within 1e-9 of a step below high counts (0.1-steps in floating point)
        self._count = math.floor((float(high) - float(low)) / step_f + 1e-9) + 1

    def from_unit(self, u: float) -> float | int:
        k = min(int(_unit(u) * self._count), self._count - 1)
        if self.integer:
            return int(self.low + k * self.step)
        return float(self.low) + k * float(self.step)

    def to_unit(self, value: Any) -> float:
        k = round((float(value) - float(self.low)) / float(self.step))
        return (min(max(k, 0), self._count - 1) + 0.5) / self._count

    def levels(self, k: int) -> int:
        return min(k, self._count)

    def describe(self) -> list[Any]:
        return ["Stepped", self.low, self.high, self.step]


class IntLogUniform(_Bounded):
    """A positive integer in ``[low, high]`` on a log scale: ``floor(exp(x))`` with x uniform in
    ``[ln low, ln(high + 1))``, so integer k is drawn with probability proportional to
    ``ln((k + 1) / k)`` (each decade of integers gets the same share)."""

    def __init__(self, low: int, high: int) -> None:
        low_i = _integer("IntLogUniform", "low", low)
        high_i = _integer("IntLogUniform", "high", high)
        super().__init__(low_i, high_i)
        if low_i < 1:
            raise ValueError(f"IntLogUniform: low must be >= 1 on a log scale, got low={low!r}")
        self._a = math.log(low_i)
        self._b = math.log(high_i + 1)

    def from_unit(self, u: float) -> int:
        k = int(math.exp(self._a + _unit(u) * (self._b - self._a)))
        return max(self.low, min(k, self.high))

    def to_unit(self, value: Any) -> float:
        k = _integer("IntLogUniform", "value", value)
        if self.single:
            return self._single_unit(k)
        # centre of k's cell [ln k, ln(k + 1)) in log space
        return (0.5 * (math.log(k) + math.log(k + 1)) - self._a) / (self._b - self._a)

    def levels(self, k: int) -> int:
        return min(k, self.high - self.low + 1)


class Choice(Dimension):
    """One of ``options`` (str, int, float, bool or None), each equally likely. Grid search
    takes every option; coarse-to-fine keeps the options of the best trials.

    A conditional choice maps each option to the dimensions that exist only when it is chosen:
    ``Choice({"sgd": {"lr": LogUniform(1e-3, 1)}, "adam": {"lr": LogUniform(1e-3, 1),
    "beta2": OneMinusLogUniform(0.99, 0.9999)}})`` (``branches``: option -> name -> dimension).
    A space holding one is searched define-by-run (see ``Space.suggest``)."""

    numeric = False

    def __init__(self, options: Sequence[Any] | Mapping[Any, Mapping[str, Dimension]]) -> None:
        #: conditional: option -> the dimensions that exist when it is chosen (else empty)
        self.branches: dict[Any, dict[str, Dimension]] = {}
        if isinstance(options, Mapping):
            self.branches = {o: _branch(o, sub) for o, sub in options.items()}
            options = list(options)
        if isinstance(options, str) or not isinstance(options, Sequence):
            raise TypeError(f"Choice: options must be a list, got {options!r}")
        if len(options) == 0:
            raise ValueError("Choice: options must not be empty")
        for option in options:
            if not (option is None or isinstance(option, str | int | float | bool)):
                raise TypeError(
                    f"Choice: options must be str, int, float, bool or None (they are stored "
                    f"as JSON), got {option!r}"
                )
        if len({json.dumps(o) for o in options}) != len(options):
            raise ValueError(f"Choice: options must be distinct, got {list(options)!r}")
        self.options = list(options)
        self._index = {json.dumps(o): i for i, o in enumerate(self.options)}

    def from_unit(self, u: float) -> Any:
        n = len(self.options)
        return self.options[min(int(_unit(u) * n), n - 1)]

    def index(self, value: Any) -> int:
        """The position of ``value`` in ``options``; ValueError when it is not one."""
        try:
            return self._index[json.dumps(value)]
        except (KeyError, TypeError):
            raise ValueError(f"Choice: {value!r} is not one of {self.options!r}") from None

    def to_unit(self, value: Any) -> float:
        return (self.index(value) + 0.5) / len(self.options)

    def levels(self, k: int) -> int:
        return len(self.options)

    def describe(self) -> list[Any]:
        if self.branches:
            return ["Choice", self.options, [[o, [[n, d.describe()] for n, d in sub.items()]]
                                             for o, sub in self.branches.items()]]  # fmt: skip
        return ["Choice", self.options]


def _branch(option: Any, sub: object) -> dict[str, Dimension]:
    if not isinstance(sub, Mapping) or not all(
        isinstance(k, str) and isinstance(d, Dimension) for k, d in sub.items()
    ):
        raise TypeError(
            f"Choice: option {option!r} must map names to tune dimensions (its branch), got {sub!r}"
        )
    return dict(sub)


class Fixed(Dimension):
    """A constant: always ``value``. Takes no coordinate of the unit cube (Adam's 0.9, 0.999 and
    1e-8 stay put, as the course advises)."""

    numeric = False
    uses_coordinate = False

    def __init__(self, value: Any) -> None:
        try:
            json.dumps(value)
        except TypeError:
            raise TypeError(f"Fixed: value must be JSON-able, got {value!r}") from None
        self.value = value

    def from_unit(self, u: float) -> Any:
        return self.value

    def to_unit(self, value: Any) -> float:
        return 0.5

    def levels(self, k: int) -> int:
        return 1

    def describe(self) -> list[Any]:
        return ["Fixed", self.value]


def from_description(description: list[Any]) -> Dimension:
    """The dimension ``Dimension.describe()`` gave ``description`` for (as stored in JSON)."""
    kind, *args = description
    kinds: dict[str, Any] = {
        "Uniform": Uniform,
        "LogUniform": LogUniform,
        "OneMinusLogUniform": OneMinusLogUniform,
        "IntUniform": IntUniform,
        "IntLogUniform": IntLogUniform,
        "Stepped": Stepped,
    }
    if kind == "Choice" and len(args) > 1:
        branches = {o: {n: from_description(d) for n, d in sub} for o, sub in args[1]}
        return Choice(branches)
    if kind == "Choice":
        return Choice(args[0])
    if kind == "Fixed":
        return Fixed(args[0])
    if kind not in kinds:
        raise ValueError(f"unknown dimension kind {kind!r} in {description!r}")
    return kinds[kind](*args)  # type: ignore[no-any-return]
