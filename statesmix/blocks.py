"""One block, coded and decoded: its tokenizer, its model, its frames.

A cheap test (order-0 entropy, then zlib's fastest level) marks each
1 KiB piece of a block that is plainly incompressible; runs of pieces of
one kind are cut into frames of about FRAME_BYTES (after a newline near the
boundary when there is one). Incompressible frames are stored, and neither
the tokenizer's training sample nor the model ever sees them. The other
frames train the tokenizer (on pieces spread over all of them, see
tokenizer.training_sample: a block that starts with a megabyte of zeros
still gets merges for the text after it) and are coded by the block's
engine; one that does not shrink is stored too, and both sides then
restart the engine (see container.py).

Everything here depends only on the block's bytes, the level and the
explicit overrides: never on threads, so blocks code the same anywhere.
"""

from __future__ import annotations

import math
import threading
import zlib
from typing import Callable, List, Optional, Tuple

import numpy as np

from ._native import Engine
from .container import (
    FRAME_CODED,
    FRAME_STORED,
    FRAME_STORED_RESET,
    MAX_FRAME_BYTES,
    BlockHeader,
    FrameHead,
    IndexEntry,
    StreamHeader,
    block_header_bytes,
    block_params,
    frame_bytes,
    parse_block_header,
    parse_frame_head,
)
from .errors import StatesmixError
from .params import LEVELS, Params
from .tokenizer import Tokenizer, Vocabulary

FRAME_BYTES = MAX_FRAME_BYTES
_CUT_WINDOW = 4096
# The incompressibility test looks at pieces of this many bytes.
TEST_BYTES = 1024
# A frame is plainly incompressible when its order-0 entropy (bias-corrected)
# is above ENTROPY_BITS per byte and zlib's fastest level cannot take
# ZLIB_SAVING of it off; both take well under a millisecond per frame.
ENTROPY_BITS = 7.9
ZLIB_SAVING = 0.02

# Data where BPE finds nothing (random letters, DNA, audio samples) is coded
# with the identity tokenizer: there its merges only make tokenizations
# that can never occur, and the model pays for them (1,000,000 random ACGT
# letters at level 6: 263,783 bytes with 384 ids, 251,109 with bytes; zpaq
# -m5 250,514). Such a block with a tiny alphabet has up to 8 times as many
# tokens per byte as text, and its SSM is narrowed to keep the level's speed
# (Level.tiny_alphabet_width): d_model 16 cost ACGT 0.1% and halved its time
# (39.3 -> 21.4 s), but cost 16-bit audio 4%, which keeps the level's width.
# The narrowed parameters are stored in the block (about 270 bytes), so only
# large blocks get them.
NARROW_MAX_ALPHABET = 16
NARROW_MIN_TOKENS = 1 << 18
# However predictable, every token the engine codes costs a little: 1,000,001
# zeros coded byte by byte took 444 bytes at level 1, about 0.003 bits a byte.
# merges_pay charges each symbol this much on top of its order-0 information.
# Without it, a nearly constant block (a run of one byte whose length is not a
# multiple of 64: 15 bits for its tokens' odd tail against 0 for its bytes)
# was coded byte by byte, with 64 times the tokens: 30 times the time and
# larger (444 bytes against 132). Where merges find no structure (random
# letters, audio), the tokens carry 0.3 bits or more per token saved above
# the bytes' information, far above this.
TOKEN_FLOOR_BITS = 1 / 256


def merges_pay(data: bytes, ids: List[Optional[np.ndarray]]) -> bool:
    """Whether the BPE tokens of data (ids, frame by frame) carry less
    order-0 information than its bytes do, each symbol charged
    TOKEN_FLOOR_BITS besides: if not, the merges found no structure worth
    their cost."""
    tokens = np.concatenate([t for t in ids if t is not None])
    token_bits = _entropy_bits(tokens) + TOKEN_FLOOR_BITS * len(tokens)
    return token_bits <= _entropy_bits(np.frombuffer(data, dtype=np.uint8)) + TOKEN_FLOOR_BITS * len(data)


def _entropy_bits(symbols: np.ndarray) -> float:
    """Order-0 entropy of symbols, in bits, times their number."""
    counts = np.bincount(symbols)
    counts = counts[counts > 0]
    n = float(counts.sum())
    return float(-(counts * np.log2(counts / n)).sum())


# on_frame(raw bytes, tokens modelled, bytes of the coded frame), after each frame
FrameFn = Callable[[int, int, int], None]


class Cancelled(Exception):
    """The caller stopped waiting for this block (Ctrl-C): stop between frames."""


def plan_frames(data) -> List[Tuple[int, int, bool]]:
    """The frames of a block: (start, end, modelled). Each TEST_BYTES piece
    is tested for incompressibility; where runs of pieces of the two kinds
    meet, the boundary is moved to the most likely change point (_refine);
    runs are then cut into frames of at most FRAME_BYTES, a modelled frame
    ending after the last newline of its final _CUT_WINDOW bytes when there
    is one."""
    view = memoryview(data)
    n = len(view)
    runs: List[List] = []
    for start in range(0, n, TEST_BYTES):
        end = min(n, start + TEST_BYTES)
        modelled = not incompressible(view[start:end])
        if runs and runs[-1][2] == modelled:
            runs[-1][1] = end
        else:
            runs.append([start, end, modelled])
    for left, right in zip(runs, runs[1:]):
        cut = _refine(view, left[1], max(left[0], left[1] - 2 * TEST_BYTES), min(right[1], right[0] + 2 * TEST_BYTES))
        left[1] = right[0] = cut
    frames = []
    for start, stop, modelled in runs:
        while start < stop:
            end = min(stop, start + FRAME_BYTES)
            if end < stop and modelled:
                nl = bytes(view[end - _CUT_WINDOW : end]).rfind(b"\n")
                if nl >= 0:
                    end = end - _CUT_WINDOW + nl + 1
            frames.append((start, end, modelled))
            start = end
    return frames


def _refine(view, p: int, lo: int, hi: int) -> int:
    """Where in [lo, hi) around the run boundary p the data most likely
    changes from what lies before to what lies after: the bytes of
    [lo, p - TEST_BYTES) and [p + TEST_BYTES, hi) (the whole sides when
    shorter) give each side's byte distribution, and the cut minimises the
    running sum of the per-byte log-likelihood ratio over [p - TEST_BYTES,
    p + TEST_BYTES)."""
    w0, w1 = max(lo, p - TEST_BYTES), min(hi, p + TEST_BYTES)
    left = np.frombuffer(view[lo : w0] if w0 - lo >= 256 else view[lo:p], dtype=np.uint8)
    right = np.frombuffer(view[w1:hi] if hi - w1 >= 256 else view[p:hi], dtype=np.uint8)
    if not len(left) or not len(right):
        return p
    pl = np.log((np.bincount(left, minlength=256) + 0.5) / (len(left) + 128.0))
    pr = np.log((np.bincount(right, minlength=256) + 0.5) / (len(right) + 128.0))
    window = np.frombuffer(view[w0:w1], dtype=np.uint8)
    llr = (pr - pl)[window]  # > 0: the byte looks like the right side
    run = np.concatenate(([0.0], np.cumsum(llr)))
    return w0 + int(np.argmin(run))


def incompressible(chunk) -> bool:
    """True if chunk is plainly not worth modelling (random or already
    compressed data): its order-0 entropy, with the Miller-Madow correction
    for short samples, is above ENTROPY_BITS and zlib cannot shrink it."""
    n = len(chunk)
    if n < 256:
        return False
    symbols = np.frombuffer(chunk, dtype=np.uint8)
    distinct = int(np.count_nonzero(np.bincount(symbols)))
    h = _entropy_bits(symbols) / n + (distinct - 1) / (2.0 * n * math.log(2))
    if h < ENTROPY_BITS:
        return False
    return len(zlib.compress(chunk, 1)) >= n * (1.0 - ZLIB_SAVING)


def _spelled(tokenizer: Tokenizer, raw: bytes) -> np.ndarray:
    """raw's tokens, checked to spell raw. The decoder rebuilds the frame from
    them, and its CRC would catch a difference only when the file is read,
    after `statesmix compress` has removed the original: a tokenizer that
    lost or changed a character (a library version's bug) stops the encoder."""
    ids = tokenizer.encode(raw)
    if tokenizer.vocab.decode(ids) != raw:
        raise StatesmixError("the tokenizer's tokens do not spell the input: nothing was written "
                             "(please report this with the versions of statesmix and tokenizers)")
    return ids


def encode_block(data: bytes, level: int, *, threads: int = 1, vocab_size: Optional[int] = None,
                 adjust: Optional[Callable[[Params], Params]] = None, on_frame: Optional[FrameFn] = None,
                 cancel: Optional[threading.Event] = None) -> Tuple[bytes, IndexEntry]:
    """Codes one block (1 to block_size bytes). vocab_size and adjust override
    the level's tokenizer size and parameters (the ablation study uses them);
    parameters that differ from the level's are stored in the block."""
    plan = plan_frames(data)
    spans = [(a, b) for a, b, _ in plan]
    modelled = [m for _, _, m in plan]
    view = memoryview(data)
    modelled_bytes = b"".join(view[a:b] for (a, b), m in zip(spans, modelled) if m)
    n_modelled = len(modelled_bytes)
    tokenizer = Tokenizer(Vocabulary([]))
    if n_modelled:
        tokenizer = Tokenizer.train(modelled_bytes, vocab_size or LEVELS[level].vocab_size(n_modelled))
    def tokenize() -> List[Optional[np.ndarray]]:
        return [_spelled(tokenizer, view[a:b].tobytes()) if m else None for (a, b), m in zip(spans, modelled)]

    ids = tokenize()
    explicit = None
    narrow = False
    if vocab_size is None and tokenizer.vocab.size > 256 and not merges_pay(modelled_bytes, ids):
        tokenizer = Tokenizer(Vocabulary([]))
        ids = tokenize()
        narrow = n_modelled >= NARROW_MIN_TOKENS and len(set(modelled_bytes)) <= NARROW_MAX_ALPHABET
    del modelled_bytes
    vocab = tokenizer.vocab
    n_tokens = sum(len(t) for t in ids if t is not None)
    params = block_params(level, vocab.size, n_tokens)
    if narrow:
        params = LEVELS[level].tiny_alphabet_params(params)
        explicit = params.to_bytes()
    if adjust is not None:
        changed = adjust(params)
        if changed != params:
            params, explicit = changed, changed.to_bytes()
    out = [block_header_bytes(len(data), n_tokens, vocab.to_bytes() if vocab.size > 256 else None, explicit)]
    engine: Optional[Engine] = None
    crc = 0
    for (a, b), tokens in zip(spans, ids):
        if cancel is not None and cancel.is_set():
            raise Cancelled
        raw = view[a:b]
        crc = zlib.crc32(raw, crc)
        stored = frame_bytes(FRAME_STORED, b - a, crc, raw.tobytes())
        frame = stored
        if tokens is not None:
            if engine is None:
                engine = Engine(params, vocab.pieces, threads)
            coded = frame_bytes(FRAME_CODED, b - a, crc, engine.encode(tokens), len(tokens))
            if len(coded) < len(stored):
                frame = coded
            else:  # modelled but not shrunk: store it, and both sides restart the engine
                frame = frame_bytes(FRAME_STORED_RESET, b - a, crc, raw.tobytes())
                engine = None
        out.append(frame)
        if on_frame is not None:
            on_frame(b - a, 0 if tokens is None else len(tokens), len(frame))
    blob = b"".join(out)
    return blob, IndexEntry(len(blob), len(data), crc)


class BlockDecoder:
    """Decodes one block frame by frame, checking every frame."""

    def __init__(self, header: BlockHeader, index: int, threads: int = 1) -> None:
        self.header = header
        self.index = index
        self.threads = threads
        self.engine: Optional[Engine] = None
        self.frames = 0
        self.done = 0  # content bytes decoded
        self.tokens = 0  # tokens decoded
        self.crc = 0

    @property
    def remaining(self) -> int:
        return self.header.raw_len - self.done

    def where(self) -> str:
        return f"frame {self.frames} of block {self.index}"

    def parse_head(self, buf, pos: int) -> Optional[FrameHead]:
        return parse_frame_head(buf, pos, self.header, self.index, self.frames, self.remaining)

    def frame(self, head: FrameHead, payload: bytes) -> bytes:
        """The content of the frame with this head and payload."""
        h = self.header
        if head.kind == FRAME_CODED:
            self.tokens += head.n_tokens
            if self.tokens > h.n_tokens:
                raise StatesmixError(f"{self.where()} is corrupt (more tokens than its block declares)")
            if self.engine is None:
                self.engine = Engine(h.params, h.vocab.pieces, self.threads)
            tokens, used = self.engine.decode(payload, head.n_tokens)
            if used != head.payload_len:
                raise StatesmixError(f"{self.where()} is corrupt (payload does not decode to its length)")
            if h.vocab.decoded_length(tokens) != head.raw_len:
                raise StatesmixError(f"{self.where()} is corrupt (decodes to the wrong length)")
            raw = h.vocab.decode(tokens)
        else:
            raw = payload
            if head.kind == FRAME_STORED_RESET:
                self.engine = None
        crc = zlib.crc32(raw, self.crc)
        if crc != head.crc:
            raise StatesmixError(f"checksum mismatch in {self.where()}: the file is corrupt")
        self.crc = crc
        self.done += len(raw)
        self.frames += 1
        if self.done == h.raw_len:
            self.engine = None  # free the model as soon as the block is done
        return raw

    def entry(self, comp_size: int) -> IndexEntry:
        return IndexEntry(comp_size, self.header.raw_len, self.crc)


def block_extent(buf, pos: int, stream: StreamHeader, index: int) -> Optional[Tuple[BlockHeader, int]]:
    """The header of the block at buf[pos:] and the block's size in bytes,
    found by walking its frame heads (no decoding); None if buf does not
    hold the whole block yet."""
    header = parse_block_header(buf, pos, stream, index)
    if header is None:
        return None
    walker = BlockDecoder(header, index)
    p = pos + header.size
    while walker.remaining:
        head = walker.parse_head(buf, p)
        if head is None:
            return None
        p += head.total
        walker.done += head.raw_len
        walker.frames += 1
    if p > len(buf):
        return None
    return header, p - pos


def decode_block(blob, header: BlockHeader, index: int, threads: int = 1,
                 cancel: Optional[threading.Event] = None,
                 on_frame: Optional[FrameFn] = None) -> Tuple[bytes, IndexEntry]:
    """The content of a whole block (blob holds it from its tag on);
    on_frame, if given, is called after each frame, as by encode_block."""
    dec = BlockDecoder(header, index, threads)
    pos = header.size
    out = []
    while dec.remaining:
        if cancel is not None and cancel.is_set():
            raise Cancelled
        head = dec.parse_head(blob, pos)
        if head is None or pos + head.total > len(blob):
            raise StatesmixError(f"block {index} is truncated")
        out.append(dec.frame(head, bytes(blob[pos + head.size : pos + head.total])))
        pos += head.total
        if on_frame is not None:
            on_frame(head.raw_len, head.n_tokens, head.total)
    return b"".join(out), dec.entry(pos)


def memory_needed(header: BlockHeader) -> int:
    """Bytes the engine of a block allocates (Params.table_bytes)."""
    return header.params.table_bytes()
