"""The one exception family of statesmix.

Every error statesmix raises on purpose is a ``StatesmixError``. Where
Python's lzma module raises a built-in type, the statesmix error is also
that type, so code written for lzma keeps catching what it expects:

=====================  =======================================  ===========================
class                  raised for                               also a
=====================  =======================================  ===========================
ArgumentTypeError      an argument of the wrong type            TypeError
ArgumentValueError     an argument with an invalid value, a     ValueError
                       compressor used after flush()
ArgumentBufferError    a bytes-like argument that is not        BufferError
                       contiguous (a strided view)
TruncatedError         compressed data that ends too soon       EOFError
EndOfStreamError       Decompressor.decompress() after the end  EOFError
MemoryLimitError       a file that needs more memory than the   (only StatesmixError)
                       memory limit allows
ReentrantCallError     a call on an object from inside another  RuntimeError
                       on it (from its progress callback)
=====================  =======================================  ===========================

Corrupt, foreign or unsupported data raises StatesmixError itself, as lzma
raises LZMAError.
"""


class StatesmixError(Exception):
    """Raised for anything wrong with compressed data or with arguments.

    The message says what is wrong: a foreign file, a truncated one, a
    checksum that does not match (naming the frame), an unknown format
    version, an invalid level.
    """


class ArgumentTypeError(StatesmixError, TypeError):
    """An argument has the wrong type."""


class ArgumentValueError(StatesmixError, ValueError):
    """An argument has an invalid value, or an object is used in a state
    that does not allow the call (a Compressor after flush())."""


class ArgumentBufferError(StatesmixError, BufferError):
    """A bytes-like argument whose memory is not one contiguous run (a
    strided memoryview, a numpy slice a[::2]), as lzma refuses it."""


class TruncatedError(StatesmixError, EOFError):
    """Compressed data ends before the end of the stream."""


class EndOfStreamError(StatesmixError, EOFError):
    """Decompressor.decompress() called after the end of the stream."""


class ReentrantCallError(StatesmixError, RuntimeError):
    """A method of a compressor, decompressor or file called from inside
    another call on the same object (from its progress callback): the inner
    call would wait for the outer one forever."""


class MemoryLimitError(StatesmixError):
    """Decoding would need more memory than the memory limit allows."""
