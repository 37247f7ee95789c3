"""From ``seed=``/``rng=`` arguments to the 64-bit seed of bntune's Rust streams.

The mapping (also in the :mod:`bntune.qmc` docs):

* ``None``: a seed drawn from the operating system.
* ``seed=k``, an integer in ``[0, 2**64)``: ``k`` itself (the streams bntune always had).
* ``seed=k``, an integer ``>= 2**64`` (scipy's test suite uses 39-digit seeds): the first 64-bit
  word of ``numpy.random.SeedSequence(k)``.
* A :class:`numpy.random.Generator` (``seed=`` or ``rng=``), as scipy consumes it: one child
  ``SeedSequence`` is spawned from the generator's seed sequence, so engines made one after the
  other from the same generator differ, and the generator's own stream is untouched; the seed is
  the child's first 64-bit word. A generator whose bit generator has no ``SeedSequence`` gives
  64 bits from its stream instead.
* ``rng=k``, an integer: ``numpy.random.default_rng(k)``, then as a Generator (scipy's ``rng=``
  rule; so ``rng=k`` and ``seed=k`` are different streams, as in scipy).
* A :class:`numpy.random.SeedSequence` or ``BitGenerator``: ``default_rng`` of it, then as a
  Generator (the sequence's spawn counter advances).
* A :class:`numpy.random.RandomState` (legacy): 64 bits drawn from it (advancing it).
"""

from __future__ import annotations

import numpy as np

from bntune.qmc._checks import COUNT_LIMIT, as_int

_NOT_GIVEN: object = object()


def _first_word(sequence: np.random.SeedSequence) -> int:
    return int(sequence.generate_state(1, np.uint64)[0])


def spawn_child(generator: np.random.Generator) -> np.random.SeedSequence | None:
    """One child of the generator's ``SeedSequence`` (as scipy spawns), or None if it has none
    (``seed_seq`` is public from numpy 1.25; ``_seed_seq`` before)."""
    bit_generator = generator.bit_generator
    sequence = getattr(bit_generator, "seed_seq", None) or getattr(bit_generator, "_seed_seq", None)
    if isinstance(sequence, np.random.SeedSequence):
        return sequence.spawn(1)[0]
    return None


def _from_generator(generator: np.random.Generator) -> int:
    child = spawn_child(generator)
    if child is not None:
        return _first_word(child)
    return int(generator.integers(0, COUNT_LIMIT, dtype=np.uint64))


def _from_int(value: int, name: str) -> int:
    if value < 0:
        raise ValueError(f"{name} must be None or a non-negative integer, got {value}")
    if value < COUNT_LIMIT:
        return value
    return _first_word(np.random.SeedSequence(value))


def pick(seed: object, rng: object) -> tuple[object, str]:
    """The one randomness argument given, and its name; both given is a TypeError (as scipy)."""
    if seed is not _NOT_GIVEN and rng is not _NOT_GIVEN:
        raise TypeError(
            "got multiple values for argument now known as `rng`. Specify one of `rng` or `seed`."
        )
    if rng is not _NOT_GIVEN:
        return rng, "rng"
    return (None if seed is _NOT_GIVEN else seed), "seed"


def rust_seed(value: object, name: str) -> int | None:
    """The Rust seed for ``value`` passed as ``name`` ("seed" or "rng"); None: from the OS."""
    if type(value) is int and 0 <= value < COUNT_LIMIT and name == "seed":
        return value  # the tuner's case, first: it makes an engine per study and per trial
    if value is None:
        return None
    if isinstance(value, np.random.Generator):
        return _from_generator(value)
    if isinstance(value, np.random.RandomState):
        return int(value.randint(0, COUNT_LIMIT, dtype=np.uint64))
    if isinstance(value, (np.random.SeedSequence, np.random.BitGenerator)):
        return _from_generator(np.random.default_rng(value))
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{name} must be None, a non-negative integer, a numpy Generator, SeedSequence, "
            f"BitGenerator or RandomState, got {type(value).__name__} {value!r}"
        )
    number = as_int(value, name)
    if name == "rng":
        if number < 0:
            raise ValueError(f"rng must be None or a non-negative integer, got {number}")
        return _from_generator(np.random.default_rng(number))
    return _from_int(number, name)
