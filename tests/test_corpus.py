"""bench/corpus.py's sets: what they hold, that the seeded files never change,
and that the library does not load the benchmark tooling."""

import hashlib
import json
import os
import subprocess
import sys

import pytest

from statesmix import corpus


def test_import_statesmix_leaves_the_tooling_out(tmp_path):
    # The child runs outside the checkout: from its root, "-c" would import
    # the source tree (no compiled extension) instead of the installed package.
    code = ("import sys, statesmix; print(sorted(m for m in sys.modules if m.startswith('statesmix.')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=tmp_path).stdout
    for tool in ("statesmix.benchmark", "statesmix.ablation", "statesmix.corpus"):
        assert repr(tool) not in loaded


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    out = tmp_path_factory.mktemp("mixed")
    notes = []
    records = corpus.build(corpus.MIXED, str(out), log=notes.append)
    return out, records, notes


def test_mixed_corpus_is_big_and_varied(mixed):
    out, records, notes = mixed
    names = {r["name"] for r in records}
    # what is generated from seeds is made on every machine
    seeded = {"shop.sqlite", "access.log", "syslog.log", "sales.csv", "melody.wav", "landscape.bmp"}
    assert seeded <= names and "python_stdlib.py" in names and "unicode.json" in names
    for r in records:
        with open(os.path.join(out, r["name"]), "rb") as f:
            blob = f.read()
        assert len(blob) == r["bytes"] > 100_000 and hashlib.sha256(blob).hexdigest() == r["sha256"]
    manifest = json.loads((out / corpus.MANIFEST).read_text())
    assert [f["name"] for f in manifest["files"]] == [r["name"] for r in records]
    with open(os.path.join(out, "shop.sqlite"), "rb") as f:
        assert f.read(16) == b"SQLite format 3\x00"
    with open(os.path.join(out, "stdlib_api.xml"), "rb") as f:
        import xml.etree.ElementTree as ET

        assert ET.parse(f).getroot().tag == "library"
    with open(os.path.join(out, "unicode.json"), "rb") as f:
        assert len(json.load(f)) > 1000
    if notes:  # a machine without C headers or translation catalogs makes fewer files
        pytest.skip("this machine lacks sources for: " + "; ".join(notes))
    assert len(records) >= 12 and sum(r["bytes"] for r in records) >= 12_000_000
    assert any(r["name"].endswith(".so") for r in records)
    with open(os.path.join(out, "messages_zh.txt"), "rb") as f:
        zh = f.read().decode("utf-8")
    assert sum("\u4e00" <= c <= "\u9fff" for c in zh) > 100_000


def test_seeded_files_are_the_same_every_time(mixed, tmp_path):
    _, records, _ = mixed
    again = corpus.build([e for e in corpus.MIXED if e.name in ("shop.sqlite", "access.log", "landscape.bmp")],
                         str(tmp_path))
    first = {r["name"]: r["sha256"] for r in records}
    assert all(first[r["name"]] == r["sha256"] for r in again)


def test_shapes_and_small_sets(tmp_path):
    notes = []
    shapes = {r["name"]: r for r in corpus.build(corpus.entries(["shapes"], ["zeros_1M", "acgt", "rulers",
                                                                             "random"]), str(tmp_path), log=notes.append)}
    assert shapes["zeros_1M"]["bytes"] == 1_000_000
    with open(tmp_path / "acgt_1M", "rb") as f:
        acgt = f.read()
    assert len(acgt) == 1_000_000 and set(acgt) == set(b"ACGT")
    with open(tmp_path / "log_rulers_1M", "rb") as f:
        assert max(len(line) for line in f) > 1000
    small = corpus.build(corpus.entries(["small"], ["source_"]), str(tmp_path / "small"))
    sizes = [r["bytes"] for r in small]
    assert sizes == corpus.SMALL_SIZES and 0 in sizes and 65536 in sizes and 1024 in sizes


def test_a_missing_source_is_skipped_with_a_note(tmp_path):
    notes = []
    src = corpus.Entry("needs_enwik8", "shapes", "-", lambda s: s.enwik8(10))
    records = corpus.build([src], str(tmp_path), enwik8=str(tmp_path / "absent"), log=notes.append)
    assert records == [] and "needs_enwik8 is skipped" in notes[0]


BENCH = os.path.join(os.path.dirname(__file__), "..", "bench")


def test_bench_scripts_write_and_tokenize_files(tmp_path):
    out = subprocess.run([sys.executable, os.path.join(BENCH, "corpus.py"), str(tmp_path), "--set", "shapes",
                          "--only", "dashes,random"], capture_output=True, text=True, check=True,
                         cwd=tmp_path).stdout
    assert "| dashes_1M | shapes | 1,000,000 |" in out and "| total: 2 files | | 1,300,000 |" in out
    out = subprocess.run([sys.executable, os.path.join(BENCH, "tokenize.py"), str(tmp_path / "dashes_1M"),
                          str(tmp_path / "random_300K")], capture_output=True, text=True, check=True,
                         cwd=tmp_path).stdout
    assert "| dashes_1M | 1,000,000 | 15,625 | 64.00 |" in out
    row = next(line for line in out.splitlines() if line.startswith("| random_300K |"))
    assert row.endswith("| ok |")


def test_an_only_part_in_no_file_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no file of shapes has 'acgtt' in its name; the files are enwik8_1M, "):
        corpus.entries(["shapes"], ["dashes", "acgtt"])
    with pytest.raises(SystemExit) as stop:
        corpus.main([str(tmp_path), "--set", "shapes", "--only", "dashes,acgtt"])
    assert stop.value.code == 2 and not (tmp_path / "dashes_1M").exists()


def test_bench_corpus_with_a_missing_data_file_is_an_error(tmp_path, capsys):
    missing = str(tmp_path / "nowhere" / "enwik8")
    with pytest.raises(SystemExit) as stop:
        corpus.main([str(tmp_path / "out"), "--set", "small", "--only", "enwik8_00100", "--data", missing])
    assert stop.value.code == 2
    assert capsys.readouterr().err == f"python bench/corpus.py: error: --data {missing}: no such file\n"
    assert not (tmp_path / "out").exists()


def test_a_missing_data_file_passed_is_named_in_the_note(tmp_path):
    notes = []
    src = corpus.Entry("needs_enwik8", "shapes", "-", lambda s: s.enwik8(10))
    corpus.build([src], str(tmp_path), enwik8=str(tmp_path / "absent"), log=notes.append)
    assert notes == [f"note: needs_enwik8 is skipped: {tmp_path / 'absent'} is not a file"]


def test_a_file_changed_on_disk_is_written_again(tmp_path):
    """Rebuilding reuses a file only if its bytes are the generated ones:
    one edited since (same size, same manifest) is rewritten."""
    entry = corpus.Entry("seeded.txt", "small", "-", lambda s: b"the generated bytes\n")
    first = corpus.build([entry], str(tmp_path))
    (tmp_path / "seeded.txt").write_bytes(b"the edited bytes!!\n\n")
    again = corpus.build([entry], str(tmp_path))
    assert (tmp_path / "seeded.txt").read_bytes() == b"the generated bytes\n"
    assert again[0]["sha256"] == first[0]["sha256"] == hashlib.sha256(b"the generated bytes\n").hexdigest()
