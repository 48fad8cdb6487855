"""Compressor / Decompressor: incremental use, lzma-style semantics."""

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

import statesmix
from statesmix import Compressor, Decompressor, StatesmixError


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


def test_output_arrives_block_by_block(text):
    # With one thread, submitting a block waits for the one before, so each
    # block's output is out by the time the next block is full.
    data = text[:60_000]
    c = Compressor(level=1, block_size=8192, threads=1)
    sizes = [len(c.compress(data[i : i + 4096])) for i in range(0, len(data), 4096)]
    tail = c.flush()
    assert sizes[0] == 0  # nothing before the first block is full
    assert sum(1 for s in sizes if s) >= len(data) // 8192 - 1
    assert len(tail) < sum(sizes)


@pytest.mark.parametrize("threads", [1, 2])
def test_streaming_writes_the_same_bytes_as_one_shot(text, threads):
    data = text[:40_000]
    one_shot = statesmix.compress(data, level=1, block_size=8192, threads=1)
    c = Compressor(level=1, block_size=8192, threads=threads)
    streamed = b"".join([c.compress(data[i : i + 3000]) for i in range(0, len(data), 3000)] + [c.flush()])
    assert streamed == one_shot
    assert statesmix.decompress(streamed, threads=threads) == data


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


def test_a_compressor_whose_flush_failed_says_so_again(monkeypatch, text):
    """Not "already flushed": the flush did not happen, and the message says why."""
    from statesmix import blocks

    def broken(*args, **kwargs):
        raise statesmix.StatesmixError("the engine broke")

    c = Compressor(level=1, block_size=4096, threads=1)
    c.compress(text[:1000])
    monkeypatch.setattr(blocks, "encode_block", broken)
    with pytest.raises(StatesmixError, match="engine broke"):
        c.flush()
    for call in (c.flush, lambda: c.compress(b"more")):
        with pytest.raises(StatesmixError, match=r"failed earlier \(the engine broke\)"):
            call()


def test_a_compressor_that_lost_a_block_refuses_to_go_on(monkeypatch, text):
    from statesmix import blocks

    def broken(*args, **kwargs):
        raise statesmix.StatesmixError("the engine broke")

    c = Compressor(level=1, block_size=4096, threads=1)
    monkeypatch.setattr(blocks, "encode_block", broken)
    with pytest.raises(StatesmixError, match="engine broke"):
        c.compress(text[:20_000])  # the second block waits for the first, which failed
    with pytest.raises(StatesmixError, match="failed earlier"):
        c.compress(b"more")
    with pytest.raises(StatesmixError, match="failed earlier"):
        c.flush()


def _record_cancel_events(monkeypatch, name):
    """Wraps blocks.<name> so that each job's cancel event is kept."""
    from statesmix import blocks

    seen = []
    real = getattr(blocks, name)

    def recording(*args, cancel=None, **kwargs):
        seen.append(cancel)
        return real(*args, cancel=cancel, **kwargs)

    monkeypatch.setattr(blocks, name, recording)
    return seen


def test_blocks_in_flight_are_abandoned_when_their_owner_is_dropped_or_closed(monkeypatch, text):
    # otherwise a reader closed after its first bytes, or a compressor
    # dropped unflushed, leaves whole blocks coding on (minutes each at the
    # default size, with their models' memory held)
    import gc
    import io

    data = text[:8 * 4096]
    blob = statesmix.compress(data, level=1, block_size=4096)
    decoding = _record_cancel_events(monkeypatch, "decode_block")
    gc.disable()  # dropped means freed at once, not at some later gc pass
    try:
        d = Decompressor(threads=2)
        assert d.decompress(blob, max_length=10) == data[:10]
        del d
        assert decoding and all(event.is_set() for event in decoding)
        decoding.clear()
        f = statesmix.open(io.BytesIO(blob), threads=2)
        assert f.read(10) == data[:10]
        raw = f._reader.raw  # kept alive: closing, not dropping, must stop the blocks
        f.close()
        assert decoding and all(event.is_set() for event in decoding)
        del raw
        encoding = _record_cancel_events(monkeypatch, "encode_block")
        c = Compressor(level=1, block_size=4096, threads=2)
        c.compress(data)
        del c
        assert encoding and all(event.is_set() for event in encoding)
    finally:
        gc.enable()


def _cut_stream(text):
    """Five blocks of 4 KiB whose last block and end record are missing."""
    data = text[: 5 * 4096]
    return data, statesmix.compress(data, level=1, block_size=4096)[:-200]


def _slow_blocks(monkeypatch, seconds=0.2):
    """Each block still decoding when the call that handed it over returns."""
    from statesmix import blocks

    real = blocks.decode_block

    def slow(*args, **kwargs):
        time.sleep(seconds)
        return real(*args, **kwargs)

    monkeypatch.setattr(blocks, "decode_block", slow)


def test_a_call_without_input_gives_the_blocks_in_flight(monkeypatch, text):
    """Where the input ends before the stream does, the whole blocks it held
    are output, as from one thread: a call with b"" waits for those that
    worker threads are decoding, rather than returning nothing."""
    data, cut = _cut_stream(text)
    serial = Decompressor(threads=1).decompress(cut)
    assert serial == data[: 4 * 4096]
    _slow_blocks(monkeypatch)
    d = Decompressor(threads=2)
    out = d.decompress(cut)
    out += d.decompress(b"")
    assert out == serial and not d.eof and d.needs_input
    assert d.decompress(b"") == b""


def test_a_file_cut_short_gives_every_whole_block_before_the_error(monkeypatch, text):
    import io

    from statesmix import file

    data, cut = _cut_stream(text)
    _slow_blocks(monkeypatch, 0.05)
    monkeypatch.setattr(file, "_READ_SIZE", 1000)  # the input arrives in several reads
    got = bytearray()
    with statesmix.open(io.BytesIO(cut), threads=2) as f:
        with pytest.raises(statesmix.errors.TruncatedError):
            while True:
                piece = f.read(1000)
                assert piece
                got += piece
    # (a read that meets the error loses what it had gathered: io.BufferedReader's way, lzma's too)
    assert bytes(got) == data[: len(got)] and len(got) > 4 * 4096 - 1000


def test_lzmas_loop_keeps_two_blocks_decoding(monkeypatch, text):
    """needs_input stays True while a block decodes and the next is not whole:
    lzma's loop (read when it is True, else call with b"") then reads ahead,
    and the next block starts beside the first instead of after it."""
    import io
    import threading

    from statesmix import blocks

    data = text[: 6 * 4096]
    src = io.BytesIO(statesmix.compress(data, level=1, block_size=4096))
    real = blocks.decode_block
    state = {"now": 0, "max": 0}
    lock = threading.Lock()

    def counted(*args, **kwargs):
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        try:
            time.sleep(0.1)
            return real(*args, **kwargs)
        finally:
            with lock:
                state["now"] -= 1

    monkeypatch.setattr(blocks, "decode_block", counted)
    d = Decompressor(threads=2)
    out = bytearray()
    while not d.eof:
        chunk = src.read(500) if d.needs_input else b""
        if d.needs_input and not chunk:
            raise AssertionError("input ended before the stream did")
        out += d.decompress(chunk)
    assert bytes(out) == data and state["max"] == 2


def test_a_damaged_end_record_is_reported_after_the_output_before_it(text):
    """Seeing the end early (max_length exactly what is left) must not cost
    the call its output when the end record is damaged: the next call says so."""
    data = text[:3000]
    packed = bytearray(statesmix.compress(data, level=1))
    packed[-3] ^= 0xFF  # in the footer
    d = Decompressor(threads=1)
    assert d.decompress(bytes(packed), max_length=len(data)) == data
    with pytest.raises(StatesmixError):
        d.decompress(b"")


@pytest.mark.parametrize("threads", [1, 2])
def test_decompress_chunks_reports_progress_over_every_stream(text, threads):
    # what statesmix decompress --progress shows: the frames' own counts, as compress reports them
    from statesmix import api, info

    data = text[: 3 * 4096 + 100]
    packed = statesmix.compress(data, level=1, block_size=4096)
    blocks = info.scan(packed).blocks
    calls = []
    out = b"".join(api.decompress_chunks([packed[:1000], packed[1000:] + packed], threads=threads,
                                         progress=lambda *a: calls.append(a)))
    assert out == data * 2
    tokens = sum(b.tokens for b in blocks)
    frames = sum(b.comp_size - b.header.size for b in blocks)
    assert calls[-1] == (2 * len(data), None, 2 * tokens, 2 * frames)
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)
    with pytest.raises(TypeError):
        api.decompress_chunks([packed], progress=5)
