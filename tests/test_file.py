"""statesmix.open and StatesmixFile: file objects in binary and text modes."""

import io
import subprocess
import sys
import tarfile

import pytest

import statesmix
from statesmix import StatesmixError


def test_binary_roundtrip_with_path(tmp_path):
    p = tmp_path / "f.smx"
    with statesmix.open(p, "wb", level=1) as f:
        assert f.write(b"hello ") == 6
        f.write(memoryview(b"world\n" * 100))
    with statesmix.open(p, "rb") as f:
        assert f.read(6) == b"hello "
        assert f.peek(1)[:1] == b"w"
        buf = bytearray(5)
        assert f.readinto(buf) == 5 and bytes(buf) == b"world"
        assert f.read() == b"\n" + b"world\n" * 99
        assert f.read() == b""
    assert statesmix.decompress(p.read_bytes()) == b"hello " + b"world\n" * 100


def test_file_objects_and_line_iteration():
    raw = io.BytesIO()
    with statesmix.open(raw, "wb", level=1) as f:
        for i in range(300):
            f.write(b"line %d\n" % i)
    assert not raw.closed  # a caller's file object stays open
    raw.seek(0)
    with statesmix.open(raw, "rb") as f:
        lines = list(f)
    assert lines == [b"line %d\n" % i for i in range(300)]


def test_text_mode(tmp_path):
    p = tmp_path / "t.smx"
    text = "caf\u00e9 \u2603\nsecond line\r\nthird\n"
    with statesmix.open(p, "wt", encoding="utf-8", newline="", level=1) as f:
        f.write(text)
    with statesmix.open(p, "rt", encoding="utf-8", newline="") as f:
        assert f.read() == text
    with statesmix.open(p, "rt", encoding="utf-8") as f:
        assert f.readlines() == ["caf\u00e9 \u2603\n", "second line\n", "third\n"]


def test_seek_and_tell(tmp_path):
    p = tmp_path / "s.smx"
    data = bytes(range(256)) * 40
    p.write_bytes(statesmix.compress(data, level=1))
    with statesmix.open(p) as f:
        f.seek(1000)
        assert f.tell() == 1000 and f.read(4) == data[1000:1004]
        f.seek(10)
        assert f.read(3) == data[10:13]
        f.seek(-5, io.SEEK_END)
        assert f.read() == data[-5:]


def test_tarfile_writes_and_reads_through_it(tmp_path):
    p = tmp_path / "archive.tar.smx"
    members = {"a.txt": b"alpha " * 200, "dir/b.bin": bytes(range(256)) * 3}
    with statesmix.open(p, "wb", level=1) as f, tarfile.open(fileobj=f, mode="w|") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    with statesmix.open(p, "rb") as f, tarfile.open(fileobj=f, mode="r:") as tar:
        got = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    assert got == members


def test_errors(tmp_path):
    p = tmp_path / "bad.smx"
    p.write_bytes(statesmix.compress(b"x" * 500, level=1)[:-6])
    with statesmix.open(p) as f, pytest.raises(StatesmixError, match="truncated"):
        f.read()
    with pytest.raises(ValueError):
        statesmix.open(p, "rb", encoding="utf-8")
    with pytest.raises(ValueError):
        statesmix.open(p, "rtb")
    with statesmix.open(p) as f, pytest.raises(io.UnsupportedOperation):
        f.write(b"x")
    f = statesmix.open(tmp_path / "w.smx", "wb", level=1)
    f.close()
    with pytest.raises(ValueError, match="closed"):
        f.write(b"x")
    assert statesmix.decompress((tmp_path / "w.smx").read_bytes()) == b""


class _ShortReads(io.RawIOBase):
    """A seekable raw file that returns at most 3 bytes a read, as RawIOBase.read may."""

    def __init__(self, data):
        self._f = io.BytesIO(data)

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=io.SEEK_SET):
        return self._f.seek(offset, whence)

    def tell(self):
        return self._f.tell()

    def readinto(self, b):
        piece = self._f.read(min(3, len(b)))
        b[: len(piece)] = piece
        return len(piece)


def test_seek_through_a_file_object_that_returns_short_reads():
    data = bytes(range(256)) * 40
    blob = statesmix.compress(data, level=1, block_size=4096)
    with statesmix.open(_ShortReads(blob)) as f:
        assert f.seek(0, io.SEEK_END) == len(data)
        f.seek(9000)
        assert f.read(100) == data[9000:9100]
        assert f._reader.raw._index() is not None  # the index was read: the seek skipped blocks


def test_an_interrupted_write_is_reported_as_itself(monkeypatch):
    # Ctrl-C (or any error) while a block is coded ends the stream; closing
    # the file on the way out of `with` must not replace the KeyboardInterrupt
    # with a StatesmixError saying that the compressor failed earlier.
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(statesmix.blocks, "encode_block", interrupted)
    dst = io.BytesIO()
    with pytest.raises(KeyboardInterrupt):
        with statesmix.open(dst, "wb", level=1, block_size=4096, threads=1) as f:
            f.write(b"x" * 10000)
    assert f.closed and not dst.closed
    f.close()


def test_a_bad_whence_is_a_statesmix_value_error():
    # ValueError as lzma raises, and a StatesmixError as README.md promises
    # for every error statesmix raises on purpose; the file goes on
    with statesmix.open(io.BytesIO(statesmix.compress(b"abcdef", level=1))) as f:
        assert f.read(2) == b"ab"
        with pytest.raises(StatesmixError, match="whence") as info:
            f.seek(0, 3)
        assert isinstance(info.value, ValueError)
        assert f.read() == b"cdef"


@pytest.mark.parametrize("closing, threads", [("", 1), ("", 2), ("atexit.register(f.close)", 1)])
def test_a_file_closed_as_python_exits_is_complete(tmp_path, closing, threads):
    # As with lzma and gzip, a file left open, or closed by an atexit handler,
    # is finished when the interpreter exits, which by then has stopped every
    # thread pool: its last block is coded all the same.
    path = tmp_path / "exit.smx"
    script = (f"import atexit, statesmix\n"
              f"f = statesmix.open({str(path)!r}, 'wb', level=1, block_size=4096, threads={threads})\n"
              f"{closing}\n"
              f"f.write(b'hello world ' * 1000)\n")
    # cwd: outside the source tree, so the child imports the installed package
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300, cwd=tmp_path)
    assert statesmix.decompress(path.read_bytes()) == b"hello world " * 1000
