"""The per-file BPE tokenizer and its header section."""

import lzma
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from statesmix import StatesmixError
from statesmix.tokenizer import MAX_TOKEN_BYTES, Tokenizer, Vocabulary


@given(st.binary(min_size=0, max_size=3000), st.sampled_from([256, 300, 512, 1024]))
def test_lossless_for_any_bytes(data, vocab):
    tok = Tokenizer.train(data, vocab)
    ids = tok.encode(data)
    assert tok.vocab.decode(ids) == data
    assert tok.vocab.decoded_length(ids) == len(data)
    assert ids.dtype == np.uint32 and (ids.size == 0 or int(ids.max()) < tok.vocab.size)


def test_trained_on_text_it_learns_merges(text):
    tok = Tokenizer.train(text, 1024)
    assert tok.vocab.size == 1024
    ids = tok.encode(text)
    assert len(ids) < len(text) / 2.5
    assert tok.vocab.decode(ids) == text


def test_applies_to_unseen_bytes(text):
    tok = Tokenizer.train(text[:20_000], 512)
    other = bytes(range(256)) + b"\x00\xff never seen \xc3"
    assert tok.vocab.decode(tok.encode(other)) == other


def test_section_roundtrip(text):
    vocab = Tokenizer.train(text, 2048).vocab
    back = Vocabulary.from_bytes(vocab.to_bytes())
    assert back.tokens == vocab.tokens and back.pieces == vocab.pieces


def _raw_section(shared, lengths, rest):
    raw = struct.pack("<I", len(shared)) + bytes(shared) + bytes(lengths) + rest
    return lzma.compress(raw, format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2, "preset": 6}])


def test_section_is_front_coded():
    v = Vocabulary.from_bytes(_raw_section([0, 2, 1], [2, 1, 2], b"ab" + b"c" + b"xy"))
    assert v.tokens == [b"ab", b"abc", b"axy"]


def test_rejects_unsorted_tokens():
    with pytest.raises(StatesmixError, match="increasing"):
        Vocabulary.from_bytes(_raw_section([0, 0], [2, 2], b"zzaa"))


def test_rejects_prefix_beyond_previous_token():
    with pytest.raises(StatesmixError, match="prefix"):
        Vocabulary.from_bytes(_raw_section([0, 5], [2, 1], b"abc"))


def test_rejects_overlong_tokens():
    with pytest.raises(StatesmixError, match="length"):
        Vocabulary.from_bytes(_raw_section([0], [MAX_TOKEN_BYTES + 1], b"a" * (MAX_TOKEN_BYTES + 1)))


def test_rejects_wrong_length():
    with pytest.raises(StatesmixError, match="wrong length"):
        Vocabulary.from_bytes(_raw_section([0], [3], b"ab"))


def test_rejects_garbage_section():
    with pytest.raises(StatesmixError, match="tokenizer section"):
        Vocabulary.from_bytes(b"\x00\x01garbage")
