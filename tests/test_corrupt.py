"""Foreign, truncated and corrupted input: always StatesmixError, never a crash."""

import random
import struct

import pytest

import statesmix
from statesmix import StatesmixError
from statesmix.container import MAGIC


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
    from statesmix.info import scan

    _, c = blob
    hdr = scan(c).header.size
    bad = bytearray(c)
    bad[hdr + 13] ^= 0x01  # the first frame's raw_crc field; the payload is intact
    with pytest.raises(StatesmixError, match="checksum mismatch in frame 0"):
        statesmix.decompress(bytes(bad))


def test_trailing_garbage(blob):
    _, c = blob
    with pytest.raises(StatesmixError, match="trailing"):
        statesmix.decompress(c + b"garbage")


def test_lying_lengths_rejected_before_allocation(blob):
    _, c = blob
    from statesmix.info import scan

    hdr = scan(c).header.size
    for field_offset, value in [(1, 0xFFFFFFFF), (5, 0xFFFFFFFF), (9, 0xFFFFFFFF), (1, 0)]:
        bad = bytearray(c)
        struct.pack_into("<I", bad, hdr + field_offset, value)
        with pytest.raises(StatesmixError, match="frame 0 is corrupt"):
            statesmix.decompress(bytes(bad))


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
