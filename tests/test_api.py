"""statesmix.compress / statesmix.decompress."""

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

import statesmix
from statesmix import StatesmixError


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"a",
        b"\x00",
        b"\x00" * 1000,
        bytes(range(256)),
        b"\xff\xfe\xfd invalid utf-8 \xc3\x28 \xa0\xa1",
        "h\u00e9llo w\u00f6rld \u2603 \U0001f600".encode("utf-8") * 50,
        os.urandom(3000),
        b"abc" * 5000,
    ],
    ids=["empty", "one", "nul", "nuls", "all-bytes", "bad-utf8", "utf8", "random", "repeats"],
)
def test_roundtrip_edge_cases(data):
    blob = statesmix.compress(data, level=1)
    assert statesmix.decompress(blob) == data


def test_roundtrip_text_and_it_compresses(text):
    blob = statesmix.compress(text)
    assert statesmix.decompress(blob) == text
    assert len(blob) < len(text) * 0.4


@given(st.binary(max_size=2000))
def test_roundtrip_any_bytes(data):
    assert statesmix.decompress(statesmix.compress(data, level=1)) == data


@given(st.text(max_size=800))
def test_roundtrip_any_text(s):
    data = s.encode("utf-8", "surrogatepass")
    assert statesmix.decompress(statesmix.compress(data, level=1)) == data


def test_accepts_bytes_like():
    data = b"bytes-like input " * 20
    assert statesmix.decompress(statesmix.compress(bytearray(data), level=1)) == data
    assert statesmix.decompress(statesmix.compress(memoryview(data), level=1)) == data


def test_rejects_non_bytes():
    with pytest.raises(TypeError):
        statesmix.compress("text is not bytes")


@pytest.mark.parametrize("level", [0, 10, -1, "6", 2.5, True])
def test_invalid_level(level):
    with pytest.raises(StatesmixError, match="level"):
        statesmix.compress(b"x", level=level)


def test_every_level_roundtrips():
    data = b"every level must decode without being told the level. " * 30
    for level in range(statesmix.MIN_LEVEL, statesmix.MAX_LEVEL + 1):
        assert statesmix.decompress(statesmix.compress(data, level=level)) == data


def test_concatenated_streams():
    a, b = b"first stream " * 10, b"second stream " * 10
    assert statesmix.decompress(statesmix.compress(a, level=1) + statesmix.compress(b, level=1)) == a + b


def test_errors_derive_from_one_class():
    assert issubclass(StatesmixError, Exception)
    with pytest.raises(StatesmixError):
        statesmix.decompress(b"definitely not compressed")


@pytest.mark.parametrize("size", [0, 1, 5000, 12_000])
def test_progress_ends_with_a_call_at_the_whole_input(size):
    # a progress bar is told the work is done, also when there was none
    data = os.urandom(size)  # stored: quick
    calls = []
    blob = statesmix.compress(data, level=1, block_size=4096, threads=2, progress=lambda *a: calls.append(a))
    assert calls and calls[-1][:2] == (size, size)
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)
    calls.clear()
    c = statesmix.Compressor(1, block_size=4096, threads=2, progress=lambda *a: calls.append(a))
    assert c.compress(data) + c.flush() == blob
    assert calls and calls[-1][:2] == (size, None)


def _unannotated(fn):
    """The parameters of fn without a type hint ("->" for its result);
    typing.get_type_hints must also resolve every hint it has."""
    import inspect
    import typing

    typing.get_type_hints(fn)
    sig = inspect.signature(fn)
    missing = [p.name for p in sig.parameters.values()
               if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.annotation is p.empty]
    return missing + (["->"] if sig.return_annotation is sig.empty else [])


def test_the_public_api_has_type_hints():
    import inspect

    missing = {}
    for name in statesmix.__all__:
        obj = getattr(statesmix, name)
        members = [(name, obj)] if not inspect.isclass(obj) else [
            (f"{name}.{k}", v.fget if isinstance(v, property) else v) for k, v in vars(obj).items()
            if (k == "__init__" or not k.startswith("_")) and (callable(v) or isinstance(v, property))]
        for label, fn in members:
            if callable(fn) and _unannotated(fn):
                missing[label] = _unannotated(fn)
    assert missing == {}


def test_help_describes_every_public_function_and_method():
    import inspect

    undocumented = []
    for name in statesmix.__all__:
        obj = getattr(statesmix, name)
        if not inspect.isclass(obj):
            if callable(obj) and not inspect.getdoc(obj):
                undocumented.append(name)
            continue
        for k, v in vars(obj).items():
            if not k.startswith("_") and (callable(v) or isinstance(v, property)):
                if not inspect.getdoc(v if isinstance(v, property) else getattr(obj, k)):
                    undocumented.append(f"{name}.{k}")
    assert undocumented == []
