"""Independent blocks: bytes that depend only on level and block size,
N blocks in flight at most, and random access that decodes only the block
that holds the target."""

import io
import lzma
import random
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import statesmix
from statesmix import blocks
from statesmix.container import locate_streams
from statesmix.info import scan

BS = 8192


@pytest.fixture(scope="module")
def data(text):
    return text[:50_000]


@pytest.fixture(scope="module")
def packed(data):
    return statesmix.compress(data, level=1, block_size=BS, threads=1)


def test_bytes_depend_on_level_and_block_size_only(data, packed):
    assert len(scan(packed).blocks) == -(-len(data) // BS)
    for threads in (2, 3):
        assert statesmix.compress(data, level=1, block_size=BS, threads=threads) == packed
    for chunk in (1000, BS, 3 * BS + 5):
        c = statesmix.Compressor(level=1, block_size=BS, threads=2)
        out = b"".join([c.compress(data[i : i + chunk]) for i in range(0, len(data), chunk)] + [c.flush()])
        assert out == packed
    assert statesmix.compress(data, level=1, block_size=2 * BS, threads=1) != packed


def test_small_inputs_are_one_block(data):
    assert len(scan(statesmix.compress(data, level=1)).blocks) == 1


def _count_concurrency(monkeypatch, name):
    state = {"now": 0, "max": 0}
    lock = threading.Lock()
    original = getattr(blocks, name)

    def counted(*args, **kwargs):
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        try:
            time.sleep(0.05)  # let the others catch up, if they may
            return original(*args, **kwargs)
        finally:
            with lock:
                state["now"] -= 1

    monkeypatch.setattr(blocks, name, counted)
    return state


@pytest.mark.parametrize("threads", [1, 2])
def test_at_most_n_blocks_in_flight(data, packed, monkeypatch, threads):
    state = _count_concurrency(monkeypatch, "encode_block")
    c = statesmix.Compressor(level=1, block_size=BS, threads=threads)
    out = []
    for i in range(0, len(data), 3000):
        out.append(c.compress(data[i : i + 3000]))
        assert len(c._pending) < BS  # input waits for at most one block
        assert c._runner is None or c._runner.pending <= threads
    assert b"".join(out) + c.flush() == packed
    assert state["max"] == threads

    state = _count_concurrency(monkeypatch, "decode_block")
    assert statesmix.decompress(packed, threads=max(2, threads)) == data
    assert state["max"] == max(2, threads)


@pytest.mark.parametrize("threads", [1, 2])
def test_seek_decodes_only_the_blocks_that_hold_the_range(data, packed, monkeypatch, threads):
    made = []
    original = blocks.BlockDecoder.__init__

    def record(self, header, index, threads=1):
        made.append(index)
        original(self, header, index, threads)

    monkeypatch.setattr(blocks.BlockDecoder, "__init__", record)
    with statesmix.open(io.BytesIO(packed), threads=threads) as f:
        f.seek(5 * BS + 100)
        assert f.read(200) == data[5 * BS + 100 : 5 * BS + 300]
        assert made == [5]
        f.seek(2 * BS + 50)  # backwards: only that block again
        assert f.read(100) == data[2 * BS + 50 : 2 * BS + 150]
        assert made == [5, 2]
        f.seek(-10, io.SEEK_END)  # the end, from the index: no decoding to find it
        assert f.read() == data[-10:]
        assert made == [5, 2, len(data) // BS]
        f.seek(0)
        assert f.read() == data  # and on through every block, checking the index at the end


@pytest.mark.parametrize("empty_first", [False, True])
def test_seek_finds_the_index_beside_an_empty_stream(data, packed, monkeypatch, empty_first):
    """An empty stream (compress(b""), or a file opened for appending and
    closed unwritten) is 18 bytes, its end record 12 with no index entry:
    every stream's index is still found, and a seek decodes one block."""
    empty = statesmix.compress(b"")
    streams = locate_streams(lambda offset, n: empty[offset : offset + n], len(empty))
    assert [(s.start, s.raw_size, s.end.blocks) for s in streams] == [(0, 0, [])]
    made = []
    original = blocks.BlockDecoder.__init__

    def record(self, header, index, threads=1):
        made.append(index)
        original(self, header, index, threads)

    monkeypatch.setattr(blocks.BlockDecoder, "__init__", record)
    with statesmix.open(io.BytesIO(empty + packed if empty_first else packed + empty)) as f:
        f.seek(-10, io.SEEK_END)
        assert f.read() == data[-10:]
        assert made == [len(data) // BS]


_OPS = st.lists(st.one_of(
    st.tuples(st.just("seek"), st.integers(min_value=-60_000, max_value=60_000), st.sampled_from([0, 1, 2])),
    st.tuples(st.just("read"), st.integers(min_value=-1, max_value=3 * BS), st.just(0)),
), min_size=1, max_size=6)


@settings(max_examples=25)
@given(ops=_OPS)
def test_random_seeks_and_reads_behave_as_lzma_open(data, packed, ops):
    """Whatever the order of seeks (from the start, the current position or
    the end; into a block, between blocks, before the start, past the end)
    and reads, statesmix.open gives what lzma.open gives over the same
    content: the same bytes and the same positions."""
    with statesmix.open(io.BytesIO(packed)) as f, lzma.open(io.BytesIO(lzma.compress(data))) as want:
        for op, n, whence in ops:
            if op == "seek":
                assert f.seek(n, whence) == want.seek(n, whence)
            else:
                assert f.read(n) == want.read(n)
            assert f.tell() == want.tell()


def test_info_lists_the_blocks(packed):
    s = scan(packed)
    assert [b.header.raw_len for b in s.blocks][:-1] == [BS] * (len(s.blocks) - 1)
    assert sum(b.comp_size for b in s.blocks) + s.header.size + s.end.size == len(packed)
    assert [e.comp_size for e in s.end.blocks] == [b.comp_size for b in s.blocks]


def test_info_reads_an_index_longer_than_a_block_header(monkeypatch):
    """info reads each record by growing reads, up to what the record may
    hold: for a block header a vocabulary and a parameter block (about
    1 MiB, info._LIMIT), for the index 8 bytes or more per block, so a valid
    file of some 130,000 blocks was described as truncated. The same file
    in small: 500 stored blocks, the block headers' bound below its index."""
    from statesmix import info

    data = random.Random(5).randbytes(500 * 4096)  # incompressible: stored, no model, fast
    packed = statesmix.compress(data, level=1, block_size=4096, threads=1)
    assert scan(packed).end.size > 3 * 1024
    monkeypatch.setattr(info, "_LIMIT", 1024)
    text, problem = info.describe_bytes(packed, "many")
    assert problem is None and "blocks           500," in text


@pytest.mark.parametrize("data", [
    bytes(100_033),  # a run of one byte whose length is not a multiple of 64
    b"=" * 99_999 + b"\n",
    bytes(50_000) + b"x" + bytes(50_000),
    (bytes(9_999) + b"\n") * 10,
])
def test_a_nearly_constant_block_keeps_its_merges(data):
    """Order-0 entropy alone put the 64-byte tokens of a run of one byte
    (a few bits for the tail's odd token) above its bytes' (0 bits), and
    the block was coded byte by byte: 64 times the tokens, about 30 times
    the time (1,000,001 zeros at level 1: 16 s against 0.55 s for
    1,000,000), and larger (444 bytes against 132)."""
    from statesmix.tokenizer import Tokenizer

    tok = Tokenizer.train(data, 384)
    ids = tok.encode(data)
    assert len(ids) < len(data) / 32
    assert blocks.merges_pay(data, [ids])
    packed = statesmix.compress(data, level=1, threads=1)
    assert scan(packed).blocks[0].header.n_tokens < len(data) / 32
    assert statesmix.decompress(packed) == data


def test_merges_without_structure_still_give_way_to_bytes():
    """Random letters from a tiny alphabet: the merges' tokens carry more
    order-0 information than the bytes, and the block keeps bytes."""
    import random

    from statesmix.tokenizer import Tokenizer

    rng = random.Random(8)
    data = bytes(rng.choice(b"ACGT") for _ in range(100_000))
    tok = Tokenizer.train(data, 384)
    assert tok.vocab.size > 256
    assert not blocks.merges_pay(data, [tok.encode(data)])


def test_a_tokenizer_that_loses_a_byte_is_refused(data, monkeypatch):
    """The tokens of every frame must spell its bytes: if the tokenizers
    library ever dropped or changed a character, the file would not decode
    (its CRC would say so only then, after `statesmix compress` had removed
    the original). The encoder checks, and stops, instead."""
    original = blocks.Tokenizer.encode

    def lossy(self, raw):
        ids = original(self, raw)
        return ids[:-1] if len(ids) > 1 else ids

    monkeypatch.setattr(blocks.Tokenizer, "encode", lossy)
    for size in (3000, 70_000):  # bytes as tokens; BPE tokens
        with pytest.raises(statesmix.StatesmixError, match="tokens do not spell"):
            statesmix.compress((data * 2)[:size], level=1)
