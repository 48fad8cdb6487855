"""Public API, shaped like Python's lzma and bz2 modules.

compress / decompress work on whole byte strings; Compressor / Decompressor
work incrementally. Input is cut into independent blocks (block_size bytes,
a per-level default), each coded with its own tokenizer and model, so the
bytes written depend only on the level and the block size, and up to
``threads`` blocks are coded or decoded at once. Memory stays bounded by
the blocks in flight, however long the stream.

Every entry point checks all its arguments before it does anything: when
one raises, nothing has been consumed, created or written.
"""

from __future__ import annotations

import functools
import operator
import sys
import threading
import weakref
from typing import Any, Callable, Iterable, Iterator, List, Optional, Tuple

from . import blocks
from ._parallel import JobQueue, OrderedRunner, cpu_count
from .container import (
    BLOCK_TAG,
    DEFAULT_BLOCK_SIZES,
    END_TAG,
    MAX_BLOCK_SIZE,
    MIN_BLOCK_SIZE,
    TRAILING_GARBAGE,
    BlockHeader,
    FrameHead,
    IndexEntry,
    StreamHeader,
    end_bytes,
    next_tag,
    parse_block_header,
    parse_end,
    parse_stream_header,
    stream_header_bytes,
)
from .errors import (
    ArgumentBufferError,
    ArgumentTypeError,
    ArgumentValueError,
    EndOfStreamError,
    MemoryLimitError,
    ReentrantCallError,
    StatesmixError,
    TruncatedError,
)
from .params import DEFAULT_LEVEL, LEVELS, MAX_LEVEL, MIN_LEVEL, Params

# any object with the buffer protocol: bytes, bytearray, memoryview, array, mmap, numpy
if sys.version_info >= (3, 12):
    from collections.abc import Buffer as BytesLike
else:
    BytesLike = Any

# progress(bytes_done, bytes_total_or_None, tokens_done, bytes_written)
ProgressFn = Callable[[int, Optional[int], int, int], None]

# Decoding refuses a block that needs more than this unless told otherwise:
# above every level at its default block size (tests/test_memory_limit.py).
DEFAULT_MEMORY_LIMIT = 4 << 30


# -- arguments -----------------------------------------------------------------
def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_level(level) -> int:
    """The level; None is the default level, as lzma's preset=None."""
    if level is None:
        return DEFAULT_LEVEL
    if not _is_int(level):
        raise ArgumentTypeError(f"level must be an integer from {MIN_LEVEL} to {MAX_LEVEL}, not {level!r}")
    if level not in LEVELS:
        raise ArgumentValueError(f"level must be from {MIN_LEVEL} to {MAX_LEVEL}, not {level}")
    return level


# the native engine takes a C int
MAX_THREADS = (1 << 31) - 1


def check_threads(threads) -> int:
    """The number of threads to use (0 = every core the process may use)."""
    if not _is_int(threads):
        raise ArgumentTypeError(f"threads must be an integer (0 = all cores), not {threads!r}")
    if not 0 <= threads <= MAX_THREADS:
        raise ArgumentValueError(f"threads must be from 0 (all cores) to {MAX_THREADS}, not {threads}")
    return threads or cpu_count()


def check_block_size(block_size, level: int) -> int:
    if block_size is None:
        return DEFAULT_BLOCK_SIZES[level]
    if not _is_int(block_size):
        raise ArgumentTypeError(f"block_size must be an integer, not {block_size!r}")
    if not MIN_BLOCK_SIZE <= block_size <= MAX_BLOCK_SIZE:
        raise ArgumentValueError(f"block_size must be from {MIN_BLOCK_SIZE} to {MAX_BLOCK_SIZE} bytes, "
                                 f"not {block_size}")
    return block_size


def check_memory_limit(memory_limit) -> int:
    if memory_limit is None:
        return DEFAULT_MEMORY_LIMIT
    if not _is_int(memory_limit):
        raise ArgumentTypeError(f"memory_limit must be an integer number of bytes, not {memory_limit!r}")
    if memory_limit <= 0:
        raise ArgumentValueError(f"memory_limit must be positive, not {memory_limit}")
    return memory_limit


def check_progress(progress) -> Optional[ProgressFn]:
    if progress is not None and not callable(progress):
        raise ArgumentTypeError(f"progress must be callable or None, not {progress!r}")
    return progress


def _as_view(data) -> memoryview:
    """data as a flat view of bytes; refused, before any use, if it is not
    bytes-like or not contiguous (so a call that raises consumed nothing)."""
    try:
        view = memoryview(data)
    except TypeError:
        raise ArgumentTypeError(f"a bytes-like object is required, not {type(data).__name__!r}") from None
    if not view.c_contiguous:
        raise ArgumentBufferError("memoryview: underlying buffer is not C-contiguous")
    if view.format == "B" and view.ndim == 1:
        return view
    # cast() refuses a shape with a zero in it (numpy.zeros((0, 3))): no bytes
    return view.cast("B") if view.nbytes else memoryview(b"")


def format_size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def memory_needed(header: BlockHeader) -> int:
    """What decoding a block holds: its model (Params.table_bytes), and its
    compressed bytes and content (at most twice its length)."""
    return blocks.memory_needed(header) + 2 * header.raw_len


def _abandoned_with(owner: object, runner: JobQueue) -> JobQueue:
    """runner, closed when owner is dropped: the blocks a Compressor dropped
    unflushed, or a Decompressor dropped before the end, left in flight would
    otherwise go on coding (minutes each at the default block size) and hold
    their models' memory. Closing sets their cancel event. Not at the
    interpreter's exit: by then the thread pools have been joined, and a
    cluster's client may be gone."""
    weakref.finalize(owner, runner.close).atexit = False
    return runner


def _one_call_at_a_time(method):
    """What lzma's compressor and decompressor objects do with their lock:
    calls on one object from several threads run one after the other, never
    interleaved (two compress() calls at once would hand one block to both
    and lose the next). The lock is taken by a with statement, whose C-level
    enter and exit leave no moment where an exception (Ctrl-C) could hold it
    for ever. A call made from inside a call on the same thread (a progress
    callback that feeds its own compressor) is refused: waiting for itself,
    it would never return."""

    @functools.wraps(method)
    def one_at_a_time(self, *args, **kwargs):
        me = threading.get_ident()
        if self._call_owner == me:
            raise ReentrantCallError(f"{method.__name__}() called from inside another call on the same object")
        with self._call_lock:
            try:
                self._call_owner = me
                return method(self, *args, **kwargs)
            finally:
                self._call_owner = None

    return one_at_a_time


# -- compression -----------------------------------------------------------------
class _Progress:
    """Counts what the blocks' frames have done; reported from the waiting thread."""

    def __init__(self, fn: Optional[ProgressFn], total: Optional[int]) -> None:
        self.fn, self.total = fn, total
        self.done = self.tokens = self.written = 0
        self.lock = threading.Lock()

    def on_frame(self, raw: int, tokens: int, written: int) -> None:
        with self.lock:
            self.done += raw
            self.tokens += tokens
            self.written += written

    def report(self) -> None:
        if self.fn is not None:
            with self.lock:
                args = (self.done, self.total, self.tokens, self.written)
            self.fn(*args)


class Compressor:
    """Incremental compressor: ``compress(chunk)`` returns what is ready,
    ``flush()`` the rest and the end of the stream.

    Input is buffered until a block is full; up to ``threads`` blocks are
    coded at once on worker threads. The output is identical to
    ``compress()`` of the whole input with the same level and block size.
    progress, if given, is called as for compress(), with None for the
    total, which a stream does not know.
    """

    def __init__(self, level: Optional[int] = DEFAULT_LEVEL, *, block_size: Optional[int] = None,
                 threads: int = 0, progress: Optional[ProgressFn] = None) -> None:
        self._level = check_level(level)
        self._block_size = check_block_size(block_size, self._level)
        self._threads = check_threads(threads)
        self._init_state(check_progress(progress), None, None)

    def _init_state(self, progress: Optional[ProgressFn], total: Optional[int],
                    overrides: Optional[dict]) -> None:
        self._call_lock, self._call_owner = threading.Lock(), None
        self._pending = bytearray()
        self._runner: Optional[JobQueue] = None
        self._entries: List[IndexEntry] = []
        self._header = stream_header_bytes(self._level, self._block_size)
        self._header_sent = False
        self._finished = False
        self._progress = _Progress(progress, total)
        self._overrides = overrides or {}
        self._failed: Optional[str] = None
        # not a lambda over self: that cycle would keep a dropped compressor,
        # and the blocks its finalizer should stop, alive until a gc pass
        self._make_runner: Callable[[], JobQueue] = functools.partial(OrderedRunner, self._threads)

    def __reduce__(self):
        raise TypeError(f"cannot pickle {type(self).__name__!r} object")

    @property
    def tokens(self) -> int:
        """Tokens coded so far (for progress reports)."""
        return self._progress.tokens

    def _submit(self, block, last: bool) -> List[bytes]:
        """Starts coding a block; returns the blocks that finished meanwhile."""
        out = []
        if self._runner is None:
            self._runner = _abandoned_with(self, self._make_runner())
        runner = self._runner
        while runner.full:
            out.append(self._take())
        alone = last and runner.pending == 0
        threads = self._threads if alone else max(1, self._threads // runner.workers)
        runner.submit(blocks.encode_block, block, self._level, threads=threads, **self._overrides,
                      local=dict(on_frame=self._progress.on_frame, cancel=runner.cancel))
        return out

    def _take(self) -> bytes:
        blob, entry = self._runner.pop(on_wait=self._progress.report)
        if not self._runner.reports_frames:  # the block's frames were coded elsewhere: count it whole
            header = parse_block_header(blob, 0, parse_stream_header(self._header), len(self._entries))
            self._progress.on_frame(entry.raw_len, header.n_tokens, entry.comp_size - header.size)
        self._entries.append(entry)
        self._progress.report()
        return blob

    def _ready(self) -> List[bytes]:
        out = []
        while self._runner is not None and self._runner.oldest_done():
            out.append(self._take())
        return out

    def _emit(self, parts: List[bytes]) -> bytes:
        if parts and not self._header_sent:
            parts.insert(0, self._header)
            self._header_sent = True
        return b"".join(parts)

    def _check_usable(self) -> None:
        if self._failed:
            raise StatesmixError(f"this compressor failed earlier ({self._failed}) and cannot continue")

    def _fail(self, exc: BaseException) -> None:
        """Blocks were lost with exc (or Ctrl-C): the stream cannot go on."""
        self._failed = str(exc) or type(exc).__name__
        if self._runner is not None:
            self._runner.close()

    @_one_call_at_a_time
    def compress(self, data: BytesLike) -> bytes:
        """Feeds data (any bytes-like object) to the compressor and returns
        the compressed bytes that are ready: the blocks coded so far, often
        b"". Call flush() after the last data to end the stream."""
        view = _as_view(data)
        self._check_usable()  # first: a flush that failed did not finish the stream
        if self._finished:
            raise ArgumentValueError("compressor has already been flushed")
        try:
            return self._compress(view)
        except BaseException as exc:
            self._fail(exc)
            raise

    def _compress(self, view: memoryview) -> bytes:
        bs = self._block_size
        parts: List[bytes] = []
        if not self._pending and len(view) >= bs:  # whole blocks straight from the caller's buffer
            n = len(view) - len(view) % bs
            for start in range(0, n, bs):
                parts += self._submit(view[start : start + bs].tobytes(), last=False)
            view = view[n:]
        self._pending += view
        while len(self._pending) >= bs:
            block = bytes(self._pending[:bs])
            del self._pending[:bs]
            parts += self._submit(block, last=False)
        parts += self._ready()
        return self._emit(parts)

    @_one_call_at_a_time
    def flush(self) -> bytes:
        """Codes what is still buffered and returns the rest of the stream,
        its end included. The compressor cannot be used after this."""
        return self._flush()

    def _flush(self) -> bytes:
        self._check_usable()
        if self._finished:
            raise ArgumentValueError("repeated call to flush(): the compressor has already been flushed")
        self._finished = True
        parts: List[bytes] = []
        try:
            if self._pending:
                parts += self._submit(bytes(self._pending), last=True)
                self._pending = bytearray()
            while self._runner is not None and self._runner.pending:
                parts.append(self._take())
            if not self._entries:  # no block: still the one report that says all is done
                self._progress.report()
        except BaseException as exc:
            self._fail(exc)
            raise
        finally:
            if self._runner is not None:
                self._runner.close()
        if not self._header_sent:
            parts.insert(0, self._header)
            self._header_sent = True
        parts.append(end_bytes(self._header, self._entries))
        return b"".join(parts)

    def _compress_all(self, data: memoryview) -> bytes:
        """compress() then flush() of one buffer, without copying it."""
        bs = self._block_size
        parts: List[bytes] = []
        try:
            for start in range(0, len(data), bs):
                parts += self._submit(data[start : start + bs], last=start + bs >= len(data))
        except BaseException as exc:
            self._fail(exc)
            raise
        return self._emit(parts) + self._flush()


def compress(data: BytesLike, level: Optional[int] = DEFAULT_LEVEL, *, block_size: Optional[int] = None,
             threads: int = 0, progress: Optional[ProgressFn] = None) -> bytes:
    """Compresses data (any bytes-like object) and returns the .smx bytes.

    The result depends only on the data, the level and the block size;
    threads only changes how fast it comes. progress, if given, is called
    now and then with (bytes done, bytes in all, tokens coded, bytes written),
    last with every byte done (once, for empty data).
    """
    return _compress(data, level, threads, progress, block_size=block_size)


def _compress(data, level: int, threads: int, progress: Optional[ProgressFn] = None,
              vocab_size: Optional[int] = None, adjust: Optional[Callable[[Params], Params]] = None,
              block_size: Optional[int] = None) -> bytes:
    """compress(), with the level's vocabulary size and parameters
    overridable: the ablation study (statesmix.ablation) uses this. The
    parameters are recorded in each block, so the result decodes as usual."""
    c = Compressor(level, block_size=block_size, threads=threads)
    check_progress(progress)
    view = _as_view(data)
    overrides = {}
    if vocab_size is not None:
        overrides["vocab_size"] = vocab_size
    if adjust is not None:
        overrides["adjust"] = adjust
    c._init_state(progress, len(view), overrides)
    return c._compress_all(view)


# -- decompression -----------------------------------------------------------
class Decompressor:
    """Incremental decompressor with the interface of lzma.LZMADecompressor.

    One stream: after its end, ``eof`` is true and anything that followed
    is in ``unused_data``. With threads > 1, whole blocks are decoded on up
    to ``threads`` worker threads at once; with one thread, output comes
    frame by frame. A block that needs more memory than ``memory_limit``
    bytes to decode is refused (MemoryLimitError) before anything is
    allocated for it.
    """

    def __init__(self, *, threads: int = 0, memory_limit: Optional[int] = None) -> None:
        self._threads = check_threads(threads)
        self._memory_limit = check_memory_limit(memory_limit)
        self._call_lock, self._call_owner = threading.Lock(), None
        self._buf = bytearray()
        self._stream: Optional[StreamHeader] = None
        self._entries: List[IndexEntry] = []
        self._first_block = 0  # > 0 when started at a block (random access)
        self._runner: Optional[JobQueue] = None
        self._block: Optional[blocks.BlockDecoder] = None  # serial: the block being decoded
        self._block_bytes = 0
        self._frame: Optional[FrameHead] = None
        self._scanned: Optional[BlockHeader] = None  # parallel: the next block's header
        self._in_flight_memory = 0
        self._out = bytearray()
        self._eof = False
        self._unused = b""
        self._failed: Optional[str] = None
        self._make_runner: Optional[Callable[[], JobQueue]] = None  # set: blocks go to this runner
        self._one_block_at_a_time = False
        # what the frames decoded so far hold; decompress_chunks gives it a report
        self._progress = _Progress(None, None)

    def __reduce__(self):
        raise TypeError(f"cannot pickle {type(self).__name__!r} object")

    @classmethod
    def _at_block(cls, stream: StreamHeader, block_index: int, *, threads: int = 0,
                  memory_limit: Optional[int] = None) -> "Decompressor":
        """A decompressor whose input starts at block block_index of a stream
        with this header (random access: statesmix.open's seek). It decodes
        one block at a time, frame by frame, with all the threads for that
        block's engine: a read after a seek needs that block first."""
        d = cls(threads=threads, memory_limit=memory_limit)
        d._stream = stream
        d._first_block = block_index
        d._one_block_at_a_time = True
        return d

    @property
    def eof(self) -> bool:
        """True once the end of the stream has been reached."""
        return self._eof

    @property
    def unused_data(self) -> bytes:
        """Data found after the end of the stream (set once eof is true)."""
        return self._unused

    @property
    def needs_input(self) -> bool:
        """As lzma's, an attribute that never raises: True after a failure.
        While another thread is in decompress(), False: that call may leave
        output, and the buffers it is changing are not read meanwhile.

        With threads > 1 it stays True while blocks decode on worker threads
        and the next block is not whole yet: more input lets the next block
        start beside them, which lzma's loop (read when True, else call with
        b"") would otherwise wait for. Where the input ends before the
        stream does, a call with b"" gives the blocks in flight."""
        if self._failed:
            return True
        if self._eof or self._out or self._call_lock.locked():
            return False
        try:
            return not self._can_step()
        except StatesmixError:
            return False  # a step is due: the one that reports the error
        except Exception:
            if self._call_lock.locked():  # a call began on another thread and changed what was read
                return False
            raise

    @property
    def _parallel(self) -> bool:
        if self._one_block_at_a_time:
            return False
        return self._threads > 1 or self._make_runner is not None

    @property
    def _blocks_in_flight(self) -> int:
        """Blocks handed to worker threads whose output has not been given yet."""
        return self._runner.pending if self._parallel and self._runner is not None else 0

    @property
    def _block_index(self) -> int:
        return self._first_block + len(self._entries) + self._blocks_in_flight

    @_one_call_at_a_time
    def decompress(self, data: BytesLike, max_length: int = -1) -> bytes:
        """Decompresses data, returning at most max_length bytes (all if negative)."""
        try:  # any integer-like object, as lzma takes
            max_length = operator.index(max_length)
        except TypeError:
            raise ArgumentTypeError(f"max_length must be an integer, not {max_length!r}") from None
        view = _as_view(data)
        if self._eof:
            raise EndOfStreamError("already at the end of the compressed stream")
        if self._failed:
            raise StatesmixError(f"this decompressor failed earlier ({self._failed}) and cannot continue")
        self._buf += view
        try:
            while max_length < 0 or len(self._out) < max_length:
                if max_length >= 0 and self._out and self._block is None and not self._parallel:
                    break  # at the end of a block: return what is there rather than start the next
                if not self._step():
                    if len(view) or not self._blocks_in_flight:
                        break
                    self._take()  # a call without input: wait for the oldest block in flight
            if max_length >= 0 and len(self._out) == max_length and self._end_is_next():
                try:  # all that is left fits: see the end now, as lzma does
                    self._end()
                except StatesmixError:
                    pass  # a damaged end record is the next call's to report: this one has output

        except BaseException as exc:
            self._failed = str(exc) or type(exc).__name__
            if self._runner is not None:
                self._runner.close()
            raise
        if self._eof and self._buf:
            self._unused += bytes(self._buf)
            self._buf.clear()
        if max_length < 0 or len(self._out) <= max_length:
            result = bytes(self._out)
            self._out.clear()
        else:
            result = bytes(self._out[:max_length])
            del self._out[:max_length]
        return result

    # -- one step: returns True if it made progress ------------------------------
    def _step(self) -> bool:
        if self._eof:
            return False
        if self._stream is None:
            header = parse_stream_header(self._buf)
            if header is None:
                return False
            self._stream = header
            del self._buf[: header.size]
            return True
        return self._step_parallel() if self._parallel else self._step_serial()

    def _end_is_next(self) -> bool:
        """Nothing is left to decode before the end record. (Corrupt data
        there is left for the next call to report: this one has output.)"""
        return (not self._eof and self._stream is not None and self._block is None
                and not self._blocks_in_flight and self._buf[:1] == bytes([END_TAG]))

    def _can_step(self) -> bool:
        if self._eof:
            return False
        if self._stream is None:
            return parse_stream_header(self._buf) is not None
        if self._parallel and self._runner is not None and self._runner.oldest_done():
            return True
        if self._block is not None:
            head = self._frame or self._block.parse_head(self._buf, 0)
            return head is not None and len(self._buf) >= head.total
        tag = next_tag(self._buf, 0, f"block {self._block_index}")
        if tag is None:
            return False
        if tag == END_TAG:
            return parse_end(self._buf, 0, self._stream) is not None
        if self._parallel:
            return blocks.block_extent(self._buf, 0, self._stream, self._block_index) is not None
        return parse_block_header(self._buf, 0, self._stream, self._block_index) is not None

    def _check_memory(self, header: BlockHeader, index: int) -> int:
        need = memory_needed(header)
        if need > self._memory_limit:
            raise MemoryLimitError(
                f"block {index} needs {format_size(need)} of memory to decode (level {self._stream.level}"
                f"{', explicit parameters' if header.explicit_params else ''}), more than the limit of "
                f"{format_size(self._memory_limit)}: raise the memory limit to decode it"
            )
        return need

    def _worker(self) -> JobQueue:
        if self._runner is None:
            if self._make_runner is not None:
                self._runner = _abandoned_with(self, self._make_runner())
            else:
                self._runner = _abandoned_with(self, OrderedRunner(self._threads if self._parallel else 1))
        return self._runner

    def _abandon(self) -> None:
        """Stops the blocks in flight (each at its next frame): for a reader
        closed before the end."""
        if self._runner is not None:
            self._runner.close()

    def _step_serial(self) -> bool:
        buf = self._buf
        if self._block is None:
            index = self._block_index
            tag = next_tag(buf, 0, f"block {index}")
            if tag is None:
                return False
            if tag == END_TAG:
                return self._end()
            header = parse_block_header(buf, 0, self._stream, index)
            if header is None:
                return False
            self._check_memory(header, index)
            self._block = blocks.BlockDecoder(header, index, self._threads)
            self._block_bytes = header.size
            del buf[: header.size]
            return True
        head = self._frame or self._block.parse_head(buf, 0)
        if head is None:
            return False
        self._frame = head
        if len(buf) < head.total:
            return False
        payload = bytes(buf[head.size : head.total])
        raw = self._worker().call(self._block.frame, head, payload)
        del buf[: head.total]
        self._frame = None
        self._block_bytes += head.total
        self._out += raw
        self._progress.on_frame(len(raw), head.n_tokens, head.total)
        self._progress.report()
        if not self._block.remaining:
            self._entries.append(self._block.entry(self._block_bytes))
            self._block = None
        return True

    def _take(self) -> None:
        runner = self._runner
        need, header = runner.oldest_tag()
        raw, entry = runner.pop(on_wait=self._progress.report)
        if not runner.reports_frames:  # the block's frames were decoded elsewhere: count it whole
            self._progress.on_frame(entry.raw_len, header.n_tokens, entry.comp_size - header.size)
        self._in_flight_memory -= need
        self._entries.append(entry)
        self._out += raw
        self._progress.report()

    def _step_parallel(self) -> bool:
        runner = self._worker()
        if runner.oldest_done():
            self._take()
            return True
        try:
            return self._dispatch(runner)
        except StatesmixError:
            if runner.pending:  # errors in stream order: the blocks before this one first
                self._take()
                return True
            raise

    def _dispatch(self, runner: JobQueue) -> bool:
        """Hands the next whole block to a worker, or reads the end record."""
        buf = self._buf
        index = self._block_index
        tag = next_tag(buf, 0, f"block {index}")
        if tag == END_TAG:
            if runner.pending:
                self._take()
                return True
            return self._end()
        if tag is None:
            return False
        header = self._scanned or parse_block_header(buf, 0, self._stream, index)
        if header is None:
            return False
        self._scanned = header
        need = self._check_memory(header, index)  # before the block is buffered whole
        extent = blocks.block_extent(buf, 0, self._stream, index)
        if extent is None:
            return False
        held = self._in_flight_memory if runner.shares_memory else 0
        if runner.full or (runner.pending and held + need > self._memory_limit):
            self._take()
            return True
        size = extent[1]
        blob = bytes(buf[:size])
        del buf[:size]
        self._scanned = None
        last = runner.pending == 0 and buf[:1] == bytes([END_TAG])
        threads = self._threads if last else max(1, self._threads // runner.workers)
        runner.submit(blocks.decode_block, blob, header, index, threads, tag=(need, header),
                      local=dict(cancel=runner.cancel, on_frame=self._progress.on_frame))
        self._in_flight_memory += need
        return True

    def _end(self) -> bool:
        rec = parse_end(self._buf, 0, self._stream)
        if rec is None:
            return False
        first, got = self._first_block, self._entries
        if len(rec.blocks) != first + len(got):
            raise StatesmixError(f"the index lists {len(rec.blocks)} blocks but the stream has "
                                 f"{first + len(got)}: the file is corrupt")
        for i, entry in enumerate(got):
            if rec.blocks[first + i] != entry:
                raise StatesmixError(f"the index does not match block {first + i}: the file is corrupt")
        del self._buf[: rec.size]
        self._eof = True
        if self._runner is not None:
            self._runner.close()
        return False


def decompress_next_stream(d: Decompressor, data, max_length: int = -1) -> bytes:
    """d.decompress(data, max_length) for a new decompressor given what
    follows a stream: an error before it has found a stream header means
    that what follows is no stream, and says so."""
    try:
        return d.decompress(data, max_length)
    except StatesmixError:
        if d._stream is not None:  # a stream that went wrong later on
            raise
        raise StatesmixError(TRAILING_GARBAGE) from None


def decompress_chunks(chunks: Iterable[bytes], *, threads: int = 0, memory_limit: Optional[int] = None,
                      progress: Optional[ProgressFn] = None) -> Iterator[bytes]:
    """Decompresses .smx data arriving in pieces, yielding output as it is
    decoded. Concatenated streams decode in order; anything else after a
    stream, an empty input or a stream cut short raises StatesmixError
    (TruncatedError, also an EOFError, for the last two). progress, if
    given, is called as for compress(), with None for the total, over all
    the streams: (bytes decoded, None, tokens, compressed bytes of their
    frames)."""
    check_threads(threads)
    check_memory_limit(memory_limit)
    check_progress(progress)
    return _decompress_chunks(chunks, lambda: Decompressor(threads=threads, memory_limit=memory_limit), progress)


def _decompress_chunks(chunks: Iterable[bytes], new: Callable[[], Decompressor],
                       progress: Optional[ProgressFn] = None) -> Iterator[bytes]:
    """decompress_chunks(), with a Decompressor from new() for each stream."""
    counts = _Progress(progress, None)  # one count for every stream

    def counted() -> Decompressor:
        d = new()
        d._progress = counts
        return d

    d = counted()
    started = False
    for chunk in chunks:
        while chunk:
            if d.eof:  # another stream must follow
                d = counted()
                out = decompress_next_stream(d, chunk)
            else:
                out = d.decompress(chunk)
            started = True
            if out:
                yield out
            chunk = d.unused_data if d.eof else b""
    if not started:
        raise TruncatedError("compressed data is empty")
    if not d.eof:
        raise TruncatedError("compressed data is truncated (it ends before the end of the stream)")


def decompress(data: BytesLike, *, threads: int = 0, memory_limit: Optional[int] = None) -> bytes:
    """Decompresses .smx data; concatenated streams decode to the concatenation.

    memory_limit (bytes, default DEFAULT_MEMORY_LIMIT) refuses, with
    MemoryLimitError and before allocating, a block that needs more."""
    check_threads(threads)
    check_memory_limit(memory_limit)
    view = _as_view(data)
    return b"".join(decompress_chunks([view.tobytes()], threads=threads, memory_limit=memory_limit))
