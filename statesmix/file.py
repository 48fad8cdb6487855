"""statesmix.open(): .smx files as Python file objects, like lzma.open.

Reading goes through a raw reader that feeds the streaming Decompressor and
is wrapped in io.BufferedReader (read, read1, readinto, peek, readline,
iteration). Writing feeds a Compressor. Text modes wrap the binary file in
io.TextIOWrapper. Memory stays bounded either way: nothing holds the whole
stream.
"""

from __future__ import annotations

import builtins
import io
import os
from typing import BinaryIO, Optional, Union

from .api import Compressor, Decompressor
from .errors import StatesmixError
from .params import DEFAULT_LEVEL

_READ_SIZE = 64 << 10
PathOrFile = Union[str, bytes, os.PathLike, BinaryIO]


class _DecompressReader(io.RawIOBase):
    """Raw stream of decompressed bytes (concatenated .smx streams follow on)."""

    def __init__(self, fp: BinaryIO, threads: int) -> None:
        self._fp = fp
        self._threads = threads
        self._decomp = Decompressor(threads=threads)
        self._pos = 0
        self._eof = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._fp.seekable()

    def readinto(self, b) -> int:
        view = memoryview(b).cast("B")
        while True:
            if self._eof or not len(view):
                return 0
            if self._decomp.eof:
                rest = self._decomp.unused_data or self._fp.read(_READ_SIZE)
                if not rest:
                    self._eof = True
                    return 0
                self._decomp = Decompressor(threads=self._threads)
                try:
                    out = self._decomp.decompress(rest, max_length=len(view))
                except StatesmixError:
                    raise StatesmixError("trailing data after the end of the compressed stream "
                                         "is not a statesmix stream") from None
            elif self._decomp.needs_input:
                chunk = self._fp.read(_READ_SIZE)
                if not chunk:
                    raise StatesmixError("compressed file is truncated (it ends before the end marker)")
                out = self._decomp.decompress(chunk, max_length=len(view))
            else:
                out = self._decomp.decompress(b"", max_length=len(view))
            if out:
                view[: len(out)] = out
                self._pos += len(out)
                return len(out)

    def _rewind(self) -> None:
        self._fp.seek(0)
        self._decomp = Decompressor(threads=self._threads)
        self._pos = 0
        self._eof = False

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        # Decompressed streams cannot jump: seeking back restarts from the
        # beginning, and any seek reads forward to the target.
        if whence == io.SEEK_CUR:
            offset = self._pos + offset
        elif whence == io.SEEK_END:
            while self.read(io.DEFAULT_BUFFER_SIZE):
                pass
            offset = self._pos + offset
        elif whence != io.SEEK_SET:
            raise ValueError(f"invalid whence ({whence})")
        if offset < self._pos:
            self._rewind()
        while self._pos < offset:
            if not self.read(min(io.DEFAULT_BUFFER_SIZE, offset - self._pos)):
                break
        return self._pos

    def tell(self) -> int:
        return self._pos


class StatesmixFile(io.BufferedIOBase):
    """A binary file object reading or writing a .smx stream."""

    def __init__(self, filename: PathOrFile, mode: str = "r", *, level: int = DEFAULT_LEVEL,
                 threads: int = 0) -> None:
        mode = mode.replace("b", "")
        if mode not in ("r", "w", "x", "a"):
            raise ValueError(f"invalid mode: {mode!r}")
        self._closefp = False
        if isinstance(filename, (str, bytes, os.PathLike)):
            self._fp = builtins.open(filename, mode + "b")
            self._closefp = True
        elif hasattr(filename, "read") or hasattr(filename, "write"):
            self._fp = filename
        else:
            raise TypeError("filename must be a str, bytes, os.PathLike or file object")
        self._mode = "r" if mode == "r" else "w"
        self._reader: Optional[io.BufferedReader] = None
        self._compressor: Optional[Compressor] = None
        self._written = 0
        try:
            if self._mode == "r":
                self._reader = io.BufferedReader(_DecompressReader(self._fp, threads))
            else:
                self._compressor = Compressor(level=level, threads=threads)
        except BaseException:
            if self._closefp:
                self._fp.close()
            raise

    # -- state ---------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._fp is None

    def close(self) -> None:
        if self._fp is None:
            return
        try:
            if self._compressor is not None:
                self._fp.write(self._compressor.flush())
                self._compressor = None
        finally:
            try:
                if self._closefp:
                    self._fp.close()
            finally:
                self._fp = None
                self._reader = None

    def _check(self, want: str) -> None:
        if self._fp is None:
            raise ValueError("I/O operation on closed file")
        if want != self._mode:
            raise io.UnsupportedOperation("file not open for " + ("reading" if want == "r" else "writing"))

    def fileno(self) -> int:
        self._check(self._mode)
        return self._fp.fileno()

    def readable(self) -> bool:
        return self._fp is not None and self._mode == "r"

    def writable(self) -> bool:
        return self._fp is not None and self._mode == "w"

    def seekable(self) -> bool:
        return self.readable() and self._reader.seekable()

    # -- reading ---------------------------------------------------------------
    def read(self, size: Optional[int] = -1) -> bytes:
        self._check("r")
        return self._reader.read(-1 if size is None else size)

    def read1(self, size: int = -1) -> bytes:
        self._check("r")
        return self._reader.read1(size)

    def readinto(self, b) -> int:
        self._check("r")
        return self._reader.readinto(b)

    def peek(self, size: int = 0) -> bytes:
        self._check("r")
        return self._reader.peek(size)

    def readline(self, size: Optional[int] = -1) -> bytes:
        self._check("r")
        return self._reader.readline(-1 if size is None else size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check("r")
        return self._reader.seek(offset, whence)

    def tell(self) -> int:
        if self._mode == "r":
            self._check("r")
            return self._reader.tell()
        self._check("w")
        return self._written

    # -- writing ---------------------------------------------------------------
    def write(self, data) -> int:
        self._check("w")
        view = memoryview(data)
        self._fp.write(self._compressor.compress(view))
        self._written += view.nbytes
        return view.nbytes


def open(filename: PathOrFile, mode: str = "rb", *, level: int = DEFAULT_LEVEL,
         encoding: Optional[str] = None, errors: Optional[str] = None,
         newline: Optional[str] = None, threads: int = 0):
    """Opens a .smx file in binary ("rb", "wb", "xb", "ab") or text ("rt", "wt", ...) mode.

    Text mode returns an io.TextIOWrapper with the given encoding, errors and
    newline; in binary mode those must be None.
    """
    if "t" in mode:
        if "b" in mode:
            raise ValueError(f"invalid mode: {mode!r}")
    else:
        if encoding is not None:
            raise ValueError("argument 'encoding' not supported in binary mode")
        if errors is not None:
            raise ValueError("argument 'errors' not supported in binary mode")
        if newline is not None:
            raise ValueError("argument 'newline' not supported in binary mode")
    binary = StatesmixFile(filename, mode.replace("t", ""), level=level, threads=threads)
    if "t" in mode:
        return io.TextIOWrapper(binary, io.text_encoding(encoding), errors, newline)
    return binary
