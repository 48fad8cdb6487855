"""Public API, shaped like Python's lzma and bz2 modules.

compress / decompress work on whole byte strings; Compressor / Decompressor
work incrementally and hold bounded memory whatever the stream's length.
Both directions drive the same C engine one frame at a time.
"""

from __future__ import annotations

import zlib
from typing import Callable, Iterable, Iterator, List, Optional

import numpy as np

from ._native import Engine
from .container import (
    EndInfo,
    FrameInfo,
    Header,
    end_bytes,
    frame_bytes,
    header_bytes,
    parse_header,
    parse_record,
)
from .errors import StatesmixError
from .params import DEFAULT_LEVEL, Params, get_level
from .tokenizer import Tokenizer

# One-shot compression cuts the token stream into frames of this many tokens.
FRAME_TOKENS = 65536
# Streams: the tokenizer is trained on the first STREAM_TRAIN_BYTES, then
# input is coded in frames of about STREAM_FRAME_BYTES.
STREAM_TRAIN_BYTES = 1 << 20
STREAM_FRAME_BYTES = 256 << 10

# progress(bytes_done, bytes_total_or_None, tokens_done, bytes_written)
ProgressFn = Callable[[int, Optional[int], int, int], None]


class _EndOfStream(StatesmixError, EOFError):
    """decompress() called after the end marker (an EOFError, as in lzma)."""


def _as_bytes(data) -> bytes:
    if isinstance(data, bytes):
        return data
    try:
        return memoryview(data).tobytes()
    except TypeError:
        raise TypeError(f"a bytes-like object is required, not {type(data).__name__!r}") from None


class _FrameWriter:
    """Encodes token arrays into frames with one engine; tracks the content CRC."""

    def __init__(self, level: int, params: Params, tokenizer: Tokenizer, threads: int) -> None:
        self.tokenizer = tokenizer
        self.engine = Engine(params, tokenizer.vocab.pieces, threads)
        self.header = header_bytes(level, params, tokenizer.vocab)
        self.total = 0
        self.crc = 0
        self.tokens = 0

    def frames(self, data: bytes, ids: np.ndarray):
        """Yields the frames coding data (whose tokens are ids)."""
        frame_tokens = FRAME_TOKENS
        lengths = self.tokenizer.vocab.lengths
        pos = 0
        for start in range(0, len(ids), frame_tokens):
            chunk = ids[start : start + frame_tokens]
            raw_len = int(lengths[chunk].sum())
            raw = data[pos : pos + raw_len]
            payload = self.engine.encode(chunk)
            pos += raw_len
            self.total += raw_len
            self.crc = zlib.crc32(raw, self.crc)
            self.tokens += len(chunk)
            yield frame_bytes(len(chunk), raw_len, zlib.crc32(raw), payload)
        if pos != len(data):
            raise StatesmixError("internal error: tokens do not cover the input")

    def end(self) -> bytes:
        return end_bytes(self.total, self.crc)


def _check_threads(threads: int) -> int:
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise StatesmixError(f"threads must be a non-negative integer (0 = all cores), not {threads!r}")
    return threads


def compress(data, level: int = DEFAULT_LEVEL, *, threads: int = 0,
             progress: Optional[ProgressFn] = None) -> bytes:
    """Compresses data (any bytes-like object) and returns the .smx bytes."""
    return _compress(data, level, threads, progress)


def _compress(data, level: int, threads: int, progress: Optional[ProgressFn] = None,
              vocab_size: Optional[int] = None,
              adjust: Optional[Callable[[Params], Params]] = None) -> bytes:
    """compress(), with the level's vocabulary size and parameters
    overridable: the ablation study (statesmix.ablation) uses this. The
    parameters are recorded in the header, so the result decodes as usual."""
    lv = get_level(level)
    threads = _check_threads(threads)
    data = _as_bytes(data)
    tokenizer = Tokenizer.train(data, vocab_size or lv.vocab_size(len(data)))
    ids = tokenizer.encode(data)
    params = lv.params.replace(vocab=tokenizer.vocab.size).size_for(len(ids))
    if adjust is not None:
        params = adjust(params)
    writer = _FrameWriter(level, params, tokenizer, threads)
    out: List[bytes] = [writer.header]
    written = len(writer.header)
    for frame in writer.frames(data, ids):
        out.append(frame)
        written += len(frame)
        if progress:
            progress(writer.total, len(data), writer.tokens, written)
    out.append(writer.end())
    return b"".join(out)


def decompress_chunks(chunks: Iterable[bytes], *, threads: int = 0) -> Iterator[bytes]:
    """Decompresses .smx data arriving in pieces, yielding output as it is
    decoded. Concatenated streams decode in order; anything else after a
    stream, an empty input or a stream cut short raises StatesmixError."""
    d = Decompressor(threads=threads)
    started = False
    for chunk in chunks:
        while chunk:
            if d.eof:  # another stream must follow
                d = Decompressor(threads=threads)
                try:
                    out = d.decompress(chunk)
                except StatesmixError:
                    raise StatesmixError("trailing data after the end of the compressed stream "
                                         "is not a statesmix stream") from None
            else:
                out = d.decompress(chunk)
            started = True
            if out:
                yield out
            chunk = d.unused_data if d.eof else b""
    if not started:
        raise StatesmixError("compressed data is empty")
    if not d.eof:
        raise StatesmixError("compressed data is truncated (it ends before the end marker)")


def decompress(data, *, threads: int = 0) -> bytes:
    """Decompresses .smx data; concatenated streams decode to the concatenation."""
    return b"".join(decompress_chunks([_as_bytes(data)], threads=threads))


class Compressor:
    """Incremental compressor: ``compress(chunk)`` returns what is ready,
    ``flush()`` the rest and the end marker.

    The tokenizer is trained on the first megabyte of the stream; the model
    and tables carry over from frame to frame, and tables are sized by the
    level's caps, so memory stays bounded however long the stream is.
    """

    def __init__(self, level: int = DEFAULT_LEVEL, *, threads: int = 0) -> None:
        self._level_number = level
        self._level = get_level(level)
        self._threads = _check_threads(threads)
        self._pending = bytearray()
        self._writer: Optional[_FrameWriter] = None
        self._finished = False

    @property
    def tokens(self) -> int:
        """Tokens coded so far (for progress reports)."""
        return self._writer.tokens if self._writer else 0

    def _start(self) -> bytes:
        sample = bytes(self._pending[:STREAM_TRAIN_BYTES])
        tokenizer = Tokenizer.train(sample, self._level.vocab_size(len(sample)))
        params = self._level.params.replace(vocab=tokenizer.vocab.size)
        self._writer = _FrameWriter(self._level_number, params, tokenizer, self._threads)
        return self._writer.header

    def _emit(self, nbytes: int) -> bytes:
        data = bytes(self._pending[:nbytes])
        del self._pending[:nbytes]
        ids = self._writer.tokenizer.encode(data)
        return b"".join(self._writer.frames(data, ids))

    def _cut(self) -> int:
        """Where the next frame ends: after a newline near STREAM_FRAME_BYTES."""
        nl = self._pending.rfind(b"\n", STREAM_FRAME_BYTES - 4096, STREAM_FRAME_BYTES)
        return nl + 1 if nl >= 0 else STREAM_FRAME_BYTES

    def compress(self, data) -> bytes:
        if self._finished:
            raise StatesmixError("compressor has already been flushed")
        self._pending += _as_bytes(data)
        out = []
        if self._writer is None:
            if len(self._pending) < STREAM_TRAIN_BYTES:
                return b""
            out.append(self._start())
        while len(self._pending) >= STREAM_FRAME_BYTES + 4096:
            out.append(self._emit(self._cut()))
        return b"".join(out)

    def flush(self) -> bytes:
        if self._finished:
            raise StatesmixError("compressor has already been flushed")
        out = []
        if self._writer is None:
            out.append(self._start())
        while len(self._pending) > STREAM_FRAME_BYTES:
            out.append(self._emit(self._cut()))
        if self._pending:
            out.append(self._emit(len(self._pending)))
        out.append(self._writer.end())
        self._finished = True
        return b"".join(out)


class Decompressor:
    """Incremental decompressor with the interface of lzma.LZMADecompressor."""

    def __init__(self, *, threads: int = 0) -> None:
        self._threads = _check_threads(threads)
        self._buf = bytearray()
        self._header: Optional[Header] = None
        self._engine: Optional[Engine] = None
        self._frame: Optional[FrameInfo] = None
        self._frame_index = 0
        self._total = 0
        self._crc = 0
        self._out = bytearray()
        self._eof = False
        self._unused = b""

    @property
    def eof(self) -> bool:
        return self._eof

    @property
    def unused_data(self) -> bytes:
        return self._unused

    @property
    def needs_input(self) -> bool:
        return not self._eof and not self._out and not self._ready()

    def _ready(self) -> bool:
        """True if the buffered input lets a step make progress."""
        if self._header is None:
            return parse_header(self._buf) is not None
        if self._frame is None:
            return parse_record(self._buf, 0, self._frame_index) is not None
        return len(self._buf) >= self._frame.payload_len

    def _step(self) -> bool:
        buf = self._buf
        if self._header is None:
            header = parse_header(buf)
            if header is None:
                return False
            self._engine = Engine(header.params, header.vocab.pieces, self._threads)
            self._header = header
            del buf[: header.size]
            return True
        if self._frame is None:
            rec = parse_record(buf, 0, self._frame_index)
            if rec is None:
                return False
            info, after = rec
            del buf[:after]
            if isinstance(info, EndInfo):
                if info.total_len != self._total:
                    raise StatesmixError(
                        f"end marker says {info.total_len} bytes but {self._total} were decoded: the file is corrupt"
                    )
                if info.content_crc != self._crc:
                    raise StatesmixError("content checksum mismatch: the file is corrupt")
                self._eof = True
                self._unused = bytes(buf)
                buf.clear()
                return False
            self._frame = info
            return True
        f = self._frame
        if len(buf) < f.payload_len:
            return False
        payload = bytes(buf[: f.payload_len])
        tokens, used = self._engine.decode(payload, f.n_tokens)
        if used != f.payload_len:
            raise StatesmixError(f"frame {f.index} is corrupt (payload does not decode to its length)")
        if self._header.vocab.decoded_length(tokens) != f.raw_len:
            raise StatesmixError(f"frame {f.index} is corrupt (decodes to the wrong length)")
        raw = self._header.vocab.decode(tokens)
        if zlib.crc32(raw) != f.raw_crc:
            raise StatesmixError(f"checksum mismatch in frame {f.index}: the file is corrupt")
        del buf[: f.payload_len]
        self._out += raw
        self._total += len(raw)
        self._crc = zlib.crc32(raw, self._crc)
        self._frame = None
        self._frame_index += 1
        return True

    def decompress(self, data, max_length: int = -1) -> bytes:
        if self._eof:
            raise _EndOfStream("already at the end of the compressed stream")
        self._buf += _as_bytes(data)
        while (max_length < 0 or len(self._out) < max_length) and self._step():
            pass
        if self._eof and self._unused == b"" and self._buf:
            self._unused = bytes(self._buf)
            self._buf.clear()
        if max_length < 0 or len(self._out) <= max_length:
            result = bytes(self._out)
            self._out.clear()
        else:
            result = bytes(self._out[:max_length])
            del self._out[:max_length]
        return result
