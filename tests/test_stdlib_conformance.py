"""One set of behaviours, run against Python's lzma and against statesmix.

Modelled on what CPython's own test_lzma and test_bz2 check: the one-shot
functions, the incremental Compressor/Decompressor, the file object, open().
Every test runs for both backends, so any difference shows; the few that
statesmix keeps on purpose are the tests named ``test_departure_*``, each
of which checks both sides and is listed in README.md's API section.
"""

import array
import io
import lzma
import os
import pickle
import sys
from dataclasses import dataclass
from typing import Any, Callable

import pytest

import statesmix

INPUT = b"".join(b"line %d of the conformance input, with some words to compress\n" % i for i in range(400))


@dataclass
class Backend:
    name: str
    module: Any
    File: type
    Compressor: Callable
    Decompressor: Callable
    Error: type  # what the module raises for bad data (LZMAError, StatesmixError)
    write_kw: dict  # keyword arguments that make writing fast
    level_kw: str  # the name of the compression level argument
    memlimit_kw: str

    def compress(self, data: bytes) -> bytes:
        return self.module.compress(data, **self.write_kw)

    def open(self, target, mode="rb", **kw):
        if isinstance(mode, str) and mode[:1] in ("w", "a", "x") and self.level_kw not in kw:
            kw = {**self.write_kw, **kw}
        return self.module.open(target, mode, **kw)

    def file(self, target, mode="r", **kw):
        if isinstance(mode, str) and mode[:1] in ("w", "a", "x") and self.level_kw not in kw:
            kw = {**self.write_kw, **kw}
        return self.File(target, mode, **kw)


BACKENDS = {
    "lzma": Backend("lzma", lzma, lzma.LZMAFile, lzma.LZMACompressor, lzma.LZMADecompressor, lzma.LZMAError,
                    {}, "preset", "memlimit"),
    "statesmix": Backend("statesmix", statesmix, statesmix.StatesmixFile,
                         lambda **kw: statesmix.Compressor(**{"level": 1, **kw}), statesmix.Decompressor,
                         statesmix.StatesmixError, {"level": 1}, "level", "memory_limit"),
}
_COMPRESSED = {}


@pytest.fixture(params=sorted(BACKENDS))
def be(request) -> Backend:
    return BACKENDS[request.param]


@pytest.fixture
def packed(be) -> bytes:
    if be.name not in _COMPRESSED:
        _COMPRESSED[be.name] = be.compress(INPUT)
    return _COMPRESSED[be.name]


def _needs_313(be):
    if be.name == "lzma" and sys.version_info < (3, 13):
        pytest.skip("LZMAFile has name and mode from Python 3.13 on")


# -- one-shot functions -----------------------------------------------------------
def test_roundtrip(be, packed):
    assert be.module.decompress(packed) == INPUT
    assert be.module.decompress(be.compress(b"")) == b""
    assert be.module.decompress(be.compress(bytearray(b"abc"))) == b"abc"
    assert be.module.decompress(memoryview(packed)) == INPUT


def test_bad_args(be):
    with pytest.raises(TypeError):
        be.module.compress()
    with pytest.raises(TypeError):
        be.module.compress([])
    with pytest.raises(TypeError):
        be.module.compress("text")
    with pytest.raises(TypeError):
        be.module.decompress()
    with pytest.raises(TypeError):
        be.module.decompress([])
    with pytest.raises(TypeError):
        be.module.decompress(b"", **{be.memlimit_kw: 7.3e9})


def test_bad_level(be):
    with pytest.raises(be.Error):
        be.module.compress(b"x", **{be.level_kw: 10})
    with pytest.raises(TypeError):
        be.module.compress(b"x", **{be.level_kw: "blah"})


def test_level_none_means_the_default(be):
    data = b"the default level, asked for by None " * 3
    kw = {be.level_kw: None}
    assert be.module.decompress(be.module.compress(data, **kw)) == data
    c = be.Compressor(**kw)
    assert be.module.decompress(c.compress(data) + c.flush()) == data


def test_decompress_incomplete_input(be, packed):
    with pytest.raises(be.Error):
        be.module.decompress(packed[: len(packed) // 2])
    with pytest.raises(be.Error):
        be.module.decompress(b"")


def test_decompress_bad_input(be):
    with pytest.raises(be.Error):
        be.module.decompress(b"this is not compressed data at all" * 10)


def test_decompress_multistream(be, packed):
    assert be.module.decompress(packed + packed) == INPUT * 2


def test_decompress_memlimit(be, packed):
    with pytest.raises(be.Error):
        be.module.decompress(packed, **{be.memlimit_kw: 1024})


# -- Compressor / Decompressor ------------------------------------------------------
def test_compressor_after_flush(be):
    c = be.Compressor()
    with pytest.raises(TypeError):
        c.compress()
    with pytest.raises(TypeError):
        c.compress(b"foo", b"bar")
    with pytest.raises(TypeError):
        c.flush(b"blah")
    c.compress(b"quux")
    c.flush()
    with pytest.raises(ValueError):
        c.compress(b"quux")
    with pytest.raises(ValueError):
        c.flush()


def test_compressor_chunks(be):
    c = be.Compressor()
    out = b"".join(c.compress(INPUT[i : i + 1000]) for i in range(0, len(INPUT), 1000)) + c.flush()
    assert be.module.decompress(out) == INPUT


def test_decompressor_after_eof(be, packed):
    d = be.Decompressor()
    assert not d.eof and d.needs_input and d.unused_data == b""
    assert d.decompress(packed) == INPUT
    assert d.eof
    with pytest.raises(EOFError):
        d.decompress(b"nyan")


def test_decompressor_unused_data(be, packed):
    d = be.Decompressor()
    assert d.decompress(packed + b"fooblibar") == INPUT
    assert d.eof and d.unused_data == b"fooblibar"


def test_decompressor_chunks_maxsize(be, packed):
    d = be.Decompressor()
    out = []
    while not d.eof:
        if d.needs_input:
            chunk, packed = packed[:100], packed[100:]
        else:
            chunk = b""
        piece = d.decompress(chunk, max_length=500)
        assert len(piece) <= 500
        out.append(piece)
    assert b"".join(out) == INPUT


def test_decompressor_at_the_end_with_exactly_max_length(be, packed):
    """A call whose max_length is exactly what is left sees the end of the
    stream in the same call, as lzma does, rather than on the next."""
    d = be.Decompressor()
    assert d.decompress(packed, max_length=len(INPUT)) == INPUT
    assert d.eof and not d.needs_input
    d = be.Decompressor()
    assert d.decompress(packed + b"more", max_length=len(INPUT)) == INPUT
    assert d.eof and d.unused_data == b"more"


def test_decompressor_bad_args_do_not_swallow_data(be, packed):
    d = be.Decompressor()
    with pytest.raises(TypeError):
        d.decompress()
    with pytest.raises(TypeError):
        d.decompress(packed, max_length="all")
    with pytest.raises(TypeError):
        d.decompress("text")
    assert d.decompress(packed) == INPUT  # nothing was consumed by the failed calls


def test_decompressor_max_length_takes_any_integer_like(be, packed):
    class Five:
        def __index__(self):
            return 5

    assert be.Decompressor().decompress(packed, max_length=Five()) == INPUT[:5]


def test_decompressor_needs_input_never_raises(be):
    # a plain attribute in lzma: reading it in an error handler or a loop is safe
    d = be.Decompressor()
    with pytest.raises(be.Error):
        d.decompress(b"garbage!garbage!" * 4)
    assert d.needs_input is True
    d = be.Decompressor()
    assert d.decompress(b"garbage!garbage!" * 4, max_length=0) == b""
    assert d.needs_input is False  # there is work to do: the step that will fail


def test_non_contiguous_buffers_are_refused_and_nothing_is_lost(be, packed):
    # a strided view (a numpy slice a[::2] is one) is not a bytes-like
    # argument; refusing it leaves the compressor, decompressor or file usable
    strided = memoryview(b"abcdefgh")[::2]
    with pytest.raises(BufferError):
        be.compress(strided)
    with pytest.raises(BufferError):
        be.module.decompress(memoryview(packed + packed)[::2])
    d = be.Decompressor()
    with pytest.raises(BufferError):
        d.decompress(memoryview(packed + packed)[::2])
    assert d.decompress(packed) == INPUT
    c = be.Compressor()
    head = c.compress(INPUT)
    with pytest.raises(BufferError):
        c.compress(strided)
    assert be.module.decompress(head + c.compress(b"tail") + c.flush()) == INPUT + b"tail"
    with io.BytesIO() as dst:
        with be.file(dst, "w") as f:
            f.write(INPUT)
            with pytest.raises(BufferError):
                f.write(strided)
            f.write(b"tail")
        assert be.module.decompress(dst.getvalue()) == INPUT + b"tail"


def test_empty_buffers_of_any_shape_are_empty_input(be, packed):
    # a zero-size array (numpy.zeros((0, 3))) is a bytes-like object of no bytes
    import numpy

    for empty in (numpy.zeros((0, 3)), numpy.zeros((3, 0), dtype=numpy.uint8)):
        assert be.module.decompress(be.compress(empty)) == b""
        c = be.Compressor()
        assert be.module.decompress(c.compress(empty) + c.compress(INPUT) + c.flush()) == INPUT
        d = be.Decompressor()
        assert d.decompress(empty) == b"" and d.needs_input
        assert d.decompress(packed) == INPUT
        with io.BytesIO() as dst:
            with be.file(dst, "w") as f:
                assert f.write(empty) == 0
            assert be.module.decompress(dst.getvalue()) == b""

def test_decompressor_bad_input(be):
    with pytest.raises(be.Error):
        be.Decompressor().decompress(b"this is not compressed data at all" * 10)


def test_decompressor_memlimit(be, packed):
    with pytest.raises(TypeError):
        be.Decompressor(**{be.memlimit_kw: b"qw"})
    with pytest.raises(be.Error):
        be.Decompressor(**{be.memlimit_kw: 1024}).decompress(packed)


def test_pickle(be):
    for obj in (be.Compressor(), be.Decompressor()):
        with pytest.raises(TypeError):
            pickle.dumps(obj)


# -- the file object -------------------------------------------------------------------
def test_init_modes(be, tmp_path, packed):
    path = tmp_path / "f"
    path.write_bytes(packed)
    for mode in ("r", "rb"):
        with be.file(path, mode) as f:
            assert f.read() == INPUT
    for mode in ("w", "wb", "a", "ab"):
        with be.file(path, mode):
            pass


def test_init_with_x_mode(be, tmp_path):
    path = tmp_path / "x"
    for mode in ("x", "xb"):
        if path.exists():
            path.unlink()
        with be.file(path, mode) as f:
            pass
        with pytest.raises(FileExistsError):
            be.file(path, mode)
        if be.name == "statesmix" or sys.version_info >= (3, 13):
            assert f.mode == "wb"


@pytest.mark.parametrize("mode", [(3, "x"), "", "xt", "x+", "rx", "wx", "rt", "r+", "wt", "w+", "rw", "rbb", "wbb"])
def test_init_bad_mode(be, mode, packed):
    with pytest.raises(ValueError):
        be.file(io.BytesIO(packed), mode)


def test_init_bad_level(be):
    with pytest.raises(TypeError):
        be.file(io.BytesIO(), "w", **{be.level_kw: 4.39})
    with pytest.raises(be.Error):
        be.file(io.BytesIO(), "w", **{be.level_kw: 10})
    with pytest.raises(ValueError):  # a level when reading
        be.file(io.BytesIO(b""), "r", **{be.level_kw: 3})


def test_bad_target(be):
    with pytest.raises(TypeError):
        be.file(12.5, "r")


def test_close(be, tmp_path, packed):
    src = io.BytesIO(packed)
    f = be.file(src)
    f.close()
    assert not src.closed  # a caller's file object stays open
    f.close()
    path = tmp_path / "c"
    path.write_bytes(packed)
    f = be.file(path)
    fp = f._fp
    f.close()
    assert fp.closed
    f.close()


@pytest.mark.parametrize("mode", ["r", "w"])
def test_closed_file(be, mode, packed):
    f = be.file(io.BytesIO(packed) if mode == "r" else io.BytesIO(), mode)
    assert f.closed is False
    f.close()
    assert f.closed is True
    for method in ("readable", "writable", "seekable", "fileno", "tell"):
        with pytest.raises(ValueError):
            getattr(f, method)()
    with pytest.raises(ValueError):
        f.read()
    with pytest.raises(ValueError):
        f.write(b"x")
    with pytest.raises(ValueError):
        f.seek(0)


def test_fileno(be, tmp_path, packed):
    f = be.file(io.BytesIO(packed))
    with pytest.raises(io.UnsupportedOperation):
        f.fileno()
    f.close()
    path = tmp_path / "n"
    path.write_bytes(packed)
    with be.file(path) as f:
        assert f.fileno() == f._fp.fileno()


def test_seekable_readable_writable(be, packed):
    with be.file(io.BytesIO(packed)) as f:
        assert f.seekable() is True and f.readable() is True and f.writable() is False
        f.read()
        assert f.seekable() is True
    with be.file(io.BytesIO(), "w") as f:
        assert f.seekable() is False and f.readable() is False and f.writable() is True
    src = io.BytesIO(packed)
    src.seekable = lambda: False
    with be.file(src) as f:
        assert f.seekable() is False


def test_name_and_mode(be, tmp_path, packed):
    _needs_313(be)
    path = tmp_path / "named"
    path.write_bytes(packed)
    with be.file(str(path)) as f:
        assert f.read() == INPUT
        assert f.name == str(path) and f.mode == "rb"
    with pytest.raises(ValueError):
        f.name
    assert f.mode == "rb"
    with open(path, "rb") as raw, be.file(raw) as f:
        assert f.name == raw.name and f.fileno() == raw.fileno()
    with be.file(bytes(path), "rb") as f:
        assert f.name == bytes(path)
    with be.file(io.BytesIO(packed)) as f, pytest.raises(AttributeError):
        f.name  # BytesIO has no name
    with be.open(path, "ab") as f:
        assert f.mode == "wb" and f.name == str(path)
    assert f.mode == "wb"  # also once closed


def test_read(be, packed):
    with be.file(io.BytesIO(packed)) as f:
        assert f.read(0) == b""
        assert f.read(10) == INPUT[:10]
        assert f.read() == INPUT[10:]
        assert f.read() == b""


def test_read_multistream(be, packed):
    with be.file(io.BytesIO(packed * 3)) as f:
        assert f.read() == INPUT * 3


def test_read_truncated(be, packed):
    with be.file(io.BytesIO(packed[:-12])) as f:
        with pytest.raises(EOFError):
            f.read()
    for i in range(6):  # inside the stream header
        with be.file(io.BytesIO(packed[:i])) as f:
            with pytest.raises(EOFError):
                f.read(1)


def test_read_an_empty_file_is_truncated_however_it_is_read(be):
    for how in (lambda f: f.read(), lambda f: f.seek(0, io.SEEK_END), lambda f: (f.seek(100), f.read())):
        with be.file(io.BytesIO(b"")) as f, pytest.raises(EOFError):
            how(f)


def test_read_from_an_object_that_only_reads(be, packed):
    class OnlyRead:  # a network body, a custom reader: read() and nothing else
        def __init__(self, data):
            self._f = io.BytesIO(data)

        def read(self, n=-1):
            return self._f.read(n)

    with be.file(OnlyRead(packed)) as f:
        assert f.read() == INPUT
    with be.open(OnlyRead(packed)) as f:
        assert f.read() == INPUT


def test_read_bad_data(be):
    with be.file(io.BytesIO(b"this is not compressed data at all" * 10)) as f:
        with pytest.raises(be.Error):
            f.read()


def test_read_bad_args(be, packed):
    with be.file(io.BytesIO(), "w") as f:
        with pytest.raises(ValueError):
            f.read()
    with be.file(io.BytesIO(packed)) as f:
        with pytest.raises(TypeError):
            f.read(float())


def test_read1_peek_readline_iteration(be, packed):
    with be.file(io.BytesIO(packed)) as f:
        assert f.read1(0) == b""
        pieces = []
        while piece := f.read1(100):
            pieces.append(piece)
        assert b"".join(pieces) == INPUT
    with be.file(io.BytesIO(packed)) as f:
        assert INPUT.startswith(f.peek())
        assert f.readline() == INPUT.splitlines(True)[0]
        assert list(f) == INPUT.splitlines(True)[1:]
    with be.file(io.BytesIO(packed)) as f:
        assert f.readlines() == INPUT.splitlines(True)


def test_write(be):
    with io.BytesIO() as dst:
        with be.file(dst, "w") as f:
            assert f.write(INPUT) == len(INPUT)
            assert f.tell() == len(INPUT)
        assert be.module.decompress(dst.getvalue()) == INPUT


def test_write_append(be):
    with io.BytesIO() as dst:
        with be.file(dst, "w") as f:
            f.write(INPUT)
        with be.file(dst, "a") as f:
            f.write(INPUT)
        assert be.module.decompress(dst.getvalue()) == INPUT * 2


def test_write_bad_args(be, packed):
    with be.file(io.BytesIO(packed)) as f:
        with pytest.raises(ValueError):
            f.write(b"bar")
    with be.file(io.BytesIO(), "w") as f:
        for bad in (None, "text", 789):
            with pytest.raises(TypeError):
                f.write(bad)


def test_writelines_and_arrays(be):
    with io.BytesIO() as dst:
        with be.file(dst, "w") as f:
            f.writelines(INPUT.splitlines(True))
            q = array.array("Q", [1, 2, 3, 4, 5])
            assert f.write(q) == len(q) * q.itemsize
        assert be.module.decompress(dst.getvalue()) == INPUT + q.tobytes()


@pytest.mark.parametrize("ops, want", [
    ([("seek", 555, 0)], INPUT[555:]),
    ([("read", 100), ("seek", 1236, 1)], INPUT[1336:]),
    ([("seek", -555, 2)], INPUT[-555:]),
    ([("read", 1001), ("seek", 211, 0)], INPUT[211:]),
    ([("seek", len(INPUT) + 9001, 0)], b""),
    ([("seek", -88, 0)], INPUT),
])
def test_seek(be, packed, ops, want):
    with be.file(io.BytesIO(packed)) as f:
        for op in ops:
            getattr(f, op[0])(*op[1:])
        assert f.read() == want


def test_seek_across_streams(be, packed):
    with be.file(io.BytesIO(packed * 2)) as f:
        f.seek(len(INPUT) + 123)
        assert f.read() == INPUT[123:]
        f.seek(737)
        assert f.read() == INPUT[737:] + INPUT
        assert f.tell() == 2 * len(INPUT)


def test_seek_bad_args(be, packed):
    with be.file(io.BytesIO(), "w") as f:
        with pytest.raises(ValueError):
            f.seek(0)
    with be.file(io.BytesIO(packed)) as f:
        with pytest.raises(ValueError):
            f.seek(0, 3)
        with pytest.raises((TypeError, ValueError)):
            f.seek(9, ())
        with pytest.raises(TypeError):
            f.seek(None)
        with pytest.raises(TypeError):
            f.seek(b"derp")


def test_tell(be, packed):
    with be.file(io.BytesIO(packed)) as f:
        pos = 0
        while piece := f.read(183):
            pos += len(piece)
            assert f.tell() == pos
        assert f.tell() == len(INPUT)


# -- open() ------------------------------------------------------------------------
def test_open_binary_and_text_modes(be, packed):
    with be.open(io.BytesIO(packed), "rb") as f:
        assert f.read() == INPUT
    with be.open(io.BytesIO(packed), "rt", encoding="ascii") as f:
        assert f.read() == INPUT.decode("ascii")
    with io.BytesIO() as bio:
        with be.open(bio, "wt", encoding="utf-16-le", newline="\n") as f:
            f.write(INPUT.decode())
        with be.open(bio, "at", encoding="utf-16-le", newline="\n") as f:
            f.write("more")
        assert be.module.decompress(bio.getvalue()).decode("utf-16-le") == INPUT.decode() + "more"


def test_open_encoding_error_handler(be):
    with be.open(io.BytesIO(be.compress(b"foo\xffbar")), "rt", encoding="ascii", errors="ignore") as f:
        assert f.read() == "foobar"


def test_open_newline(be):
    text = INPUT.decode("ascii")
    with io.BytesIO() as bio:
        with be.open(bio, "wt", encoding="ascii", newline="\n") as f:
            f.write(text)
        bio.seek(0)
        with be.open(bio, "rt", encoding="ascii", newline="\r") as f:
            assert f.readlines() == [text]


def test_open_bad_params(be, tmp_path):
    path = tmp_path / "never"
    for mode in ("", "rbt", "rbb", "r+b", "wbb"):
        with pytest.raises(ValueError):
            be.open(path, mode)
    with pytest.raises(ValueError):
        be.open(path, "rb", encoding="utf-8")
    with pytest.raises(ValueError):
        be.open(path, "rb", errors="ignore")
    with pytest.raises(ValueError):
        be.open(path, "rb", newline="\n")
    with pytest.raises(TypeError):
        be.open(path, 3)
    assert not path.exists()


def test_open_x_mode(be, tmp_path):
    path = tmp_path / "x"
    for mode in ("x", "xb", "xt"):
        if path.exists():
            path.unlink()
        with be.open(path, mode, encoding="ascii" if "t" in mode else None):
            pass
        with pytest.raises(FileExistsError):
            be.open(path, mode)


def test_open_pathlike_and_bytes_names(be, tmp_path):
    path = tmp_path / "p"
    with be.open(path, "wb") as f:
        f.write(INPUT)
    with be.open(os.fsencode(path), "rb") as f:
        assert f.read() == INPUT


# -- what statesmix does differently, on purpose (README.md, API section) -------------
def test_departure_trailing_garbage_is_an_error(be, packed):
    # lzma drops anything after the last stream that is not a stream;
    # statesmix reports it: a damaged second stream would otherwise vanish.
    if be.name == "lzma":
        assert be.module.decompress(packed + b"garbage" * 3) == INPUT
        with be.file(io.BytesIO(packed + b"garbage" * 3)) as f:
            assert f.read() == INPUT
    else:
        with pytest.raises(be.Error, match="trailing"):
            be.module.decompress(packed + b"garbage" * 3)
        with be.file(io.BytesIO(packed + b"garbage" * 3)) as f, pytest.raises(be.Error, match="trailing"):
            f.read()


def test_departure_bad_encoding_is_found_before_the_file_is_opened(be, tmp_path):
    # Both raise LookupError; lzma has replaced the file with an empty stream by then.
    path = tmp_path / "keep"
    path.write_bytes(b"precious")
    with pytest.raises(LookupError):
        be.open(path, "wt", encoding="no-such-codec")
    if be.name == "lzma":
        assert lzma.decompress(path.read_bytes()) == b""
    else:
        assert path.read_bytes() == b"precious"


def test_departure_no_check_attribute(be):
    # LZMADecompressor.check names the integrity check of the stream;
    # statesmix always checks CRC-32 of every frame and has no choice to report.
    assert hasattr(be.Decompressor(), "check") == (be.name == "lzma")


def test_departure_repeated_t_in_text_modes(be, tmp_path, packed):
    # lzma.open drops every "t" before checking the mode, so "rtt" reads
    # text; statesmix accepts exactly "rt", "wt", "xt" and "at".
    path = tmp_path / "t"
    path.write_bytes(packed)
    if be.name == "lzma":
        with be.open(path, "rtt") as f:
            assert f.read() == INPUT.decode()
    else:
        with pytest.raises(ValueError):
            be.open(path, "rtt")
