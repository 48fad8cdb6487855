"""statesmix: lossless compression with an online-trained Mamba model mixed
with sparse n-gram statistics.

    >>> import statesmix
    >>> blob = statesmix.compress(b"hello hello hello")
    >>> statesmix.decompress(blob)
    b'hello hello hello'
"""

try:
    from . import _statesmix  # noqa: F401  (the compiled C core, built by pip install)
except ImportError as _exc:  # a source tree that was never built
    import importlib.util as _util

    _why = "is not built" if _util.find_spec(__name__ + "._statesmix") is None else f"cannot be loaded ({_exc})"
    raise ImportError(
        f"statesmix's compiled extension (statesmix._statesmix) {_why}. It is built when the package "
        "is installed: run `pip install .` in the source tree (or `pip install -e .` to work on a "
        "checkout), then import statesmix from outside the tree or through that editable install."
    ) from None

from .api import Compressor, Decompressor, compress, decompress
from .errors import StatesmixError
from .file import StatesmixFile, open
from .params import DEFAULT_LEVEL, MAX_LEVEL, MIN_LEVEL

__all__ = [
    "Compressor",
    "Decompressor",
    "StatesmixError",
    "StatesmixFile",
    "open",
    "compress",
    "decompress",
    "DEFAULT_LEVEL",
    "MIN_LEVEL",
    "MAX_LEVEL",
]
__version__ = "0.1.0"
