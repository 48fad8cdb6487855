"""One Compressor, Decompressor or file used from several threads at once:
the calls run one after the other, as on lzma's objects, so every byte a
call accepted is in the stream once and every byte handed out is the next
one. Without that, two compress() calls took the same block and the next
was lost, in a stream that still decoded."""

import os
import sys
import threading

import pytest

import statesmix

BS = 4096


@pytest.fixture(autouse=True)
def switch_often():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)  # the interpreter switches threads within the calls, not between them
    yield
    sys.setswitchinterval(old)


def _run(workers):
    errors = []

    def guarded(fn):
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a thread hangs"
    return errors


def _pieces(blob: bytes, n: int):
    return sorted(blob[i : i + n] for i in range(0, len(blob), n))


@pytest.mark.parametrize("round", range(4))
def test_two_threads_compressing_into_one_compressor(round):
    chunks = [os.urandom(BS) for _ in range(8)]
    c = statesmix.Compressor(1, block_size=BS, threads=2)
    outs, lock = [], threading.Lock()
    start = threading.Barrier(2)

    def feed(mine):
        start.wait()
        for chunk in mine:
            out = c.compress(chunk)
            with lock:
                outs.append(out)

    assert _run([lambda: feed(chunks[0::2]), lambda: feed(chunks[1::2])]) == []
    # the calls' outputs may be collected out of order, but the stream is
    # whole: each chunk once (the header comes first whichever call sent it)
    packed = c.flush()
    body = b"".join(sorted(outs, key=lambda o: not o.startswith(b"SMX")))
    data = statesmix.decompress(body + packed)
    assert _pieces(data, BS) == sorted(chunks)


@pytest.mark.parametrize("round", range(4))
def test_flush_racing_compress_loses_nothing_it_accepted(round):
    chunks = [os.urandom(BS // 2) for _ in range(6)]
    c = statesmix.Compressor(1, block_size=BS, threads=2)
    accepted, outs, lock = [], {}, threading.Lock()

    def feed():
        for i, chunk in enumerate(chunks):
            try:
                out = c.compress(chunk)
            except ValueError:  # flushed meanwhile: refused, as lzma refuses it
                return
            with lock:
                accepted.append(chunk)
                outs[i] = out

    def finish():
        out = c.flush()
        with lock:
            outs["end"] = out

    assert _run([feed, finish]) == []
    # compress calls return in order on one thread, and flush's output ends the stream
    blob = b"".join(outs[i] for i in range(len(chunks)) if i in outs) + outs["end"]
    assert statesmix.decompress(blob) == b"".join(accepted)


@pytest.mark.parametrize("threads", [1, 2])
def test_two_threads_draining_one_decompressor(threads):
    # random bytes (stored frames), then text the model codes, each line once
    data = os.urandom(6 * BS) + b"".join(b"%06d\n" % i for i in range(5000))
    packed = statesmix.compress(data, 1, block_size=BS)
    d = statesmix.Decompressor(threads=threads)
    got, lock = [], threading.Lock()
    polled = []

    def drain():
        while not d.eof:
            try:
                piece = d.decompress(b"", max_length=1000)
            except EOFError:  # the other thread reached the end between the check and the call
                return
            with lock:
                got.append(piece)

    def feed():
        for i in range(0, len(packed), 2000):
            piece = d.decompress(packed[i : i + 2000], max_length=1000)
            with lock:
                got.append(piece)
        drain()

    def poll():
        while not d.eof:
            polled.append(d.needs_input)  # an attribute: it never raises

    assert _run([feed, drain, poll]) == []
    # the pieces handed out, whichever thread collected them, tile the data
    assert _tiles(data, [p for p in got if p])


def _tiles(data: bytes, pieces) -> bool:
    """Whether the pieces, each used once, laid end to end in some order, are data."""
    left = sorted(pieces)

    def from_(pos: int) -> bool:
        if pos == len(data):
            return not left
        for i, p in enumerate(left):
            if (i == 0 or p != left[i - 1]) and data.startswith(p, pos):
                del left[i]
                if from_(pos + len(p)):
                    return True
                left.insert(i, p)
        return False

    return from_(0)


def test_two_threads_writing_one_file(tmp_path):
    chunks = [os.urandom(BS) for _ in range(8)]
    path = tmp_path / "shared.smx"
    with statesmix.open(path, "wb", level=1, block_size=BS, threads=2) as f:
        assert _run([lambda: [f.write(c) for c in chunks[0::2]], lambda: [f.write(c) for c in chunks[1::2]]]) == []
    assert _pieces(statesmix.decompress(path.read_bytes()), BS) == sorted(chunks)


def test_a_call_from_inside_a_call_is_refused():
    # a progress callback that feeds its own compressor would wait for itself
    seen = []

    def progress(*_):
        if not seen:
            try:
                c.compress(b"again")
            except RuntimeError as exc:
                seen.append(exc)

    c = statesmix.Compressor(1, block_size=BS, threads=1, progress=progress)
    blob = c.compress(os.urandom(BS)) + c.flush()
    assert seen and "inside another call" in str(seen[0])
    # a deliberate refusal: a StatesmixError, as README promises of every one
    assert isinstance(seen[0], statesmix.StatesmixError)
    assert len(statesmix.decompress(blob)) == BS
