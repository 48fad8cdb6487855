"""statesmix: lossless compression with an online-trained Mamba model mixed
with sparse n-gram statistics.

    >>> import statesmix
    >>> blob = statesmix.compress(b"hello hello hello")
    >>> statesmix.decompress(blob)
    b'hello hello hello'
"""

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
