"""Tiny inputs cost a few bytes of header; incompressible data is stored,
never modelled, and costs almost nothing."""

import glob
import lzma
import os
import random

import pytest
from conftest import _sample_text

import statesmix
from statesmix import blocks
from statesmix.container import FRAME_CODED, FRAME_STORED, FRAME_STORED_RESET
from statesmix.info import scan

SIZES = [0, 1, 2, 4, 8, 16, 32, 64, 100, 128, 256, 512, 1000, 1024, 2048, 3000, 4096, 8192, 10_000,
         16_384, 32_768, 50_000, 65_536]


def _source_code() -> bytes:
    files = sorted(glob.glob(os.path.join(os.path.dirname(statesmix.__file__), "*.py")))
    return b"".join(open(f, "rb").read() for f in files)


def test_empty_input_is_at_most_24_bytes():
    assert len(statesmix.compress(b"")) <= 24
    assert statesmix.decompress(statesmix.compress(b"")) == b""


@pytest.mark.parametrize("source", ["text", "code"])
def test_never_larger_than_xz_9e_from_0_to_64k(source):
    data = _sample_text(70_000) if source == "text" else _source_code()
    assert len(data) >= 65_536
    for n in SIZES:
        ours = statesmix.compress(data[:n], level=6)
        xz = lzma.compress(data[:n], preset=9 | lzma.PRESET_EXTREME)
        assert len(ours) <= len(xz), (source, n, len(ours), len(xz))
        if n in (0, 100, 4096, 65_536):
            assert statesmix.decompress(ours) == data[:n]


def test_random_data_is_stored_without_modelling_or_tokenizer_training(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("random data was modelled")

    monkeypatch.setattr(blocks, "Engine", never)
    monkeypatch.setattr(blocks.Tokenizer, "train", never)
    data = random.Random(1).randbytes(1_000_000)
    packed = statesmix.compress(data, level=6)
    assert len(packed) <= len(data) + len(data) // 1000 + 64
    kinds = scan(packed).blocks[0].frames
    assert kinds[FRAME_STORED] > 0 and kinds[FRAME_CODED] == kinds[FRAME_STORED_RESET] == 0
    monkeypatch.undo()
    assert statesmix.decompress(packed) == data


@pytest.mark.parametrize("text_first", [True, False])
def test_text_and_random_together_cost_no_more_than_apart(text, text_first):
    noise = random.Random(2).randbytes(50_000)
    halves = (text[:50_000], noise) if text_first else (noise, text[:50_000])
    apart = sum(len(statesmix.compress(h, level=1)) for h in halves)
    together = statesmix.compress(b"".join(halves), level=1)
    assert len(together) <= apart
    assert statesmix.decompress(together) == b"".join(halves)


def test_a_modelled_frame_that_does_not_shrink_is_stored_and_both_sides_restart(text, monkeypatch):
    # With the cheap test off, random data is modelled, does not shrink, and
    # is stored after modelling; the text after it is coded by a fresh engine.
    monkeypatch.setattr(blocks, "incompressible", lambda chunk: False)
    monkeypatch.setattr(blocks, "FRAME_BYTES", 64 << 10)  # smaller frames than the format allows, to keep it quick
    noise = random.Random(3).randbytes(200_000)  # at least two whole frames of noise
    data = text[:30_000] + noise + text[30_000:50_000]
    packed = statesmix.compress(data, level=1)
    kinds = scan(packed).blocks[0].frames
    assert kinds[FRAME_STORED_RESET] >= 1 and kinds[FRAME_CODED] >= 2
    assert statesmix.decompress(packed, threads=1) == data
    assert statesmix.decompress(packed, threads=2) == data


def test_the_cheap_test():
    rng = random.Random(4)
    assert blocks.incompressible(rng.randbytes(1024))
    assert blocks.incompressible(lzma.compress(_sample_text(20_000))[:4096])
    assert not blocks.incompressible(_sample_text(1024))
    assert not blocks.incompressible(rng.randbytes(512) * 2)  # repeats: zlib sees them
    assert not blocks.incompressible(bytes(rng.randrange(64) for _ in range(1024)))  # 6 bits a byte
    assert not blocks.incompressible(rng.randbytes(100))  # too short to tell
