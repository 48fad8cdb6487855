"""The Dask path on a LocalCluster with two worker processes: the same bytes
as a local run with one thread, and back. Skipped when Dask is absent
(pip install '.[dask]', which .ci/run does)."""

import subprocess
import sys

import pytest

distributed = pytest.importorskip("distributed", reason="Dask is not installed: pip install '.[dask]'")

import statesmix  # noqa: E402
from statesmix import cluster  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cl = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    c = distributed.Client(cl)
    yield c
    c.close()
    cl.close()


@pytest.fixture(scope="module")
def data(text):
    return text[:30_000]


def test_same_bytes_as_local_one_thread(client, data):
    local = statesmix.compress(data, level=1, block_size=8192, threads=1)
    assert cluster.compress(client, data, level=1, block_size=8192) == local
    assert len(client.nthreads()) == 2  # two worker processes took part
    assert cluster.decompress(client, local) == data


def test_files_and_concatenated_streams(client, data, tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(data)
    b.write_bytes(data[:5000] * 2)
    outs = cluster.compress_files(client, [str(a), str(b)], level=1, block_size=4096)
    assert outs == [str(a) + ".smx", str(b) + ".smx"]
    assert (tmp_path / "a.txt.smx").read_bytes() == statesmix.compress(data, level=1, block_size=4096, threads=1)
    both = tmp_path / "both.smx"
    both.write_bytes((tmp_path / "a.txt.smx").read_bytes() + (tmp_path / "b.txt.smx").read_bytes())
    assert cluster.decompress_file(client, str(both)) == str(tmp_path / "both")
    assert (tmp_path / "both").read_bytes() == data + data[:5000] * 2


def test_corrupt_blocks_fail_cleanly_on_the_cluster(client, data):
    blob = bytearray(statesmix.compress(data, level=1, block_size=8192))
    blob[len(blob) // 2] ^= 0x10
    with pytest.raises(statesmix.StatesmixError):
        cluster.decompress(client, bytes(blob))


def test_memory_limit_is_checked_before_blocks_are_sent(client, data):
    blob = statesmix.compress(data, level=1, block_size=8192)
    with pytest.raises(statesmix.errors.MemoryLimitError):
        cluster.decompress(client, blob, memory_limit=1 << 20)


def test_cli_takes_a_scheduler_address(client, data, tmp_path):
    src = tmp_path / "c.txt"
    src.write_bytes(data)
    address = client.scheduler.address
    cli = [sys.executable, "-m", "statesmix.cli"]
    r = subprocess.run(cli + ["compress", "-l", "1", "-B", "8K", "--dask", address, str(src)],
                       capture_output=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    packed = (tmp_path / "c.txt.smx").read_bytes()
    assert packed == statesmix.compress(data, level=1, block_size=8192, threads=1)
    r = subprocess.run(cli + ["decompress", "-c", "--dask", address, str(tmp_path / "c.txt.smx")],
                       capture_output=True, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == data, r.stderr


def _sleep_then(seconds, value):
    import time

    time.sleep(seconds)
    return value


def test_waiting_in_short_slices_on_a_dask_future(client, monkeypatch):
    # The caller waits for a block in slices (so Ctrl-C is seen). Asking
    # distributed for result(timeout=...) in a loop raced with its own
    # timeout under load (CI: UnboundLocalError inside distributed's sync).
    # Very short slices make that race likely; the wait must not depend on it.
    from statesmix import _parallel

    monkeypatch.setattr(_parallel, "WAIT_SLICE", 0.001)
    slices = []
    futures = [client.submit(_sleep_then, 0.5, i, pure=False) for i in range(4)]
    assert [_parallel.wait(f, on_wait=lambda: slices.append(1)) for f in futures] == [0, 1, 2, 3]
    assert len(slices) > 10  # it did wait in slices, calling back between them


def test_a_bare_suffix_has_no_name_to_give_the_output(tmp_path):
    # "dir/.smx" would have been decompressed into "dir/", as the CLI once did
    from statesmix.errors import ArgumentValueError

    for src in (".smx", str(tmp_path / ".smx")):
        with pytest.raises(ArgumentValueError, match="no .smx suffix"):
            cluster.decompress_file(None, src)
