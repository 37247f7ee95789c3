"""Type stubs for the Rust extension module ``bntune._core``."""

__version__: str

class BntuneError(Exception):
    """Base class of every error bntune raises itself."""

class ShapeError(BntuneError, ValueError):
    """An array has the wrong number of dimensions or the wrong extent."""

class DtypeError(BntuneError, TypeError):
    """An array has an unsupported or mismatched dtype."""

def simd_backend() -> str:
    """The vector instruction set the kernels use on this CPU, e.g. ``"avx2+fma"`` or
    ``"scalar"``. ``BNTUNE_SIMD=scalar`` in the environment forces the scalar path."""

def set_num_threads(n: int) -> None:
    """Sets the number of threads every bntune kernel runs on; ``n < 1`` raises ValueError."""

def get_num_threads() -> int:
    """The number of threads bntune kernels run on (default: the available cores)."""

# --- batch norm (rust/python/batchnorm.rs) ---

# --- samplers (rust/python/qmc.rs) ---
