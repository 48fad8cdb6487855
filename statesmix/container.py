"""The .smx container format, version 2.

    header  magic "\\x93SMX", version u8, level u8,
            params_len u16, params (see params.py),
            vocab_len u32, vocabulary (see tokenizer.py),
            header_crc u32 (CRC-32 of every header byte before it)
    frame   tag "F", n_tokens u32, raw_len u32, payload_len u32,
            raw_crc u32 (CRC-32 of the frame's decoded bytes), payload
    ...
    end     tag "E", total_len u64, content_crc u32 (CRC-32 of all content)

All integers are little-endian. Frames are decoded in order: the model
carries over from one to the next. Every length is checked against the
limits below before anything is allocated, so a hostile file cannot make
the decoder allocate without bound, crash or hang.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Optional, Tuple, Union

from .errors import StatesmixError
from .params import MAX_LEVEL, MIN_LEVEL, Params
from .tokenizer import MAX_TOKEN_BYTES, Vocabulary

MAGIC = b"\x93SMX"
FORMAT_VERSION = 2
FRAME_TAG = 0x46  # "F"
END_TAG = 0x45  # "E"

MAX_PARAMS_BYTES = 4096
MAX_VOCAB_BYTES = 1 << 20
MAX_FRAME_TOKENS = 1 << 18

_FIXED = struct.Struct("<4sBBH")  # magic, version, level, params_len
_FRAME = struct.Struct("<BIIII")  # tag, n_tokens, raw_len, payload_len, raw_crc
_END = struct.Struct("<BQI")  # tag, total_len, content_crc

Buffer = Union[bytes, bytearray, memoryview]


@dataclass
class Header:
    level: int
    params: Params
    vocab: Vocabulary
    size: int  # bytes the header occupies in the file


@dataclass
class FrameInfo:
    index: int
    n_tokens: int
    raw_len: int
    payload_len: int
    raw_crc: int


@dataclass
class EndInfo:
    total_len: int
    content_crc: int


def payload_bound(n_tokens: int) -> int:
    """Most payload bytes a valid frame of n_tokens can have: the formula of
    smx_encode_bound (csrc/engine.c), at most 20 bits for each of at most 16
    decisions per token."""
    return 40 * n_tokens + 16


def header_bytes(level: int, params: Params, vocab: Vocabulary) -> bytes:
    p = params.to_bytes()
    v = vocab.to_bytes()
    body = _FIXED.pack(MAGIC, FORMAT_VERSION, level, len(p)) + p + struct.pack("<I", len(v)) + v
    return body + struct.pack("<I", zlib.crc32(body))


def frame_bytes(n_tokens: int, raw_len: int, raw_crc: int, payload: bytes) -> bytes:
    return _FRAME.pack(FRAME_TAG, n_tokens, raw_len, len(payload), raw_crc) + payload


def end_bytes(total_len: int, content_crc: int) -> bytes:
    return _END.pack(END_TAG, total_len, content_crc)


def parse_header(buf: Buffer) -> Optional[Header]:
    """The header at the start of buf, or None if buf does not hold all of it yet."""
    if len(buf) < 4:
        if bytes(buf[: len(buf)]) != MAGIC[: len(buf)]:
            raise StatesmixError("not a statesmix file (bad magic)")
        return None
    if bytes(buf[:4]) != MAGIC:
        raise StatesmixError("not a statesmix file (bad magic)")
    if len(buf) < _FIXED.size:
        return None
    _, version, level, params_len = _FIXED.unpack_from(buf)
    if version != FORMAT_VERSION:
        raise StatesmixError(
            f"unsupported format version {version} (this statesmix reads version {FORMAT_VERSION})"
        )
    if not MIN_LEVEL <= level <= MAX_LEVEL:
        raise StatesmixError(f"header names level {level}, which does not exist")
    if params_len > MAX_PARAMS_BYTES:
        raise StatesmixError("header is corrupt (parameter block too long)")
    pos = _FIXED.size + params_len
    if len(buf) < pos + 4:
        return None
    (vocab_len,) = struct.unpack_from("<I", buf, pos)
    if vocab_len > MAX_VOCAB_BYTES:
        raise StatesmixError("header is corrupt (tokenizer section too long)")
    end = pos + 4 + vocab_len
    if len(buf) < end + 4:
        return None
    (crc,) = struct.unpack_from("<I", buf, end)
    if zlib.crc32(bytes(buf[:end])) != crc:
        raise StatesmixError("header checksum mismatch: the file is corrupt")
    params = Params.from_bytes(bytes(buf[_FIXED.size : pos]))
    vocab = Vocabulary.from_bytes(bytes(buf[pos + 4 : end]))
    if params.vocab != vocab.size:
        raise StatesmixError("header is corrupt (model and tokenizer vocabularies differ)")
    return Header(level=level, params=params, vocab=vocab, size=end + 4)


def parse_record(buf: Buffer, pos: int, frame_index: int) -> Optional[Tuple[Union[FrameInfo, EndInfo], int]]:
    """The frame head or end marker at buf[pos:], with the position after it
    (a frame's payload follows its head); None if more bytes are needed."""
    if len(buf) <= pos:
        return None
    tag = buf[pos]
    if tag == FRAME_TAG:
        if len(buf) < pos + _FRAME.size:
            return None
        _, n_tokens, raw_len, payload_len, crc = _FRAME.unpack_from(buf, pos)
        where = f"frame {frame_index}"
        if not 1 <= n_tokens <= MAX_FRAME_TOKENS:
            raise StatesmixError(f"{where} is corrupt (token count {n_tokens} out of range)")
        if not n_tokens <= raw_len <= n_tokens * MAX_TOKEN_BYTES:
            raise StatesmixError(f"{where} is corrupt (length {raw_len} impossible for {n_tokens} tokens)")
        if payload_len > payload_bound(n_tokens):
            raise StatesmixError(f"{where} is corrupt (payload length {payload_len} too large)")
        return FrameInfo(frame_index, n_tokens, raw_len, payload_len, crc), pos + _FRAME.size
    if tag == END_TAG:
        if len(buf) < pos + _END.size:
            return None
        _, total, crc = _END.unpack_from(buf, pos)
        return EndInfo(total, crc), pos + _END.size
    raise StatesmixError(f"corrupt data where frame {frame_index} or the end marker should start")
