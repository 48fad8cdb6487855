"""statesmix.open(): .smx files as Python file objects, like lzma.open.

Reading goes through a raw reader that feeds the streaming Decompressor and
is wrapped in io.BufferedReader (read, read1, readinto, peek, readline,
iteration). On a seekable file, seek() finds the block that holds the
target through the index at the end of each stream and decodes from that
block on, not from the start. Writing feeds a Compressor. Text modes wrap
the binary file in io.TextIOWrapper. Memory stays bounded either way.

Every argument is checked before the file is opened: a call that raises
has not created, truncated or read anything.
"""

from __future__ import annotations

import builtins
import io
import os
from typing import Any, BinaryIO, List, Optional, Union

from .api import (
    BytesLike,
    Compressor,
    Decompressor,
    _as_view,
    decompress_next_stream,
    check_block_size,
    check_level,
    check_memory_limit,
    check_threads,
)
from .container import StreamMap, locate_streams
from .errors import ArgumentTypeError, ArgumentValueError, StatesmixError, TruncatedError

_READ_SIZE = 64 << 10
PathOrFile = Union[str, bytes, os.PathLike, BinaryIO]

_FILE_MODES = {"r": "r", "rb": "r", "w": "w", "wb": "w", "a": "a", "ab": "a", "x": "x", "xb": "x"}
_OPEN_MODES = set(_FILE_MODES) | {"rt", "wt", "at", "xt"}
_NEWLINES = (None, "", "\n", "\r", "\r\n")


class _DecompressReader(io.RawIOBase):
    """Raw stream of decompressed bytes (concatenated .smx streams follow on)."""

    def __init__(self, fp: BinaryIO, threads: int, memory_limit: Optional[int]) -> None:
        self._fp = fp
        self._threads = threads
        self._memory_limit = memory_limit
        self._decomp = self._new()
        self._pos = 0
        self._eof = False
        # as lzma and gzip, an object with only read() will do (a network body)
        seekable = getattr(fp, "seekable", None)
        self._fp_seekable = bool(seekable()) if callable(seekable) else False
        self._start = fp.tell() if self._fp_seekable else 0
        self._streams: Optional[List[StreamMap]] = None
        self._index_tried = False

    def _new(self) -> Decompressor:
        return Decompressor(threads=self._threads, memory_limit=self._memory_limit)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._fp_seekable

    def close(self) -> None:
        decomp = getattr(self, "_decomp", None)  # None if __init__ failed
        if not self.closed and decomp is not None:
            decomp._abandon()  # the file itself is the owner's to close
        super().close()

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
                self._decomp = self._new()
                out = decompress_next_stream(self._decomp, rest, max_length=len(view))
            elif self._decomp.needs_input:
                chunk = self._fp.read(_READ_SIZE)
                if not chunk and not self._decomp._blocks_in_flight:
                    raise TruncatedError("compressed file is truncated (it ends before the end of the stream)")
                out = self._decomp.decompress(chunk, max_length=len(view))  # b"": a block in flight
            else:
                out = self._decomp.decompress(b"", max_length=len(view))
            if out:
                view[: len(out)] = out
                self._pos += len(out)
                return len(out)

    # -- seeking -----------------------------------------------------------------
    def _index(self) -> Optional[List[StreamMap]]:
        """The streams and blocks of the file, from the index at its end;
        None if it has none that holds (seeking then decodes forward)."""
        if not self._index_tried and self._fp_seekable:
            self._index_tried = True
            saved = self._fp.tell()
            try:
                size = self._fp.seek(0, io.SEEK_END) - self._start
                self._streams = locate_streams(self._read_at, size)
            except (StatesmixError, OSError, ValueError):
                self._streams = None
            finally:
                self._fp.seek(saved)
        return self._streams

    def _read_at(self, offset: int, n: int) -> bytes:
        """n bytes at offset from the start, fewer only at the end of the
        file, as locate_streams needs: a raw file may return fewer a read."""
        self._fp.seek(self._start + offset)
        parts: List[bytes] = []
        while n > 0:
            piece = self._fp.read(n)
            if not piece:
                break
            parts.append(piece)
            n -= len(piece)
        return b"".join(parts)

    def _restart(self, pos: int, fp_pos: int, decomp: Optional[Decompressor] = None) -> None:
        self._fp.seek(fp_pos)
        self._decomp = decomp or self._new()
        self._pos = pos
        self._eof = False

    def _size(self) -> int:
        streams = self._index()
        if streams is not None:
            return sum(s.raw_size for s in streams)
        while self.read(io.DEFAULT_BUFFER_SIZE):
            pass
        return self._pos

    def _jump(self, target: int) -> None:
        """Positions the reader at or before target: at the start of the
        block that holds it when the index says where that is, unless the
        reader is already in that block before target."""
        here = self._pos
        streams = self._index()
        if streams is None:
            if target < here:
                self._restart(0, self._start)
            return
        for s in streams:
            if target >= s.raw_start + s.raw_size:
                continue
            block_start = s.raw_start
            for k, entry in enumerate(s.end.blocks):
                if target < block_start + entry.raw_len:
                    if not block_start <= here <= target:
                        d = Decompressor._at_block(s.header, k, threads=self._threads,
                                                   memory_limit=self._memory_limit)
                        self._restart(block_start, self._start + s.block_offsets[k], d)
                    return
                block_start += entry.raw_len
        self._pos = sum(s.raw_size for s in streams)  # at or past the end
        self._eof = True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            target = self._size() + offset
        else:
            raise ArgumentValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
        target = max(0, target)
        self._jump(target)
        while self._pos < target:
            if not self.read(min(io.DEFAULT_BUFFER_SIZE, target - self._pos)):
                break
        return self._pos

    def tell(self) -> int:
        return self._pos


def _check_mode(mode, allowed, wrong_type=ArgumentTypeError) -> str:
    # open() raises TypeError for a mode that is not a string and
    # StatesmixFile ValueError, as lzma.open and LZMAFile do.
    if not isinstance(mode, str):
        raise wrong_type(f"invalid mode: {mode!r} (a mode is a string such as 'rb')")
    if mode not in allowed:
        raise ArgumentValueError(f"invalid mode: {mode!r}")
    return mode


def _check_target(filename) -> bool:
    """True if filename names a file to open, False for a file object."""
    if isinstance(filename, (str, bytes, os.PathLike)):
        return True
    if hasattr(filename, "read") or hasattr(filename, "write"):
        return False
    raise ArgumentTypeError("filename must be a str, bytes, os.PathLike or file object")


class StatesmixFile(io.BufferedIOBase):
    """A binary file object reading or writing a .smx stream.

    mode is "r"/"rb" (read), "w"/"wb" (write), "a"/"ab" (append a new
    stream) or "x"/"xb" (create). level and block_size apply to writing,
    memory_limit to reading; giving one in the other mode is an error, as
    lzma rejects a preset when reading.
    """

    def __init__(self, filename: PathOrFile, mode: str = "r", *, level: Optional[int] = None,
                 block_size: Optional[int] = None, threads: int = 0,
                 memory_limit: Optional[int] = None) -> None:
        self._fp = None
        self._closefp = False
        self._reader: Optional[io.BufferedReader] = None
        self._compressor: Optional[Compressor] = None
        kind = _FILE_MODES[_check_mode(mode, _FILE_MODES, ArgumentValueError)]
        threads = check_threads(threads)
        if kind == "r":
            if level is not None:
                raise ArgumentValueError("cannot give a compression level when opening a file for reading")
            if block_size is not None:
                raise ArgumentValueError("cannot give a block size when opening a file for reading")
            check_memory_limit(memory_limit)
        else:
            if memory_limit is not None:
                raise ArgumentValueError("memory_limit applies to reading, not to a file opened for writing")
            level = check_level(level)
            block_size = check_block_size(block_size, level)
        by_name = _check_target(filename)
        # Every argument is valid: only now is anything opened.
        if kind != "r":
            compressor = Compressor(level, block_size=block_size, threads=threads)
        if by_name:
            self._fp = builtins.open(filename, kind + "b")
            self._closefp = True
        else:
            self._fp = filename
        self._mode = "rb" if kind == "r" else "wb"
        self._written = 0
        try:
            if kind == "r":
                self._reader = io.BufferedReader(_DecompressReader(self._fp, threads, memory_limit))
            else:
                self._compressor = compressor
        except BaseException:
            if self._closefp:
                self._fp.close()
            self._fp = None
            raise

    # -- state ---------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True once the file has been closed."""
        return self._fp is None

    @property
    def name(self) -> Any:
        """The underlying file's name (ValueError once closed), as Python 3.13's LZMAFile."""
        self._check_open()
        return self._fp.name

    @property
    def mode(self) -> str:
        """"rb" or "wb", as Python 3.13's LZMAFile."""
        return self._mode

    def close(self) -> None:
        if self._fp is None:
            return
        try:
            if self._compressor is not None:
                # a compressor that failed has raised that error from write()
                # already: the stream cannot be ended, and saying so again here
                # would replace the error (a KeyboardInterrupt) leaving `with`
                if not self._compressor._failed:
                    self._fp.write(self._compressor.flush())
                self._compressor = None
        finally:
            try:
                if self._closefp:
                    self._fp.close()
            finally:
                if self._reader is not None:
                    self._reader.close()  # and with it what it was decoding ahead
                self._fp = None
                self._reader = None

    def _check_open(self) -> None:
        if self._fp is None:
            raise ValueError("I/O operation on closed file")

    def _check(self, want: str) -> None:
        self._check_open()
        if want != self._mode:
            raise io.UnsupportedOperation("file not open for " + ("reading" if want == "rb" else "writing"))

    def fileno(self) -> int:
        self._check_open()
        return self._fp.fileno()

    def readable(self) -> bool:
        self._check_open()
        return self._mode == "rb"

    def writable(self) -> bool:
        self._check_open()
        return self._mode == "wb"

    def seekable(self) -> bool:
        return self.readable() and self._reader.seekable()

    # -- reading ---------------------------------------------------------------
    def read(self, size: Optional[int] = -1) -> bytes:
        self._check("rb")
        return self._reader.read(-1 if size is None else size)

    def read1(self, size: int = -1) -> bytes:
        self._check("rb")
        return self._reader.read1(size)

    def readinto(self, b: BytesLike) -> int:
        """Reads decompressed bytes into b; returns how many (0 at the end)."""
        self._check("rb")
        return self._reader.readinto(b)

    def peek(self, size: int = 0) -> bytes:
        """Decompressed bytes from the current position, which does not
        move: at least one unless at the end (size is only a hint)."""
        self._check("rb")
        return self._reader.peek(size)

    def readline(self, size: Optional[int] = -1) -> bytes:
        self._check("rb")
        return self._reader.readline(-1 if size is None else size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Moves to offset in the decompressed data. Backwards, or far
        forwards, it restarts at the block that holds the target (found
        through the file's index) rather than at the start."""
        self._check("rb")
        return self._reader.seek(offset, whence)

    def tell(self) -> int:
        self._check_open()
        if self._mode == "rb":
            return self._reader.tell()
        return self._written

    # -- writing ---------------------------------------------------------------
    def write(self, data: BytesLike) -> int:
        self._check("wb")
        view = _as_view(data)
        # read once: close() on another thread may clear them meanwhile (its
        # flush then waits for this compress, and a write after it is refused)
        fp, compressor = self._fp, self._compressor
        if fp is None or compressor is None:
            raise ValueError("I/O operation on closed file")
        fp.write(compressor.compress(view))
        self._written += view.nbytes
        return view.nbytes


def _check_text_args(encoding: Optional[str], errors: Optional[str], newline: Optional[str]) -> None:
    """Raises what the file's io.TextIOWrapper would raise for these
    arguments, but before the file is opened (which may truncate it)."""
    for name, value in (("encoding", encoding), ("errors", errors), ("newline", newline)):
        if value is not None and not isinstance(value, str):
            raise ArgumentTypeError(f"{name} must be a string, not {type(value).__name__}")
    if newline not in _NEWLINES:
        raise ArgumentValueError(f"illegal newline value: {newline!r}")
    # LookupError for an unknown encoding, also for a codec that is not a
    # text encoding ("hex", "rot13"), which codecs.lookup accepts; ValueError
    # for an encoding or errors with a NUL or a lone surrogate in it
    io.TextIOWrapper(io.BytesIO(), "utf-8" if encoding is None else encoding, errors).detach()


def open(filename: PathOrFile, mode: str = "rb", *, level: Optional[int] = None,
         block_size: Optional[int] = None, encoding: Optional[str] = None, errors: Optional[str] = None,
         newline: Optional[str] = None, threads: int = 0,
         memory_limit: Optional[int] = None) -> Union[StatesmixFile, io.TextIOWrapper]:
    """Opens a .smx file in binary ("rb", "wb", "xb", "ab") or text ("rt",
    "wt", "xt", "at") mode; "r", "w", "x" and "a" are binary.

    Text mode returns an io.TextIOWrapper with the given encoding, errors and
    newline; in binary mode those must be None. level and block_size apply
    to writing (default: level 6 and its block size), memory_limit to
    reading. All arguments are checked before the file is touched.
    """
    mode = _check_mode(mode, _OPEN_MODES)
    if "t" in mode:
        _check_text_args(encoding, errors, newline)
    else:
        for name, value in (("encoding", encoding), ("errors", errors), ("newline", newline)):
            if value is not None:
                raise ArgumentValueError(f"argument {name!r} not supported in binary mode")
    binary = StatesmixFile(filename, mode.replace("t", ""), level=level, block_size=block_size,
                           threads=threads, memory_limit=memory_limit)
    if "t" in mode:
        encoding = io.text_encoding(encoding) if hasattr(io, "text_encoding") else encoding
        return io.TextIOWrapper(binary, encoding, errors, newline)
    return binary
