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
    assert back.merges == vocab.merges and back.pieces == vocab.pieces


def _raw_section(merges):
    raw = struct.pack("<I", len(merges)) + np.asarray(merges, dtype="<u2").tobytes()
    return lzma.compress(raw, format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2, "preset": 6}])


def test_rejects_forward_references():
    with pytest.raises(StatesmixError, match="not yet defined"):
        Vocabulary.from_bytes(_raw_section([(97, 98), (300, 97)]))


def test_rejects_tokens_that_grow_without_bound():
    merges = [(97, 97)] + [(256 + i, 256 + i) for i in range(10)]
    with pytest.raises(StatesmixError, match=f"longer than {MAX_TOKEN_BYTES}"):
        Vocabulary.from_bytes(_raw_section(merges))


def test_rejects_garbage_section():
    with pytest.raises(StatesmixError, match="tokenizer section"):
        Vocabulary.from_bytes(b"\x00\x01garbage")
