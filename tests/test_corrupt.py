"""Foreign, truncated and corrupted input: always StatesmixError, never a crash."""

import io
import random

import pytest
from conftest import load_bench_module

import statesmix
from statesmix import StatesmixError
from statesmix.container import MAGIC

fuzz = load_bench_module("fuzz")


@pytest.fixture(scope="module")
def blob():
    data = (b"Corruption must be detected, and reported clearly. " * 40) + bytes(range(256))
    return data, statesmix.compress(data, level=1)


def test_empty_input():
    with pytest.raises(StatesmixError, match="empty"):
        statesmix.decompress(b"")


def test_foreign_input():
    with pytest.raises(StatesmixError, match="not a statesmix file"):
        statesmix.decompress(b"\xfd7zXZ\x00\x00 this is xz, not statesmix")


def test_unknown_version(blob):
    _, c = blob
    bad = c[:4] + bytes([99]) + c[5:]
    with pytest.raises(StatesmixError, match="unsupported format version 99"):
        statesmix.decompress(bad)


def test_version_2_files_are_refused_clearly():
    old = b"\x93SMX\x02\x06" + bytes(300)  # what statesmix 0.1 wrote
    with pytest.raises(StatesmixError, match=r"unsupported format version 2 \(this statesmix reads versions 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22\)"):
        statesmix.decompress(old)


@pytest.mark.parametrize("cut", [1, 3, 4, 6, 20, 100, -30, -17, -1])
def test_truncated(blob, cut):
    _, c = blob
    with pytest.raises(StatesmixError, match="truncated|corrupt"):
        statesmix.decompress(c[:cut])


def test_truncated_says_truncated(blob):
    _, c = blob
    with pytest.raises(StatesmixError, match="truncated"):
        statesmix.decompress(c[:-5])


def test_payload_corruption_names_the_frame(blob):
    data, c = blob
    # flip a byte in the middle of the first frame's payload
    bad = bytearray(c)
    bad[len(c) // 2] ^= 0x55
    with pytest.raises(StatesmixError, match="frame 0|corrupt|checksum"):
        statesmix.decompress(bytes(bad))


def test_checksum_mismatch_names_the_frame(blob):
    _, c = blob
    streams = fuzz.dissect(c)
    f = streams[0].blocks[0].frames[0]
    h = f.head
    bad_head = fuzz.frame_head(h.kind, h.raw_len, h.n_tokens, h.payload_len, h.crc ^ 1)
    streams[0].blocks[0].frames[0] = fuzz.Frame(h, bad_head + f.data[h.size:])  # the payload is intact
    with pytest.raises(StatesmixError, match="checksum mismatch in frame 0 of block 0"):
        statesmix.decompress(fuzz.assemble(streams))


def test_trailing_garbage(blob):
    _, c = blob
    with pytest.raises(StatesmixError, match="trailing"):
        statesmix.decompress(c + b"garbage")


@pytest.mark.parametrize("field", ["raw_len", "n_tokens", "payload_len"])
@pytest.mark.parametrize("value", [0, 2**32 - 1, 2**55])
def test_lying_frame_lengths_rejected_before_allocation(blob, field, value):
    _, c = blob
    streams = fuzz.dissect(c)
    f = streams[0].blocks[0].frames[0]
    h = f.head
    fields = dict(kind=h.kind, raw_len=h.raw_len, n_tokens=h.n_tokens, payload_len=h.payload_len, crc=h.crc)
    fields[field] = value
    streams[0].blocks[0].frames[0] = fuzz.Frame(h, fuzz.frame_head(**fields) + f.data[h.size:])
    with pytest.raises(StatesmixError, match="frame 0 of block 0 is corrupt"):
        statesmix.decompress(fuzz.assemble(streams))


def _with_block_header(c, **changes):
    from statesmix.container import block_header_bytes, parse_block_header, parse_stream_header

    streams = fuzz.dissect(c)
    s = streams[0]
    bh = parse_block_header(s.blocks[0].header, 0, parse_stream_header(s.header), 0)
    args = dict(raw_len=bh.raw_len, n_tokens=bh.n_tokens,
                vocab_blob=bh.vocab.to_bytes() if bh.vocab.size > 256 else None,
                params_blob=bh.params.to_bytes() if bh.explicit_params else None)
    args.update(changes)
    s.blocks[0].header = block_header_bytes(**args)
    return fuzz.assemble(streams)


@pytest.mark.parametrize("changes, message", [
    (dict(raw_len=2**40), "block 0 is corrupt .length"),
    (dict(n_tokens=2**40), "block 0 is corrupt"),
    (dict(vocab_blob=b"\x00" * (2 << 20)), "tokenizer section too long"),
    (dict(vocab_blob=b"not lzma at all"), "tokenizer section is corrupt"),
])
def test_lying_block_headers(blob, changes, message):
    _, c = blob
    with pytest.raises(StatesmixError, match=message):
        statesmix.decompress(_with_block_header(c, **changes))


@pytest.mark.parametrize("change", [dict(table_bits=31), dict(d_model=1 << 20), dict(n_layers=1000),
                                    dict(pool_limit=2**32 - 1), dict(lr=float("nan"))])
def test_hostile_parameters_never_allocate(blob, change):
    # Explicit parameters asking for absurd tables are refused by the
    # parameter check or by the memory limit, before the engine exists.
    from statesmix.container import parse_block_header, parse_stream_header

    _, c = blob
    s = fuzz.dissect(c)[0]
    bh = parse_block_header(s.blocks[0].header, 0, parse_stream_header(s.header), 0)
    lied = _with_block_header(c, params_blob=bh.params.replace(**change).to_bytes())
    with pytest.raises(StatesmixError, match="parameter|memory|finite"):
        statesmix.decompress(lied)


def test_lying_index(blob):
    data, c = blob
    s = fuzz.dissect(c)[0]
    entries = [(e.comp_size, e.raw_len, e.crc) for e in s.entries]
    for lie in ([(entries[0][0] + (1 << 30), entries[0][1], entries[0][2])],  # offsets past the end
                [(entries[0][0], entries[0][1] + 1, entries[0][2])],
                # shorter than it is: a seek past the claimed end must not
                # report the end of the data (found by bench/fuzz.py --seed 1206)
                [(entries[0][0], entries[0][1] // 4, entries[0][2])],
                entries + entries):  # more blocks than there are
        bad = c[: len(c) - len(s.end)] + fuzz.index_bytes(s.header, lie)
        with pytest.raises(StatesmixError, match="index"):
            statesmix.decompress(bad)
        with statesmix.open(io.BytesIO(bad)) as f:  # the index path: falls back, then fails cleanly
            with pytest.raises(StatesmixError):
                f.seek(len(data) // 2)
                f.read()


def test_random_mutations(blob):
    data, c = blob
    rng = random.Random(1234)
    for _ in range(150):
        bad = bytearray(c)
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(bad))
            bad[pos] ^= 1 << rng.randrange(8)
        try:
            out = statesmix.decompress(bytes(bad))
        except StatesmixError:
            continue
        assert out == data  # a flip that does not matter must still give the original


def test_magic_constant():
    assert MAGIC == b"\x93SMX"
