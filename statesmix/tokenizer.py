"""Byte-level BPE tokenizer, trained per input with the ``tokenizers`` library.

Lossless for every byte string: each byte is mapped to the character with
the same code point (latin-1), so the BPE alphabet is exactly the 256 byte
values and any input, valid UTF-8 or not, tokenizes and joins back to
itself. Token ids: 0..255 are the single bytes, 256 + i is the i-th merge.

The decoder never runs ``tokenizers``: the file stores the tokens' bytes
(front-coded, lzma-compressed), which is all that turning ids back into
bytes needs. Decoding therefore never depends on how a given
``tokenizers`` version trains.
"""

from __future__ import annotations

import lzma
import mmap
import os
import struct
from typing import List, Optional, Sequence

import numpy as np

from .errors import StatesmixError

MAX_TOKEN_BYTES = 64
MAX_VOCAB = 65536
# GPT-2 style pre-tokenization: words with their leading space, numbers,
# runs of punctuation, runs of whitespace. Pieces only ever split the text.
# Every alternative is bounded so that no piece is longer than the longest
# token (a space and 63 more, or 64 without the space). BPE training time
# grows faster than linearly with the length of a piece (100 KB, 200 KB,
# 300 KB of zeros as one piece: 6 s, 33 s, 81 s), and a run without
# whitespace (zeros, '-', a genome) would otherwise be one piece as long as
# the input. Bounded, a run of one byte becomes pieces of 64 bytes, which six
# merges turn into one token each. Training and encoding use this same
# pre-tokenizer, so they cut every input alike and both stay linear.
_PRETOKENIZE = (
    r"""'(?:[sdmt]|ll|ve|re)"""
    r"""| \p{L}{1,63}|\p{L}{1,64}"""
    r"""| \p{N}{1,63}|\p{N}{1,64}"""
    r"""| [^\s\p{L}\p{N}]{1,63}|[^\s\p{L}\p{N}]{1,64}"""
    r"""|\s{1,64}(?!\S)|\s{1,64}"""
)
# Training memory grows with the sample (about 130 MB for 1 MB, 370 MB for
# 4 MB), so training sees at most this much: all of a smaller input, else
# _TRAIN_BLOCKS blocks spread evenly from its start to its end, so that a
# file whose first megabyte is unlike the rest (zeros, then text) still
# gets merges for all of it. A stream trains on what the Compressor has
# buffered (its first megabyte).
_TRAIN_SAMPLE = 1 << 20
_TRAIN_BLOCKS = 64
# What training may take beyond the process's size, reserved first under a
# memory limit (_prepare_training_under_limit): about twice what it took.
_TRAIN_RESERVE_BASE = 64 << 20
_TRAIN_RESERVE_PER_BYTE = 128
# Encode in pieces of about this many bytes, cut after a newline.
_ENCODE_PIECE = 64 << 10

# The header section is raw LZMA2 at preset 9e, with a dictionary cut to what
# the section needs: preset 9's own, 64 MiB, made the compressor of every
# block allocate 673 MiB (clearing a 64 MiB hash table) and the decoder 64
# MiB, for sections of a few hundred bytes. The raw stream does not record
# the dictionary, and one at least as long as the section finds the same
# matches (the bytes of every section tried came out the same).
_LZMA_PRESET = 9 | lzma.PRESET_EXTREME
_LZMA_DICT_MIN = 4096  # liblzma's smallest


def _lzma_filters(dict_size: int) -> list:
    return [{"id": lzma.FILTER_LZMA2, "preset": _LZMA_PRESET, "dict_size": max(_LZMA_DICT_MIN, dict_size)}]


def _encode_dict_size(raw_len: int) -> int:
    """The smallest power of two that holds raw_len bytes."""
    return 1 << max(0, raw_len - 1).bit_length()


def _memory_capped() -> bool:
    """Whether the process runs under an address-space or data-size limit
    (``ulimit -v``, ``ulimit -d``)."""
    try:
        import resource
    except ImportError:  # not a POSIX system: no such limits
        return False
    return any(resource.getrlimit(limit)[0] != resource.RLIM_INFINITY
               for limit in (resource.RLIMIT_AS, resource.RLIMIT_DATA))


def _prepare_training_under_limit(sample_bytes: int) -> None:
    """Under a memory limit, makes sure ``tokenizers`` can train: it aborts
    the process when an allocation fails instead of raising (under ``ulimit
    -v 300000`` the CLI died with SIGABRT, leaving its temporary file), where
    the engine's own allocations fail with a MemoryError and a clear message.

    - Its thread pool is turned off for the rest of the process, unless the
      user chose a setting: each of its threads gets its own malloc arena
      (64 MB of address space). One thread trains the same merges (the tests
      compare them); the variable is read at every call.
    - The address space training takes (single-threaded, on this machine:
      55 MB for a 300 KB sample, 106 MB for 1 MB) is reserved and released
      first, with room to spare: where it does not fit, a MemoryError is
      raised here instead."""
    if not _memory_capped():
        return
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    need = _TRAIN_RESERVE_BASE + _TRAIN_RESERVE_PER_BYTE * sample_bytes
    try:
        mmap.mmap(-1, need).close()  # address space only: no page is touched
    except OSError as exc:
        raise MemoryError(f"training the tokenizer needs about {need >> 20} MB, "
                          "more than the memory limit leaves") from exc


class Vocabulary:
    """The id -> bytes table the decoder needs.

    Ids 0..255 are the single bytes; ids from 256 on are the longer tokens in
    sorted byte order. Sorted, neighbouring tokens share prefixes, which the
    header section exploits (front coding). The order of BPE merges is only
    needed to encode, so it is not stored.
    """

    def __init__(self, tokens: Sequence[bytes]) -> None:
        if len(tokens) > MAX_VOCAB - 256:
            raise StatesmixError(f"tokenizer has {len(tokens)} tokens, at most {MAX_VOCAB - 256} allowed")
        prev = b""
        for i, t in enumerate(tokens):
            if not 2 <= len(t) <= MAX_TOKEN_BYTES:
                raise StatesmixError(f"tokenizer token {256 + i} has length {len(t)}, outside [2, {MAX_TOKEN_BYTES}]")
            if t <= prev:
                raise StatesmixError("tokenizer tokens are not in strictly increasing order")
            prev = t
        self.tokens: List[bytes] = list(tokens)
        self.pieces: List[bytes] = [bytes([b]) for b in range(256)] + self.tokens
        self.lengths = np.fromiter((len(p) for p in self.pieces), dtype=np.int64, count=len(self.pieces))

    @property
    def size(self) -> int:
        return len(self.pieces)

    def decode(self, ids: np.ndarray) -> bytes:
        pieces = self.pieces
        return b"".join([pieces[i] for i in ids.tolist()])

    def decoded_length(self, ids: np.ndarray) -> int:
        return int(self.lengths[ids].sum()) if ids.size else 0

    # -- header section ----------------------------------------------------
    # u32 count, then three runs of `count` entries each: bytes shared with
    # the previous token, lengths of the rest, and the rest's bytes; the
    # whole is raw LZMA2. Keeping like with like makes each run compress well.
    def to_bytes(self) -> bytes:
        shared, suffix_len, suffix = bytearray(), bytearray(), bytearray()
        prev = b""
        for t in self.tokens:
            k = 0
            limit = min(len(t), len(prev))
            while k < limit and t[k] == prev[k]:
                k += 1
            shared.append(k)
            suffix_len.append(len(t) - k)
            suffix += t[k:]
            prev = t
        raw = struct.pack("<I", len(self.tokens)) + bytes(shared) + bytes(suffix_len) + bytes(suffix)
        return lzma.compress(raw, format=lzma.FORMAT_RAW, filters=_lzma_filters(_encode_dict_size(len(raw))))

    @classmethod
    def from_bytes(cls, blob: bytes) -> "Vocabulary":
        n_max = MAX_VOCAB - 256
        limit = 4 + n_max * (2 + MAX_TOKEN_BYTES)
        try:
            # a valid section is at most limit bytes: no match reaches further back
            d = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_lzma_filters(limit + 1))
            raw = d.decompress(blob, max_length=limit + 1)
        except lzma.LZMAError as exc:
            raise StatesmixError(f"tokenizer section is corrupt ({exc})") from None
        if len(raw) < 4:
            raise StatesmixError("tokenizer section is truncated")
        (n,) = struct.unpack_from("<I", raw)
        if n > n_max:
            raise StatesmixError(f"tokenizer section declares {n} tokens, at most {n_max} allowed")
        if len(raw) < 4 + 2 * n:
            raise StatesmixError("tokenizer section is truncated")
        shared = raw[4 : 4 + n]
        suffix_len = raw[4 + n : 4 + 2 * n]
        if len(raw) != 4 + 2 * n + sum(suffix_len):
            raise StatesmixError("tokenizer section has the wrong length")
        tokens: List[bytes] = []
        pos = 4 + 2 * n
        prev = b""
        for k, m in zip(shared, suffix_len):
            if k > len(prev):
                raise StatesmixError("tokenizer section is corrupt (prefix longer than previous token)")
            t = prev[:k] + raw[pos : pos + m]
            pos += m
            tokens.append(t)
            prev = t
        return cls(tokens)


def training_sample(data) -> List[bytes]:
    """What the tokenizer trains on: data itself up to _TRAIN_SAMPLE bytes,
    else _TRAIN_BLOCKS equal blocks of _TRAIN_SAMPLE bytes in all, the first
    at the start of data, the last at its end, the rest evenly between.
    Deterministic: it depends only on the data. Each block is trained as a
    separate text, so no piece spans two blocks."""
    n = len(data)
    if n <= _TRAIN_SAMPLE:
        return [bytes(data)]
    size = _TRAIN_SAMPLE // _TRAIN_BLOCKS
    last = n - size
    starts = [last * i // (_TRAIN_BLOCKS - 1) for i in range(_TRAIN_BLOCKS)]
    view = memoryview(data)
    return [bytes(view[s : s + size]) for s in starts]


class Tokenizer:
    """A trained BPE: encodes bytes to ids; its Vocabulary decodes them."""

    def __init__(self, vocab: Vocabulary, hf_tokenizer=None, id_map: Optional[np.ndarray] = None) -> None:
        self.vocab = vocab
        self._hf = hf_tokenizer
        self._id_map = id_map

    @classmethod
    def train(cls, data: bytes, vocab_size: int) -> "Tokenizer":
        """Learns up to vocab_size - 256 merges from data (from about 1 MB of it: training_sample())."""
        vocab_size = max(256, min(int(vocab_size), MAX_VOCAB))
        if vocab_size == 256 or len(data) < 2:
            return cls(Vocabulary([]))
        from tokenizers import Regex, Tokenizer as HFTokenizer, models, pre_tokenizers, trainers

        hf = HFTokenizer(models.BPE())
        hf.pre_tokenizer = pre_tokenizers.Split(Regex(_PRETOKENIZE), behavior="isolated")
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=2,
            initial_alphabet=[chr(i) for i in range(256)],
            show_progress=False,
            special_tokens=[],
            # tokenizers keeps a merge only if it is shorter than this
            # (0.23: 64 gives tokens of at most 63 bytes); the pieces bound
            # tokens to MAX_TOKEN_BYTES whatever a version does here.
            max_token_length=MAX_TOKEN_BYTES + 1,
        )
        sample = training_sample(data)
        _prepare_training_under_limit(sum(len(b) for b in sample))
        hf.train_from_iterator([b.decode("latin-1") for b in sample], trainer=trainer)
        hf_vocab = hf.get_vocab()
        tokens = sorted(t.encode("latin-1") for t in hf_vocab if len(t) > 1)
        vocab = Vocabulary(tokens)
        our_id = {t: 256 + i for i, t in enumerate(tokens)}
        id_map = np.zeros(max(hf_vocab.values()) + 1, dtype=np.uint32)
        for text, hf_id in hf_vocab.items():
            raw = text.encode("latin-1")
            id_map[hf_id] = raw[0] if len(raw) == 1 else our_id[raw]
        return cls(vocab, hf, id_map)

    def encode(self, data: bytes) -> np.ndarray:
        if not data:
            return np.zeros(0, dtype=np.uint32)
        if self._hf is None:
            if self.vocab.size != 256:
                raise StatesmixError("this tokenizer was loaded for decoding only")
            return np.frombuffer(bytes(data), dtype=np.uint8).astype(np.uint32)
        out = []
        view = memoryview(data)
        start = 0
        while start < len(data):
            end = min(len(data), start + _ENCODE_PIECE)
            if end < len(data):
                nl = bytes(view[end - 4096 : end]).rfind(b"\n")
                if nl >= 0:
                    end = end - 4096 + nl + 1
            text = bytes(view[start:end]).decode("latin-1")
            ids = np.asarray(self._hf.encode(text, add_special_tokens=False).ids, dtype=np.int64)
            out.append(self._id_map[ids])
            start = end
        return np.concatenate(out)
