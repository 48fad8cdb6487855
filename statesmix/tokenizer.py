"""Byte-level BPE tokenizer, trained per input with the ``tokenizers`` library.

Lossless for every byte string: each byte is mapped to the character with
the same code point (latin-1), so the BPE alphabet is exactly the 256 byte
values and any input, valid UTF-8 or not, tokenizes and joins back to
itself. Token ids: 0..255 are the single bytes, 256 + i is the i-th merge.

The decoder never runs ``tokenizers``: the file stores the merges as pairs
of ids (lzma-compressed), from which each id's bytes follow. Decoding
therefore never depends on how a given ``tokenizers`` version trains.
"""

from __future__ import annotations

import json
import lzma
import struct
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .errors import StatesmixError

# GPT-2 style pre-tokenization: words with their leading space, numbers,
# runs of punctuation, runs of whitespace. Pieces only ever split the text.
_PRETOKENIZE = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
MAX_TOKEN_BYTES = 64
MAX_VOCAB = 65536
# Training on more than this gives the same merges in practice and costs time.
_TRAIN_SAMPLE = 8 << 20
# Encode in pieces of about this many bytes, cut after a newline.
_ENCODE_PIECE = 1 << 20

_LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}]


class Vocabulary:
    """The id -> bytes table the decoder needs, built from the merge list."""

    def __init__(self, merges: Sequence[Tuple[int, int]]) -> None:
        if len(merges) > MAX_VOCAB - 256:
            raise StatesmixError(f"tokenizer has {len(merges)} merges, at most {MAX_VOCAB - 256} allowed")
        pieces: List[bytes] = [bytes([b]) for b in range(256)]
        for i, (a, b) in enumerate(merges):
            limit = 256 + i
            if not (0 <= a < limit and 0 <= b < limit):
                raise StatesmixError(f"tokenizer merge {i} refers to a token not yet defined")
            piece = pieces[a] + pieces[b]
            if len(piece) > MAX_TOKEN_BYTES:
                raise StatesmixError(f"tokenizer merge {i} makes a token longer than {MAX_TOKEN_BYTES} bytes")
            pieces.append(piece)
        self.merges: List[Tuple[int, int]] = [(int(a), int(b)) for a, b in merges]
        self.pieces = pieces
        self.lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))

    @property
    def size(self) -> int:
        return len(self.pieces)

    def decode(self, ids: np.ndarray) -> bytes:
        pieces = self.pieces
        return b"".join([pieces[i] for i in ids.tolist()])

    def decoded_length(self, ids: np.ndarray) -> int:
        return int(self.lengths[ids].sum()) if ids.size else 0

    # -- header section ----------------------------------------------------
    def to_bytes(self) -> bytes:
        raw = struct.pack("<I", len(self.merges))
        if self.merges:
            raw += np.asarray(self.merges, dtype="<u2").tobytes()
        return lzma.compress(raw, format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)

    @classmethod
    def from_bytes(cls, blob: bytes) -> "Vocabulary":
        limit = 4 + 4 * (MAX_VOCAB - 256)
        try:
            d = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)
            raw = d.decompress(blob, max_length=limit + 1)
        except lzma.LZMAError as exc:
            raise StatesmixError(f"tokenizer section is corrupt ({exc})") from None
        if len(raw) < 4:
            raise StatesmixError("tokenizer section is truncated")
        (n,) = struct.unpack_from("<I", raw)
        if n > MAX_VOCAB - 256:
            raise StatesmixError(f"tokenizer section declares {n} merges, at most {MAX_VOCAB - 256} allowed")
        if len(raw) != 4 + 4 * n:
            raise StatesmixError("tokenizer section has the wrong length")
        pairs = np.frombuffer(raw, dtype="<u2", offset=4).reshape(n, 2)
        return cls([(int(a), int(b)) for a, b in pairs])


class Tokenizer:
    """A trained BPE: encodes bytes to ids; its Vocabulary decodes them."""

    def __init__(self, vocab: Vocabulary, hf_tokenizer=None, id_map: Optional[np.ndarray] = None) -> None:
        self.vocab = vocab
        self._hf = hf_tokenizer
        self._id_map = id_map

    @classmethod
    def train(cls, data: bytes, vocab_size: int) -> "Tokenizer":
        """Learns up to vocab_size - 256 merges from data (at most its first 8 MB)."""
        vocab_size = max(256, min(int(vocab_size), MAX_VOCAB))
        sample = bytes(data[:_TRAIN_SAMPLE])
        if vocab_size == 256 or len(sample) < 2:
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
            max_token_length=MAX_TOKEN_BYTES,
        )
        hf.train_from_iterator([sample.decode("latin-1")], trainer=trainer)
        model = json.loads(hf.to_str())["model"]
        string_id = {chr(i): i for i in range(256)}
        merges: List[Tuple[int, int]] = []
        for pair in model["merges"]:
            a, b = pair if isinstance(pair, list) else pair.split(" ", 1)
            if a not in string_id or b not in string_id:
                raise StatesmixError("tokenizers produced a merge of unknown tokens")
            merged = a + b
            if merged in string_id:  # the same string twice: keep the first
                continue
            string_id[merged] = 256 + len(merges)
            merges.append((string_id[a], string_id[b]))
        id_map = np.zeros(hf.get_vocab_size(), dtype=np.uint32)
        for text, hf_id in hf.get_vocab().items():
            if text not in string_id:
                raise StatesmixError("tokenizers produced a token outside its merges")
            id_map[hf_id] = string_id[text]
        return cls(Vocabulary(merges), hf, id_map)

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
