"""The memory limit: a file whose blocks need more memory than allowed is
refused before anything is allocated for them, saying what it needs."""

import re
import subprocess
import sys

import pytest
from conftest import load_bench_module

import statesmix
from statesmix import api, blocks
from statesmix.cli import NO_LIMIT, parse_size
from statesmix.container import DEFAULT_BLOCK_SIZES, parse_block_header, parse_stream_header
from statesmix.errors import MemoryLimitError
from statesmix.params import LEVELS

fuzz = load_bench_module("fuzz")
DATA = b"memory limits are checked before the model exists. " * 200


@pytest.fixture(scope="module")
def packed():
    return statesmix.compress(DATA, level=6)


def _need(blob):
    from statesmix.info import scan

    return scan(blob).memory


def test_default_limit_admits_every_level_at_its_default_block_size():
    for level, lv in LEVELS.items():
        block = DEFAULT_BLOCK_SIZES[level]  # a whole block's vocabulary (384 ids), not Params' default 256
        need = lv.params.replace(vocab=lv.vocab_size(block)).table_bytes() + 2 * block
        assert need <= api.DEFAULT_MEMORY_LIMIT, (level, need)


@pytest.mark.parametrize("threads", [1, 2])
def test_refused_before_the_engine_is_created(packed, monkeypatch, threads):
    need = _need(packed)

    def no_engine(*args, **kwargs):
        raise AssertionError("an engine was created")

    monkeypatch.setattr(blocks, "Engine", no_engine)
    with pytest.raises(MemoryLimitError) as info:
        statesmix.decompress(packed, memory_limit=need - 1, threads=threads)
    msg = str(info.value)
    assert f"{api.format_size(need)}" in msg and "limit" in msg and "block 0" in msg
    d = statesmix.Decompressor(memory_limit=need - 1, threads=threads)
    with pytest.raises(MemoryLimitError):
        d.decompress(packed)


def test_exactly_enough_is_enough(packed):
    assert statesmix.decompress(packed, memory_limit=_need(packed)) == DATA
    with statesmix.open(__import__("io").BytesIO(packed), memory_limit=_need(packed)) as f:
        assert f.read() == DATA


def _hungry(packed, **change):
    """packed with explicit parameters that need far more memory."""
    streams = fuzz.dissect(packed)
    s = streams[0]
    bh = parse_block_header(s.blocks[0].header, 0, parse_stream_header(s.header), 0)
    from statesmix.container import block_header_bytes

    params = bh.params.replace(**change)
    s.blocks[0].header = block_header_bytes(bh.raw_len, bh.n_tokens, None, params.to_bytes())
    return fuzz.assemble(streams), params.table_bytes()


def test_hostile_parameters_are_refused_by_the_default_limit(packed, monkeypatch):
    blob, need = _hungry(packed, table_bits=24, pool_limit=1 << 26, bin_bits=24)
    assert need > api.DEFAULT_MEMORY_LIMIT
    monkeypatch.setattr(blocks, "Engine", lambda *a, **k: pytest.fail("an engine was created"))
    with pytest.raises(MemoryLimitError, match="explicit parameters"):
        statesmix.decompress(blob)


def test_cli_refuses_with_exit_1_and_little_memory(tmp_path, packed):
    blob, need = _hungry(packed, table_bits=24)
    f = tmp_path / "hungry.smx"
    f.write_bytes(blob)
    # a fresh parent whose only child is the CLI, so its children's peak RSS is the CLI's
    probe = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "print(r.returncode); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
             "print(r.stderr, end='')")
    cmd = [sys.executable, "-m", "statesmix.cli", "decompress", "-M", "1G", "-c", str(f)]
    r = subprocess.run([sys.executable, "-c", probe] + cmd, capture_output=True, text=True, cwd=tmp_path)
    code, peak_kb, err = r.stdout.split("\n", 2)
    assert int(code) == 1, err
    assert re.search(r"needs [\d.]+ GiB of memory to decode .*more than the limit of 1.0 GiB", err), err
    assert int(peak_kb) * 1024 < 400 << 20  # nothing like the GiBs it asks for was touched
    assert not (tmp_path / "hungry").exists()


def test_cli_info_prints_what_decoding_needs(tmp_path, packed):
    from click.testing import CliRunner

    from statesmix.cli import main

    f = tmp_path / "x.smx"
    f.write_bytes(packed)
    r = CliRunner().invoke(main, ["info", str(f)])
    assert r.exit_code == 0
    assert f"memory to decode {_need(packed)} bytes" in r.output
    r = CliRunner().invoke(main, ["decompress", "-M", "0", "-c", str(f)])  # 0: no limit
    assert r.exit_code == 0 and r.stdout_bytes == DATA


def test_parse_size():
    assert parse_size("1000") == 1000 and parse_size("64K") == 65536 and parse_size("16MiB") == 16 << 20
    assert parse_size("2g") == 2 << 30 and parse_size(" 3 GB ") == 3 << 30
    for bad in ("", "1.5G", "12Q", "-1"):
        with pytest.raises(ValueError):
            parse_size(bad)
    assert NO_LIMIT > api.DEFAULT_MEMORY_LIMIT
