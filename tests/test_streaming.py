"""Compressor / Decompressor: incremental use, lzma-style semantics."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

import statesmix
from statesmix import Compressor, Decompressor, StatesmixError
from statesmix.api import STREAM_FRAME_BYTES, STREAM_TRAIN_BYTES


def stream_compress(data, chunk, level=1):
    c = Compressor(level=level)
    parts = [c.compress(data[i : i + chunk]) for i in range(0, len(data), chunk)]
    parts.append(c.flush())
    return parts


@given(st.binary(max_size=3000), st.integers(min_value=1, max_value=700))
def test_stream_roundtrip_any_chunking(data, chunk):
    blob = b"".join(stream_compress(data, chunk))
    assert statesmix.decompress(blob) == data
    d = Decompressor()
    out = b"".join(d.decompress(blob[i : i + chunk]) for i in range(0, len(blob), chunk))
    assert out == data and d.eof and d.unused_data == b""


def test_one_shot_and_streaming_are_interchangeable(text):
    one_shot = statesmix.compress(text, level=1)
    d = Decompressor()
    assert b"".join(d.decompress(one_shot[i : i + 999]) for i in range(0, len(one_shot), 999)) == text
    streamed = b"".join(stream_compress(text, 4096))
    assert statesmix.decompress(streamed) == text


def test_output_arrives_frame_by_frame(text, monkeypatch):
    from statesmix import api

    monkeypatch.setattr(api, "STREAM_TRAIN_BYTES", 16_384)
    monkeypatch.setattr(api, "STREAM_FRAME_BYTES", 8_192)
    data = text[:60_000]
    c = Compressor(level=1)
    sizes = [len(c.compress(data[i : i + 4096])) for i in range(0, len(data), 4096)]
    tail = c.flush()
    assert sizes[:3] == [0, 0, 0]  # nothing before the tokenizer's sample is in
    assert sum(1 for s in sizes if s) >= 4  # then frames as input arrives
    assert len(tail) < sum(sizes)


def test_streaming_costs_under_one_percent_more_than_one_shot(text):
    # Past the tokenizer's training sample, so the stream emits several frames
    # before flush; the model and tables carry over from frame to frame.
    data = (text * 20)[: STREAM_TRAIN_BYTES + STREAM_FRAME_BYTES // 2]
    streamed = sum(len(p) for p in stream_compress(data, 65536))
    one_shot = len(statesmix.compress(data, level=1))
    assert streamed <= one_shot * 1.01, (streamed, one_shot)


def test_max_length_needs_input_and_eof():
    data = bytes(range(256)) * 64
    blob = statesmix.compress(data, level=1)
    d = Decompressor()
    assert d.needs_input and not d.eof
    out = d.decompress(blob, max_length=100)
    assert out == data[:100]
    assert not d.needs_input  # decoded bytes are waiting
    rest = bytearray()
    while not d.eof:
        rest += d.decompress(b"", max_length=1000)
    assert bytes(out + rest) == data
    with pytest.raises(EOFError):
        d.decompress(b"more")
    with pytest.raises(StatesmixError):
        d.decompress(b"more")


def test_unused_data_after_end():
    blob = statesmix.compress(b"payload", level=1)
    d = Decompressor()
    assert d.decompress(blob + b"NEXT") == b"payload"
    assert d.eof and d.unused_data == b"NEXT"


def test_compressor_after_flush():
    c = Compressor(level=1)
    c.compress(b"abc")
    c.flush()
    with pytest.raises(StatesmixError, match="flushed"):
        c.compress(b"more")
    with pytest.raises(StatesmixError, match="flushed"):
        c.flush()


def test_truncated_stream_is_not_eof():
    blob = statesmix.compress(b"a whole stream " * 100, level=1)
    d = Decompressor()
    d.decompress(blob[:-3])
    assert not d.eof and d.needs_input
