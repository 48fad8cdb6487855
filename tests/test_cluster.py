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


def test_a_bare_suffix_has_no_name_to_give_the_output(client, tmp_path):
    # "dir/.smx" would have been decompressed into "dir/", as the CLI once did
    from statesmix.errors import ArgumentValueError

    for src in (".smx", str(tmp_path / ".smx")):
        with pytest.raises(ArgumentValueError, match="no .smx suffix"):
            cluster.decompress_file(client, src)


def test_progress_counts_the_blocks_that_come_back(client, data):
    # the frames are coded on the workers, whose on_frame calls never reach
    # this process: the blocks are counted as they return
    calls, local_calls = [], []
    z = cluster.compressor(client, 1, block_size=8192, progress=lambda *a: calls.append(a))
    packed = z.compress(data) + z.flush()
    local = statesmix.Compressor(1, block_size=8192, threads=1, progress=lambda *a: local_calls.append(a))
    assert packed == local.compress(data) + local.flush()
    assert calls[-1] == local_calls[-1]  # the same totals as the frames' own counts
    assert calls[-1][:2] == (len(data), None) and z.tokens == local.tokens > 0
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)


def test_decompress_progress_counts_the_blocks_that_come_back(client, data):
    from statesmix import api

    packed = statesmix.compress(data, level=1, block_size=8192)
    calls, local_calls = [], []
    assert b"".join(cluster.decompress_chunks(client, [packed], progress=lambda *a: calls.append(a))) == data
    assert b"".join(api.decompress_chunks([packed], threads=1, progress=lambda *a: local_calls.append(a))) == data
    assert calls[-1] == local_calls[-1] and calls[-1][:2] == (len(data), None)  # the frames' own totals


def test_one_shot_and_file_calls_report_progress(client, data, tmp_path):
    # as statesmix.compress(progress=): the last call has every byte done, of the input's size
    calls, local_calls = [], []
    packed = cluster.compress(client, data, 1, block_size=8192, progress=lambda *a: calls.append(a))
    assert packed == statesmix.compress(data, 1, block_size=8192, threads=1, progress=lambda *a: local_calls.append(a))
    assert calls[-1] == local_calls[-1] and calls[-1][:2] == (len(data), len(data))
    back = []
    assert cluster.decompress(client, packed, progress=lambda *a: back.append(a)) == data
    assert back[-1][:2] == (len(data), None)
    src = tmp_path / "a.txt"
    src.write_bytes(data)
    file_calls, file_back = [], []
    out = cluster.compress_file(client, src, level=1, block_size=8192, progress=lambda *a: file_calls.append(a))
    assert file_calls[-1] == calls[-1]
    src.unlink()
    assert cluster.decompress_file(client, out, progress=lambda *a: file_back.append(a)) == str(src)
    assert src.read_bytes() == data and file_back[-1] == back[-1]


@pytest.mark.parametrize("bad", ["tcp://127.0.0.1:1", None, object()])
def test_a_client_that_is_not_one_is_refused_before_any_work(bad, data, tmp_path):
    from statesmix.errors import ArgumentTypeError

    src = tmp_path / "in.txt"
    src.write_bytes(data)
    for call in (lambda: cluster.compress(bad, b"", 1), lambda: cluster.compress(bad, data, 1, block_size=8192),
                 lambda: cluster.compressor(bad, 1), lambda: cluster.decompress(bad, statesmix.compress(b"abc")),
                 lambda: cluster.compress_file(bad, str(src)),
                 lambda: cluster.decompress_file(bad, str(src) + ".smx")):
        with pytest.raises(ArgumentTypeError, match="Client"):
            call()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


def test_a_closed_client_is_refused(client, data):
    from statesmix.errors import ArgumentValueError

    other = distributed.Client(client.scheduler.address)
    other.close()
    with pytest.raises(ArgumentValueError, match="closed"):
        cluster.compress(other, b"", 1)
    with pytest.raises(ArgumentValueError, match="closed"):
        cluster.decompress(other, statesmix.compress(data[:100], level=1))


def test_in_flight_is_checked_when_asked_for(client):
    from statesmix.errors import ArgumentTypeError, ArgumentValueError

    for bad, error in (("2", ArgumentTypeError), (True, ArgumentTypeError), (2.0, ArgumentTypeError),
                       (0, ArgumentValueError), (-5, ArgumentValueError)):
        with pytest.raises(error, match="in_flight"):
            cluster.compressor(client, 1, in_flight=bad)
        with pytest.raises(error, match="in_flight"):
            cluster.decompress_chunks(client, [], in_flight=bad)


@pytest.mark.parametrize("address", ["notanaddress", "tcp://host:notaport"])
def test_cli_a_malformed_address_is_a_usage_error(address, data, tmp_path):
    src = tmp_path / "in.txt"
    src.write_bytes(data[:1000])
    r = subprocess.run([sys.executable, "-m", "statesmix.cli", "compress", "-l", "1", "--dask", address, str(src)],
                       capture_output=True, cwd=tmp_path, timeout=60)
    assert r.returncode == 2
    assert r.stderr.decode().splitlines() == [
        f"statesmix: invalid Dask scheduler address {address!r}: " + r.stderr.decode().split(": ", 2)[2].rstrip()]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


def test_cli_a_missing_input_is_named_before_the_scheduler_is_tried(tmp_path):
    # nothing listens at port 1: connecting would wait for its 30 s timeout
    r = subprocess.run([sys.executable, "-m", "statesmix.cli", "compress", "--dask", "tcp://127.0.0.1:1",
                        str(tmp_path / "missing.txt")], capture_output=True, cwd=tmp_path, timeout=25)
    assert r.returncode == 1
    assert r.stderr.decode().strip() == f"statesmix: {tmp_path / 'missing.txt'}: No such file or directory"


def test_blocks_with_the_same_bytes(client):
    # Scattered by content hash, equal blocks shared one key on the cluster:
    # releasing the first block's copy took the next one's input with it
    # ("lost dependencies"), and the scheduler's state broke with it.
    import random

    block = random.Random(5).randbytes(4096)  # incompressible: stored, so quick
    data = block * 40
    packed = statesmix.compress(data, level=1, block_size=4096, threads=1)
    for _ in range(3):
        assert cluster.compress(client, data, level=1, block_size=4096) == packed
        assert cluster.decompress(client, packed) == data


def test_paths_may_be_path_objects_or_bytes(client, data, tmp_path):
    # as open(), lzma.open() and statesmix.open() take them
    src = tmp_path / "p.txt"
    src.write_bytes(data[:3000])
    assert cluster.compress_file(client, src, level=1) == str(src) + ".smx"
    assert cluster.compress_file(client, bytes(src), tmp_path / "q.smx", level=1) == str(tmp_path / "q.smx")
    assert cluster.decompress_file(client, tmp_path / "q.smx") == str(tmp_path / "q")
    assert cluster.decompress_file(client, str(src).encode() + b".smx", tmp_path / "r") == str(tmp_path / "r")
    assert (tmp_path / "q").read_bytes() == (tmp_path / "r").read_bytes() == data[:3000]


@pytest.mark.parametrize("bad", [None, 3.5, ["p.txt"]])
def test_a_path_that_is_not_one_is_refused_before_any_work(client, data, tmp_path, bad):
    from statesmix.errors import ArgumentTypeError

    src = tmp_path / "p.txt"
    src.write_bytes(data[:3000])
    packed = tmp_path / "p.txt.smx"
    packed.write_bytes(statesmix.compress(data[:3000], level=1))
    for call in (lambda: cluster.compress_file(client, bad), lambda: cluster.decompress_file(client, bad),
                 lambda: cluster.compress_file(client, str(src), bad if bad is not None else 3.5),
                 lambda: cluster.decompress_file(client, str(packed), bad if bad is not None else 3.5)):
        with pytest.raises(ArgumentTypeError, match="src|dst"):
            call()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.txt", "p.txt.smx"]


def test_a_list_of_files_is_checked_before_the_first_file(client, data, tmp_path, monkeypatch):
    # one name is not a list of names: "p.txt" was taken as "p", ".", "t", ...
    from statesmix.errors import ArgumentTypeError

    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.txt").write_bytes(data[:3000])
    (tmp_path / "q.txt.smx").write_bytes(statesmix.compress(data[:3000], level=1))
    for files, name in ((cluster.compress_files, "p.txt"), (cluster.decompress_files, "q.txt.smx")):
        for bad in (name, name.encode(), tmp_path / name, 5, [name, None]):
            with pytest.raises(ArgumentTypeError, match="path"):
                files(client, bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.txt", "q.txt.smx"]


def _set_format(version):
    from statesmix import container

    container.FORMAT_VERSION = version


def test_a_worker_at_another_format_is_an_error_not_a_bad_file(client, data):
    # a worker's blocks follow its own level table; under this client's
    # stream header, another format's blocks made a file that does not decode
    from statesmix.container import FORMAT_VERSION

    blob = statesmix.compress(data[:3000], level=1)
    client.run(_set_format, FORMAT_VERSION - 1)
    try:
        with pytest.raises(statesmix.StatesmixError, match="same statesmix version on every worker"):
            cluster.compress(client, data[:3000], level=1)
        with pytest.raises(statesmix.StatesmixError, match="same statesmix version on every worker"):
            cluster.decompress(client, blob)
    finally:
        client.run(_set_format, FORMAT_VERSION)
    assert cluster.compress(client, data[:3000], level=1) == blob


def test_the_cluster_api_has_type_hints():
    import inspect
    import typing

    for name in ("compressor", "compress", "decompress", "decompress_chunks", "compress_file", "decompress_file",
                 "compress_files", "decompress_files"):
        fn = getattr(cluster, name)
        typing.get_type_hints(fn)
        sig = inspect.signature(fn)
        assert sig.return_annotation is not sig.empty, name
        for p in sig.parameters.values():
            assert p.kind == p.VAR_KEYWORD or p.annotation is not p.empty, (name, p.name)
