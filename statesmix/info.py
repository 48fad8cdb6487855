"""Reads a .smx file's structure without decoding it (``statesmix info``).

It walks the stream header, each block's header and frame heads and the
end record through small reads, so a large file is never read whole, and
it reports what decoding needs in memory per block.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

from .api import format_size, memory_needed
from .container import (
    BLOCK_TAG,
    DEFAULT_BLOCK_SIZES,
    END_TAG,
    FORMAT_VERSION,
    FRAME_CODED,
    FRAME_STORED,
    FRAME_STORED_RESET,
    MAX_BLOCKS,
    MAX_PARAMS_BYTES,
    MAX_VARINT_BYTES,
    MAX_VOCAB_BYTES,
    TRAILING_GARBAGE,
    BlockHeader,
    EndRecord,
    StreamHeader,
    parse_block_header,
    parse_end,
    parse_frame_head,
    parse_stream_header,
)
from .errors import StatesmixError

ReadAt = Callable[[int, int], bytes]
_LIMIT = MAX_VOCAB_BYTES + MAX_PARAMS_BYTES + 64
# An end record's index has an entry for each of up to MAX_BLOCKS blocks:
# far longer than a block header can be.
_END_LIMIT = 1 + MAX_VARINT_BYTES + MAX_BLOCKS * (2 * MAX_VARINT_BYTES + 4) + 4 + 6


@dataclass
class BlockInfo:
    index: int
    offset: int
    comp_size: int
    header: BlockHeader
    frames: Counter = field(default_factory=Counter)  # frame kind -> count
    tokens: int = 0  # tokens in coded frames
    raw_found: int = 0  # bytes of content in the frames found (all of raw_len unless truncated)

    @property
    def memory(self) -> int:
        return memory_needed(self.header)


@dataclass
class StreamInfo:
    start: int
    header: StreamHeader
    blocks: List[BlockInfo]
    end: Optional[EndRecord]  # None: the stream is truncated
    size: int  # bytes of the stream that were found

    @property
    def tokens(self) -> int:
        return sum(b.tokens for b in self.blocks)

    @property
    def raw_size(self) -> int:
        return sum(b.raw_found for b in self.blocks)

    @property
    def memory(self) -> int:
        return max((b.memory for b in self.blocks), default=0)

    def problem(self) -> Optional[str]:
        """Why the stream cannot decode as it stands, as far as its structure
        tells (a truncated end, an index that disagrees with the blocks it
        lists); None when nothing is wrong with it short of decoding."""
        if self.end is None:
            return "the file is truncated (the stream has no end record)"
        listed = self.end.blocks
        for b, entry in zip(self.blocks, listed):
            if (entry.comp_size, entry.raw_len) != (b.comp_size, b.header.raw_len):
                return (f"the index does not match block {b.index} (it lists {entry.raw_len} -> "
                        f"{entry.comp_size} bytes): the file is corrupt")
        if len(listed) != len(self.blocks):
            return f"the index lists {len(listed)} blocks, the stream holds {len(self.blocks)}: the file is corrupt"
        return None


def _parse_at(read_at: ReadAt, offset: int, fn, first: int = 64, limit: Optional[int] = None):
    """fn(buf) on growing reads at offset, of at most limit bytes (a block
    header's _LIMIT unless given), until it parses; None at the end of the data."""
    limit = _LIMIT if limit is None else limit
    n = first
    while True:
        buf = read_at(offset, n)
        got = fn(buf)
        if got is not None:
            return got
        if len(buf) < n or n >= limit:
            return None
        n = min(n * 8, limit)


def scan_stream(read_at: ReadAt, start: int) -> StreamInfo:
    """The structure of the stream at offset start."""
    header = _parse_at(read_at, start, lambda b: parse_stream_header(b), 16)
    if header is None:
        raise StatesmixError("file is truncated inside the stream header")
    pos = start + header.size
    info = StreamInfo(start, header, [], None, header.size)
    while True:
        tag = read_at(pos, 1)
        if not tag:
            break
        where = f"block {len(info.blocks)}"
        if tag[0] == END_TAG:
            info.end = _parse_at(read_at, pos, lambda b: parse_end(b, 0, header), 256, _END_LIMIT)
            if info.end is not None:
                pos += info.end.size
            break
        if tag[0] != BLOCK_TAG:
            raise StatesmixError(f"corrupt data where {where} or the end record should start")
        bh = _parse_at(read_at, pos, lambda b: parse_block_header(b, 0, header, len(info.blocks)))
        if bh is None:
            break
        block = BlockInfo(len(info.blocks), pos, 0, bh)
        p, k = pos + bh.size, 0
        complete = True
        while block.raw_found < bh.raw_len:
            remaining = bh.raw_len - block.raw_found
            head = _parse_at(read_at, p, lambda b: parse_frame_head(b, 0, bh, block.index, k, remaining), 32)
            if head is None or not read_at(p + head.total - 1, 1):  # the head, but not all its frame
                complete = False
                break
            block.frames[head.kind] += 1
            block.tokens += head.n_tokens
            p += head.total
            block.raw_found += head.raw_len
            k += 1
        block.comp_size = p - pos
        info.blocks.append(block)
        pos = p
        if not complete:
            break
    info.size = pos - start
    return info


def _reader_of(data: bytes) -> ReadAt:
    """The ReadAt of a file held in memory."""
    return lambda offset, n: data[offset : offset + n]


def scan(data: bytes) -> StreamInfo:
    """The structure of the first stream in data."""
    return scan_stream(_reader_of(data), 0)


def scan_all(read_at: ReadAt, size: int) -> Tuple[List[StreamInfo], Optional[str]]:
    """Every stream of a file, one after the other, and what follows the
    last if it is no stream (None if nothing does): the streams before it
    are still described, as decompress and test decode them first."""
    streams: List[StreamInfo] = []
    pos = 0
    while pos < size:
        try:
            s = scan_stream(read_at, pos)
        except StatesmixError as exc:
            if not streams:
                raise
            try:  # decompress's judgement: no stream header there means no stream at all
                parse_stream_header(read_at(pos, 64))
            except StatesmixError:
                return streams, TRAILING_GARBAGE
            return streams, f"stream {len(streams) + 1}: {exc}"
        streams.append(s)
        if s.end is None:
            break
        pos += s.size
    return streams, None


def _kinds(c: Counter) -> str:
    parts = [f"{c[FRAME_CODED]} coded"]
    if c[FRAME_STORED]:
        parts.append(f"{c[FRAME_STORED]} stored")
    if c[FRAME_STORED_RESET]:
        parts.append(f"{c[FRAME_STORED_RESET]} stored after modelling")
    return ", ".join(parts)


def describe_stream(s: StreamInfo, name: str, max_blocks: int = 64) -> str:
    h = s.header
    raw = s.raw_size
    default = h.block_size == DEFAULT_BLOCK_SIZES[h.level]
    lines = [
        f"{name}:",
        f"  format version   {h.version}",
        f"  level            {h.level}",
        f"  block size       {h.block_size} bytes ({format_size(h.block_size)}"
        f"{', the level default' if default else ''})",
        f"  compressed size  {s.size} bytes",
        f"  original size    {raw} bytes" + ("" if s.end else " so far (no end record: truncated)"),
        f"  ratio            {8.0 * s.size / raw:.3f} bits/byte" if raw else "  ratio            -",
        f"  blocks           {len(s.blocks)}, {s.tokens} tokens, "
        f"{sum(sum(b.frames.values()) for b in s.blocks)} frames",
        f"  memory to decode {s.memory} bytes ({format_size(s.memory)}) per block in flight"
        + (f"; -T N holds up to N blocks" if len(s.blocks) > 1 else ""),
    ]
    for b in s.blocks[:max_blocks]:
        bh, p = b.header, b.header.params
        vocab = f"{bh.vocab.size} ids (BPE)" if bh.vocab.size > 256 else "256 ids (bytes)"
        lines.append(
            f"  block {b.index:<5}     at {b.offset}: {b.raw_found} -> {b.comp_size} bytes, {b.tokens} tokens, "
            f"{_kinds(b.frames)} frames; vocabulary {vocab}; "
            f"{'explicit' if bh.explicit_params else 'level'} parameters (layers={p.n_layers} "
            f"table 2^{p.table_bits}); needs {format_size(b.memory)}"
        )
    if len(s.blocks) > max_blocks:
        lines.append(f"  ... {len(s.blocks) - max_blocks} more blocks")
    problem = s.problem()
    if problem:
        lines.append(f"  warning          {problem}")
    return "\n".join(lines)


def describe(read_at: ReadAt, size: int, name: str) -> Tuple[str, Optional[str]]:
    """The description of every stream of a file, and the first problem
    found in one (None if none was)."""
    streams, trailing = scan_all(read_at, size)
    if not streams:
        raise StatesmixError("compressed data is empty")
    if len(streams) == 1:
        text = describe_stream(streams[0], name)
    else:
        text = "\n".join(describe_stream(s, f"{name} (stream {i + 1} of {len(streams)}, at {s.start})")
                         for i, s in enumerate(streams))
    return text, next((p for p in [*(s.problem() for s in streams), trailing] if p), None)


def describe_bytes(data: bytes, name: str) -> Tuple[str, Optional[str]]:
    """describe() of a file held in memory (standard input, a pipe)."""
    return describe(_reader_of(data), len(data), name)
