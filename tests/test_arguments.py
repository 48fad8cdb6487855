"""Every entry point checks all its arguments before any side effect: a call
that raises has created, truncated, written or consumed nothing."""

import io

import pytest

import statesmix
from statesmix import StatesmixError
from statesmix.errors import ArgumentTypeError, ArgumentValueError

PRECIOUS = b"precious bytes that a typo must never destroy\n"

# (keyword arguments, the error they must raise) for a file opened for writing
BAD_WRITE = [
    (dict(level=10), ValueError),
    (dict(level=0), ValueError),
    (dict(level="6"), TypeError),
    (dict(level=True), TypeError),
    (dict(block_size=12), ValueError),
    (dict(block_size=2.5), TypeError),
    (dict(threads=-1), ValueError),
    (dict(threads="2"), TypeError),
    (dict(threads=2**31), ValueError),  # more than the C engine's int holds
    (dict(memory_limit=1 << 30), ValueError),  # a memory limit is for reading
    (dict(memory_limit=-5), ValueError),
]
BAD_TEXT = [
    (dict(encoding="no-such-codec"), LookupError),
    (dict(encoding="hex"), LookupError),  # a codec, but not a text encoding
    (dict(encoding="rot13"), LookupError),
    (dict(encoding=5), TypeError),
    (dict(errors=5), TypeError),
    (dict(errors="str\0ict"), ValueError),  # refused by io.TextIOWrapper, which comes after the file
    (dict(errors="\udcff"), ValueError),  # a lone surrogate: UnicodeEncodeError
    (dict(newline="x"), ValueError),
]
BAD_BINARY = [
    (dict(encoding="utf-8"), ValueError),
    (dict(errors="strict"), ValueError),
    (dict(newline="\n"), ValueError),
]


def _cases():
    for mode in ("wb", "ab", "xb", "wt"):
        bad = BAD_WRITE + (BAD_TEXT if "t" in mode else BAD_BINARY)
        for kwargs, error in bad:
            yield pytest.param("open", mode, kwargs, error, id=f"open-{mode}-{kwargs}")
    for mode in ("wbb", "w+", "wt+", ""):
        yield pytest.param("open", mode, {}, ValueError, id=f"open-mode-{mode!r}")
    yield pytest.param("open", 3, {}, TypeError, id="open-mode-int")
    for mode in ("w", "a", "x"):
        for kwargs, error in BAD_WRITE:
            yield pytest.param("file", mode, kwargs, error, id=f"file-{mode}-{kwargs}")
    for mode in ("wt", "w+", "wbb", 3):
        yield pytest.param("file", mode, {}, ValueError, id=f"file-mode-{mode!r}")


def _call(how, path, mode, kwargs):
    if how == "open":
        return statesmix.open(path, mode, **kwargs)
    return statesmix.StatesmixFile(path, mode, **kwargs)


@pytest.mark.parametrize("how, mode, kwargs, error", list(_cases()))
def test_invalid_arguments_leave_an_existing_file_unchanged(tmp_path, how, mode, kwargs, error):
    path = tmp_path / "notes.smx"
    path.write_bytes(PRECIOUS)
    with pytest.raises(error):
        _call(how, path, mode, kwargs)
    assert path.read_bytes() == PRECIOUS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.smx"]


@pytest.mark.parametrize("how, mode, kwargs, error", list(_cases()))
def test_invalid_arguments_create_no_file(tmp_path, how, mode, kwargs, error):
    path = tmp_path / "new.smx"
    with pytest.raises(error):
        _call(how, path, mode, kwargs)
    assert not path.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kwargs", [dict(level=3), dict(block_size=1 << 20), dict(memory_limit=0),
                                    dict(memory_limit="1G"), dict(threads=-2)])
def test_invalid_read_arguments_read_nothing(kwargs):
    src = io.BytesIO(statesmix.compress(b"data", level=1))
    with pytest.raises((ValueError, TypeError)):
        statesmix.open(src, "rb", **kwargs)
    assert src.tell() == 0


def test_a_caller_file_object_is_not_written_on_bad_arguments():
    dst = io.BytesIO(PRECIOUS)
    with pytest.raises(ValueError):
        statesmix.open(dst, "wb", level=11)
    assert dst.getvalue() == PRECIOUS and dst.tell() == 0


def test_errors_are_typed_like_lzma_and_all_statesmix_errors():
    for call, types in [
        (lambda: statesmix.compress(b"x", level=10), (ArgumentValueError, ValueError)),
        (lambda: statesmix.compress(b"x", level="9"), (ArgumentTypeError, TypeError)),
        (lambda: statesmix.compress("text"), (ArgumentTypeError, TypeError)),
        (lambda: statesmix.Compressor(block_size=1), (ValueError,)),
        (lambda: statesmix.Decompressor(threads=-1), (ValueError,)),
        (lambda: statesmix.Decompressor(memory_limit=0), (ValueError,)),
        (lambda: statesmix.decompress(b"x", memory_limit=1.5), (TypeError,)),
        (lambda: statesmix.decompress(statesmix.compress(b"abc" * 100, level=1)[:-3]), (EOFError,)),
    ]:
        with pytest.raises(StatesmixError) as info:
            call()
        assert isinstance(info.value, types), (info.value, types)
        assert str(info.value)


def test_compressor_survives_a_bad_chunk():
    c = statesmix.Compressor(level=1)
    out = c.compress(b"first ")
    for bad in ("text", None, 12):
        with pytest.raises(TypeError):
            c.compress(bad)
    out += c.compress(b"second")
    assert statesmix.decompress(out + c.flush()) == b"first second"


def test_decompressor_consumes_nothing_on_bad_arguments():
    blob = statesmix.compress(b"payload " * 50, level=1)
    d = statesmix.Decompressor()
    for kwargs in (dict(max_length="10"), dict(max_length=2.0), dict(max_length=None)):
        with pytest.raises(TypeError):
            d.decompress(blob, **kwargs)
    assert d.needs_input and not d.eof
    assert d.decompress(blob) == b"payload " * 50


def test_one_shot_functions_check_everything_first():
    blob = statesmix.compress(b"abc", level=1)
    for kwargs in (dict(threads=-1), dict(memory_limit=-1), dict(threads=1.0), dict(threads=2**31)):
        with pytest.raises(StatesmixError):
            statesmix.decompress(blob, **kwargs)
    for kwargs in (dict(block_size=100), dict(threads=-1), dict(progress=5), dict(threads=2**31)):
        with pytest.raises(StatesmixError):
            statesmix.compress(b"abc", **kwargs)
