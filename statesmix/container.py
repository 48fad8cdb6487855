"""The .smx container format, version 22 (versions 3 to 21 are read too).

A file is one or more streams, one after the other; a stream is a header,
independent blocks and an end record with the block index::

    stream  header  block*  end
    header  magic "\\x93SMX", version u8 (= 22; 3 to 21 are read),
            level_flags u8: bits 0-3 the level (1..9); bit 4 set when the
            block size is not the level's default; bits 5-7 zero,
            [block_size varint]                      (only with bit 4)
    block   tag "B", flags u8: bit 0 a BPE vocabulary follows (clear: the
            identity tokenizer, 256 ids, one per byte); bit 1 explicit model
            parameters follow (clear: the level's, rebuilt); bits 2-7 zero,
            raw_len varint                           (bytes the block holds)
            n_tokens varint                          (tokens its model codes)
            [vocab_len varint, vocabulary]           (bit 0, see tokenizer.py)
            [params_len varint, parameters]          (bit 1, see params.py)
            frame*                                   (until raw_len is reached)
    frame   kind u8: 0 coded, 1 stored, 2 stored after modelling,
            raw_len varint,
            [n_tokens varint, payload_len varint]    (kind 0 only)
            crc u32: CRC-32 of the block's content from its start through
            this frame (so frames cannot be reordered or repeated unseen),
            payload (kind 0: payload_len bytes from the engine; kinds 1
            and 2: the raw_len bytes themselves)
    end     tag "E", n_blocks varint,
            n_blocks x (comp_size varint, raw_len varint, crc u32)
                         (a block's bytes in the file, its content length,
                          the CRC-32 of its content),
            index_crc u32  (CRC-32 of the stream header and of the end
                            record up to here),
            end_size u32   (bytes from the "E" tag through index_crc),
            footer magic "SX"

Integers are little-endian; a varint is LEB128 (7 bits a byte, low bits
first, minimal length, at most 8 bytes). An empty input is an 18-byte
stream: a 6-byte header and a 12-byte end record.

What the decoder can rebuild is not stored. A block's model parameters are
the level's, with the vocabulary size of the block's tokenizer, sized by
``Params.size_for(n_tokens)`` (``block_params``); a block size equal to
the level's default (``DEFAULT_BLOCK_SIZES``) is not written; the identity
tokenizer has no vocabulary section. The level table is therefore part of
the format: each version decodes with its own (``levels_of_version``), and
tests/test_format_pin.py pins a digest of each to its version.

Blocks are independent: each has its own tokenizer and model, so blocks can
be coded in parallel and decoded alone; the end record's index and footer
let a reader find every block from the end of a file (``locate_streams``).

Frames: kind 0 is coded by the block's engine. A frame whose bytes are
plainly incompressible is stored (kind 1) and never shown to the engine on
either side. A frame that was modelled but did not shrink is stored too
(kind 2); the encoder's engine has learned from it, which the decoder
cannot repeat, so both sides discard the engine after such a frame and
start a fresh one (same parameters) at the next coded frame.

Every length read from a header is checked against the limits below before
anything is allocated, so a hostile file cannot make the decoder allocate
without bound, crash or hang; model memory is bounded by the level's caps
and by the decoder's memory limit.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple, Union

from .errors import StatesmixError, TruncatedError
from .params import MAX_LEVEL, MIN_LEVEL, Params, levels_of_version
from .tokenizer import MAX_TOKEN_BYTES, Vocabulary

MAGIC = b"\x93SMX"
# what decompress, test, statesmix.open and info say of bytes after a stream that start no stream
TRAILING_GARBAGE = "trailing data after the end of the compressed stream is not a statesmix stream"
FORMAT_VERSION = 22
# Versions this decoder reads. Version 3 has smaller frames
# (MAX_FRAME_BYTES_V3); versions 3 and 4 rebuild level 9's parameters with
# their older level table, version 5 the table before levels 1-6 read the
# SSM's head bias and hidden vector, version 6 the one before level 9's
# wider SSM, version 7 the one before levels 1-8 replayed earlier chunks,
# version 8 the one before the binary mixer's weight set chosen by the
# favourite token, version 9 the one before the token mixture weighed the
# SSM's logits, version 10 the one before the SSM's loss was weighted by
# what each token cost, version 11 the one before the SSM's input carried
# that cost, version 12 the one before it carried the context models'
# guesses, version 13 the one before it carried hashed contexts, version 14
# the one before levels 4-6 narrowed the SSM's inner layer and replayed two
# chunks a step, version 15 the one before levels 4-6 gave the embedding's
# token rows their own rate and replayed the worse predicted of two drawn
# chunks, version 16 the one before levels 1-3 and 7-9 did the same,
# version 17 the one before the n-gram counts took the SSM as their prior,
# version 18 the one before a surge in the SSM's gradient capped its rates,
# version 19 the one before levels 7-9 were rebuilt on level 6, version 20
# the one before level 9 learnt at half the rate, version 21 the one before
# the SSM's input carried the text's structure (params.levels_of_version).
# Their files decode as they always did.
READ_VERSIONS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22)
FOOTER_MAGIC = b"SX"
BLOCK_TAG = 0x42  # "B"
END_TAG = 0x45  # "E"
FRAME_CODED, FRAME_STORED, FRAME_STORED_RESET = 0, 1, 2

_LEVEL_MASK = 0x0F
_HAS_BLOCK_SIZE = 0x10
_VOCAB_FLAG = 0x01
_PARAMS_FLAG = 0x02

MIN_BLOCK_SIZE = 4096
MAX_BLOCK_SIZE = 1 << 30
# A frame holds at most this many bytes (so at most as many tokens): it
# bounds the work a decoder does on one frame before its checksum, also for
# a hostile file. The encoder cuts frames of up to this size (blocks.py).
# Each frame costs about 15 bytes of head and coder flush: version 3's
# 64 KiB frames spent 0.1% of enwik8's output on them and made 1 MB of one
# repeated byte 349 bytes (xz: 276); 256 KiB frames cost a quarter of that.
MAX_FRAME_BYTES = 256 << 10
MAX_FRAME_BYTES_V3 = 64 << 10
MAX_PARAMS_BYTES = 4096
MAX_VOCAB_BYTES = 1 << 20
MAX_BLOCKS = 1 << 24
MAX_VARINT_BYTES = 8

# Per-level default block size. Small inputs are one block; larger ones are
# cut so that -T N has blocks to run at once, at a ratio cost that shrinks
# as blocks grow (bench/README.md). Part of the format: see the docstring.
DEFAULT_BLOCK_SIZES: Dict[int, int] = {
    1: 8 << 20, 2: 8 << 20, 3: 8 << 20,
    4: 16 << 20, 5: 16 << 20, 6: 16 << 20,
    7: 32 << 20, 8: 32 << 20, 9: 32 << 20,
}

_U32 = struct.Struct("<I")
_FOOTER = struct.Struct("<I2s")  # end_size, footer magic
# The shortest end record before its footer: the tag, a block count of 0 and
# index_crc (an empty stream's); a stream is at least a 6-byte header and that.
_MIN_END_SIZE = 6
_MIN_STREAM_SIZE = 6 + _MIN_END_SIZE + _FOOTER.size

Buffer = Union[bytes, bytearray, memoryview]


# -- varints ---------------------------------------------------------------
def varint(n: int) -> bytes:
    if n < 0 or n >= 1 << (7 * MAX_VARINT_BYTES):
        raise ValueError(f"varint out of range: {n}")
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


class _Need(Exception):
    """More bytes are needed to parse the record (internal)."""


class _Reader:
    """Reads fields from buf at pos; raises _Need at the end of the buffer."""

    __slots__ = ("buf", "pos", "where")

    def __init__(self, buf: Buffer, pos: int, where: str) -> None:
        self.buf, self.pos, self.where = buf, pos, where

    def u8(self) -> int:
        if self.pos >= len(self.buf):
            raise _Need
        v = self.buf[self.pos]
        self.pos += 1
        return v

    def u32(self) -> int:
        if self.pos + 4 > len(self.buf):
            raise _Need
        (v,) = _U32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return v

    def varint(self, name: str) -> int:
        value = shift = 0
        for i in range(MAX_VARINT_BYTES):
            b = self.u8()
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                if b == 0 and i > 0:
                    raise self.corrupt(f"{name} is not minimally encoded")
                return value
        raise self.corrupt(f"{name} is too long")

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            raise _Need
        v = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return v

    def corrupt(self, what: str) -> StatesmixError:
        return StatesmixError(f"{self.where} is corrupt ({what})")


def _parse(fn: Callable[[_Reader], object], buf: Buffer, pos: int, where: str):
    r = _Reader(buf, pos, where)
    try:
        return fn(r), r.pos
    except _Need:
        return None


# -- stream header -----------------------------------------------------------
@dataclass
class StreamHeader:
    level: int
    block_size: int
    raw: bytes  # the header's bytes, covered by the end record's index_crc
    version: int = FORMAT_VERSION

    @property
    def max_frame_bytes(self) -> int:
        return MAX_FRAME_BYTES_V3 if self.version == 3 else MAX_FRAME_BYTES

    @property
    def size(self) -> int:
        return len(self.raw)


def default_block_size(level: int) -> int:
    return DEFAULT_BLOCK_SIZES[level]


def stream_header_bytes(level: int, block_size: int) -> bytes:
    if block_size == DEFAULT_BLOCK_SIZES[level]:
        return MAGIC + bytes([FORMAT_VERSION, level])
    return MAGIC + bytes([FORMAT_VERSION, level | _HAS_BLOCK_SIZE]) + varint(block_size)


def parse_stream_header(buf: Buffer, pos: int = 0) -> Optional[StreamHeader]:
    """The stream header at buf[pos:], or None if buf does not hold all of it yet."""
    head = bytes(buf[pos : pos + 4])
    if head != MAGIC[: len(head)]:
        raise StatesmixError("not a statesmix file (bad magic)")

    def fields(r: _Reader) -> StreamHeader:
        r.take(4)
        version = r.u8()
        if version not in READ_VERSIONS:
            raise StatesmixError(
                f"unsupported format version {version} (this statesmix reads versions "
                f"{', '.join(map(str, READ_VERSIONS))})"
            )
        lf = r.u8()
        level = lf & _LEVEL_MASK
        if not MIN_LEVEL <= level <= MAX_LEVEL:
            raise r.corrupt(f"level {level} does not exist")
        if lf & ~(_LEVEL_MASK | _HAS_BLOCK_SIZE):
            raise r.corrupt("unknown flags")
        block_size = DEFAULT_BLOCK_SIZES[level]
        if lf & _HAS_BLOCK_SIZE:
            block_size = r.varint("block size")
            if not MIN_BLOCK_SIZE <= block_size <= MAX_BLOCK_SIZE:
                raise r.corrupt(f"block size {block_size} out of range")
        return StreamHeader(level, block_size, bytes(r.buf[pos : r.pos]), version)

    got = _parse(fields, buf, pos, "stream header")
    return None if got is None else got[0]


# -- blocks ------------------------------------------------------------------
def block_params(level: int, vocab_size: int, n_tokens: int, version: int = FORMAT_VERSION) -> Params:
    """The model parameters of a block that stores none: the level's in
    the stream's format version, with the block's vocabulary size, tables
    sized for its n_tokens tokens."""
    return levels_of_version(version)[level].params.replace(vocab=vocab_size).size_for(n_tokens)


@dataclass
class BlockHeader:
    raw_len: int
    n_tokens: int
    vocab: Vocabulary
    params: Params
    explicit_params: bool
    size: int  # bytes of the block header
    max_frame_bytes: int = MAX_FRAME_BYTES  # the stream's version's


def block_header_bytes(raw_len: int, n_tokens: int, vocab_blob: Optional[bytes],
                       params_blob: Optional[bytes]) -> bytes:
    flags = (_VOCAB_FLAG if vocab_blob is not None else 0) | (_PARAMS_FLAG if params_blob is not None else 0)
    out = bytearray([BLOCK_TAG, flags]) + varint(raw_len) + varint(n_tokens)
    if vocab_blob is not None:
        out += varint(len(vocab_blob)) + vocab_blob
    if params_blob is not None:
        out += varint(len(params_blob)) + params_blob
    return bytes(out)


def _block_start(r: _Reader) -> Tuple[int, int]:
    """The flags and content length at the start of a block header, its tag checked first."""
    if r.u8() != BLOCK_TAG:
        raise r.corrupt("bad tag")
    flags = r.u8()
    if flags & ~(_VOCAB_FLAG | _PARAMS_FLAG):
        raise r.corrupt("unknown flags")
    return flags, r.varint("length")


def parse_block_header(buf: Buffer, pos: int, stream: StreamHeader, index: int) -> Optional[BlockHeader]:
    """The block header at buf[pos:] (its tag included), or None if more
    bytes are needed. Sizes are checked before any section is read."""

    def fields(r: _Reader) -> BlockHeader:
        flags, raw_len = _block_start(r)
        if not 1 <= raw_len <= stream.block_size:
            raise r.corrupt(f"length {raw_len} outside 1..{stream.block_size}, the stream's block size")
        n_tokens = r.varint("token count")
        if n_tokens > raw_len:
            raise r.corrupt(f"{n_tokens} tokens for {raw_len} bytes")
        vocab = Vocabulary([])
        if flags & _VOCAB_FLAG:
            n = r.varint("tokenizer length")
            if n > MAX_VOCAB_BYTES:
                raise r.corrupt("tokenizer section too long")
            vocab = Vocabulary.from_bytes(r.take(n))
        if flags & _PARAMS_FLAG:
            n = r.varint("parameter length")
            if n > MAX_PARAMS_BYTES:
                raise r.corrupt("parameter block too long")
            params = Params.from_bytes(r.take(n))
            if params.vocab != vocab.size:
                raise r.corrupt("model and tokenizer vocabularies differ")
        else:
            params = block_params(stream.level, vocab.size, n_tokens, stream.version)
        return BlockHeader(raw_len, n_tokens, vocab, params, bool(flags & _PARAMS_FLAG), r.pos - pos,
                           stream.max_frame_bytes)

    got = _parse(fields, buf, pos, f"block {index}")
    return None if got is None else got[0]


# -- frames ------------------------------------------------------------------
@dataclass
class FrameHead:
    index: int  # within its block
    kind: int
    raw_len: int
    n_tokens: int  # 0 for stored frames
    payload_len: int
    crc: int
    size: int  # bytes of the frame head

    @property
    def total(self) -> int:
        return self.size + self.payload_len


def payload_bound(n_tokens: int) -> int:
    """Most payload bytes a valid frame of n_tokens can have: the formula of
    smx_encode_bound (csrc/engine.c), at most 20 bits for each of at most 16
    decisions per token."""
    return 40 * n_tokens + 16


def frame_bytes(kind: int, raw_len: int, crc: int, payload: bytes, n_tokens: int = 0) -> bytes:
    head = bytearray([kind]) + varint(raw_len)
    if kind == FRAME_CODED:
        head += varint(n_tokens) + varint(len(payload))
    return bytes(head) + _U32.pack(crc) + payload


def parse_frame_head(buf: Buffer, pos: int, block: BlockHeader, block_index: int, index: int,
                     remaining: int) -> Optional[FrameHead]:
    """The head of frame `index` of a block at buf[pos:] (remaining: content
    bytes the block still has to produce), or None if more bytes are needed."""

    def fields(r: _Reader) -> FrameHead:
        kind = r.u8()
        if kind not in (FRAME_CODED, FRAME_STORED, FRAME_STORED_RESET):
            raise r.corrupt(f"unknown frame kind {kind}")
        raw_len = r.varint("length")
        if not 1 <= raw_len <= min(remaining, block.max_frame_bytes):
            raise r.corrupt(f"length {raw_len} impossible here")
        n_tokens, payload_len = 0, raw_len
        if kind == FRAME_CODED:
            n_tokens = r.varint("token count")
            if not 1 <= n_tokens <= min(raw_len, block.n_tokens):
                raise r.corrupt(f"token count {n_tokens} out of range")
            if raw_len > n_tokens * (MAX_TOKEN_BYTES if block.vocab.size > 256 else 1):
                raise r.corrupt(f"length {raw_len} impossible for {n_tokens} tokens")
            payload_len = r.varint("payload length")
            if payload_len > payload_bound(n_tokens):
                raise r.corrupt(f"payload length {payload_len} too large")
        crc = r.u32()
        return FrameHead(index, kind, raw_len, n_tokens, payload_len, crc, r.pos - pos)

    got = _parse(fields, buf, pos, f"frame {index} of block {block_index}")
    return None if got is None else got[0]


# -- end record and index ----------------------------------------------------
@dataclass
class IndexEntry:
    comp_size: int  # bytes of the block in the file, block tag included
    raw_len: int
    crc: int  # CRC-32 of the block's content


@dataclass
class EndRecord:
    blocks: List[IndexEntry]
    size: int  # bytes from the "E" tag through the footer magic

    @property
    def raw_size(self) -> int:
        return sum(b.raw_len for b in self.blocks)

    @property
    def blocks_size(self) -> int:
        return sum(b.comp_size for b in self.blocks)


def end_bytes(header: bytes, blocks: List[IndexEntry]) -> bytes:
    body = bytearray([END_TAG]) + varint(len(blocks))
    for b in blocks:
        body += varint(b.comp_size) + varint(b.raw_len) + _U32.pack(b.crc)
    body += _U32.pack(zlib.crc32(body, zlib.crc32(header)))
    return bytes(body) + _FOOTER.pack(len(body), FOOTER_MAGIC)


def parse_end(buf: Buffer, pos: int, stream: Optional[StreamHeader]) -> Optional[EndRecord]:
    """The end record at buf[pos:] (its tag included), or None if more bytes
    are needed. Checks its own consistency and checksum (which covers the
    stream header: with stream None, neither that nor the block size limit
    is checked), not that it matches the blocks."""
    limit = stream.block_size if stream is not None else MAX_BLOCK_SIZE

    def fields(r: _Reader) -> EndRecord:
        if r.u8() != END_TAG:
            raise r.corrupt("bad tag")
        n = r.varint("block count")
        if n > MAX_BLOCKS:
            raise r.corrupt(f"{n} blocks")
        blocks = []
        for _ in range(n):
            comp = r.varint("block size")
            raw = r.varint("block length")
            if not 1 <= raw <= limit or comp < 4:
                raise r.corrupt("impossible block sizes")
            blocks.append(IndexEntry(comp, raw, r.u32()))
        body_end = r.pos
        crc = r.u32()
        if stream is not None and crc != zlib.crc32(bytes(r.buf[pos:body_end]), zlib.crc32(stream.raw)):
            raise StatesmixError("index checksum mismatch: the file is corrupt")
        end_size, magic = _FOOTER.unpack(r.take(_FOOTER.size))
        if end_size != r.pos - _FOOTER.size - pos or magic != FOOTER_MAGIC:
            raise r.corrupt("bad footer")
        return EndRecord(blocks, r.pos - pos)

    got = _parse(fields, buf, pos, "end record")
    return None if got is None else got[0]


def next_tag(buf: Buffer, pos: int, where: str) -> Optional[int]:
    """BLOCK_TAG or END_TAG at buf[pos], None if buf ends there."""
    if pos >= len(buf):
        return None
    tag = buf[pos]
    if tag not in (BLOCK_TAG, END_TAG):
        raise StatesmixError(f"corrupt data where {where} or the end record should start")
    return tag


# -- finding streams and blocks from the end of a file ------------------------
@dataclass
class StreamMap:
    """Where one stream's blocks are, for random access."""

    start: int  # offset of the stream header in the file
    header: StreamHeader
    end: EndRecord
    raw_start: int  # offset of the stream's content in the concatenated content
    block_offsets: List[int] = field(default_factory=list)  # file offset of each block

    @property
    def raw_size(self) -> int:
        return self.end.raw_size


def locate_streams(read_at: Callable[[int, int], bytes], file_size: int) -> List[StreamMap]:
    """Every stream of a file, found from its footer back to the start of
    the file, reading of each block only its first few bytes. read_at(offset,
    n) returns n bytes at offset (fewer only at the end of the file). Raises
    StatesmixError if the file is not a clean sequence of streams: an empty
    file is none (it reads as truncated, as lzma reads one)."""
    if file_size <= 0:
        raise TruncatedError("compressed file is empty")
    maps: List[StreamMap] = []
    end = file_size
    while end > 0:
        maps.append(_stream_ending_at(read_at, end))
        end = maps[-1].start
    maps.reverse()
    raw = 0
    for m in maps:
        m.raw_start = raw
        raw += m.raw_size
    return maps


def _stream_ending_at(read_at: Callable[[int, int], bytes], end: int) -> StreamMap:
    missing = StatesmixError("no statesmix index at the end of the data")
    if end < _MIN_STREAM_SIZE:
        raise missing
    end_size, magic = _FOOTER.unpack(read_at(end - _FOOTER.size, _FOOTER.size))
    rec_start = end - _FOOTER.size - end_size
    if magic != FOOTER_MAGIC or not _MIN_END_SIZE <= end_size <= MAX_BLOCKS * 24 or rec_start < 6:
        raise missing
    record = read_at(rec_start, end - rec_start)
    rec = parse_end(record, 0, None)
    if rec is None or rec.size != len(record):
        raise missing
    # The stream header (6 bytes, more with a block size) sits before the
    # blocks; the index checksum, which covers it, tells which length holds.
    for hlen in range(6, 7 + MAX_VARINT_BYTES):
        start = rec_start - rec.blocks_size - hlen
        if start < 0:
            break
        head = read_at(start, hlen)
        if head[:4] != MAGIC:
            continue
        try:
            hdr = parse_stream_header(head)
            if hdr is None or hdr.size != hlen or parse_end(record, 0, hdr) is None:
                continue
        except StatesmixError:
            continue
        offsets, pos = [], start + hlen
        for k, b in enumerate(rec.blocks):
            _check_block_start(read_at, pos, b.raw_len, k)
            offsets.append(pos)
            pos += b.comp_size
        return StreamMap(start, hdr, rec, 0, offsets)
    raise StatesmixError("the index at the end of the data does not match a stream")


def _check_block_start(read_at: Callable[[int, int], bytes], offset: int, raw_len: int, k: int) -> None:
    """Raises StatesmixError unless a block whose header gives raw_len starts
    at offset. An index can pass its checksum and still be wrong (a faulty
    or hostile writer computes the checksum of what it wrote); a reader that
    seeks takes the index's lengths to say where the content ends, so each
    must agree with its block's own header before anything is skipped on
    the index's word."""
    r = _Reader(read_at(offset, 2 + MAX_VARINT_BYTES), 0, f"block {k}")
    try:
        ok = _block_start(r)[1] == raw_len
    except (_Need, StatesmixError):
        ok = False
    if not ok:
        raise StatesmixError(f"the index does not match block {k}: the file is corrupt")
