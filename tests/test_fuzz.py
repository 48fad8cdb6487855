"""Thousands of mutated files: each must raise StatesmixError with a message
or decode to the original, quickly, without crashing or hanging."""

import random
import struct
import time

import pytest

import statesmix
from statesmix import StatesmixError
from statesmix.info import scan

TIME_LIMIT = 5.0  # seconds for any single decode


def _frames(blob):
    lay = scan(blob)
    pos = lay.header.size
    spans = []
    for f in lay.frames:
        spans.append((pos, pos + 17 + f.payload_len))
        pos += 17 + f.payload_len
    return lay.header.size, spans


def _mutants(blob, other, rng, count):
    hdr, spans = _frames(blob)
    o_hdr, o_spans = _frames(other)
    for i in range(count):
        kind = i % 5
        b = bytearray(blob)
        if kind == 0:  # bit flips anywhere
            for _ in range(rng.randint(1, 3)):
                p = rng.randrange(len(b))
                b[p] ^= 1 << rng.randrange(8)
        elif kind == 1:  # truncation
            b = b[: rng.randrange(len(b))]
        elif kind == 2:  # splice a frame of another file in place of one of ours
            s0, s1 = rng.choice(spans)
            t0, t1 = rng.choice(o_spans)
            b = b[:s0] + bytearray(other[t0:t1]) + b[s1:]
        elif kind == 3:  # a lying length or count in a frame head
            s0, _ = rng.choice(spans)
            field = rng.choice([1, 5, 9])
            value = rng.choice([0, 1, 2, 0xFFFFFFFF, 1 << 31, rng.randrange(1 << 32),
                                struct.unpack_from("<I", b, s0 + field)[0] + rng.randint(-3, 3) % (1 << 32)])
            struct.pack_into("<I", b, s0 + field, value & 0xFFFFFFFF)
        else:  # duplicate, drop or reorder frames
            parts = [bytes(b[s0:s1]) for s0, s1 in spans]
            rng.shuffle(parts)
            if rng.random() < 0.5:
                parts.append(parts[0])
            b = b[:hdr] + bytearray(b"".join(parts)) + b[spans[-1][1]:]
        yield kind, bytes(b)


@pytest.mark.parametrize("seed", [1, 2])
def test_mutated_files(seed, text, monkeypatch):
    rng = random.Random(seed)
    data = text[:6000] + bytes(range(256))
    other_data = bytes(rng.randrange(256) for _ in range(3000)) + text[6000:9000]
    # small frames, so splicing and reordering have frames to work with
    from statesmix import api

    monkeypatch.setattr(api, "FRAME_TOKENS", 400)
    blob = statesmix.compress(data, level=1)
    other = statesmix.compress(other_data, level=1)
    assert len(scan(blob).frames) >= 3
    outcomes = {"error": 0, "original": 0}
    for kind, mutant in _mutants(blob, other, rng, 1000):
        start = time.monotonic()
        try:
            out = statesmix.decompress(mutant)
        except StatesmixError as exc:
            assert str(exc), "an error must say what is wrong"
            outcomes["error"] += 1
        else:
            assert out == data, f"mutation kind {kind} decoded to wrong data without an error"
            outcomes["original"] += 1
        assert time.monotonic() - start < TIME_LIMIT, f"mutation kind {kind} took too long"
    assert outcomes["error"] > 900
