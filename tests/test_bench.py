"""The benchmark harness on a tiny input, so it does not rot."""

import json
import shutil

import pytest

from statesmix import benchmark


def test_harness_tiny_input(tmp_path, capsys, text):
    data = tmp_path / "tiny"
    data.write_bytes(text[:12_000])
    out = tmp_path / "results"
    code = benchmark.main([
        "--data", str(data), "--sizes", "5000,all", "--levels", "1", "--runs", "1",
        "--out", str(out), "--extra", "copy=cat {in} > {out}", "cat {in} > {out}",
    ])
    assert code == 0
    table = capsys.readouterr().out
    assert "| 12,000 | statesmix -1 |" in table and "| 5,000 | copy |" in table
    report = json.loads((out / "results.json").read_text())
    assert report["machine"]["cores"] >= 1 and report["machine"]["statesmix_isa"] in ("avx2", "scalar")
    rows = report["results"]
    names = {r["compressor"] for r in rows}
    assert {"statesmix -1", "copy"} <= names
    if shutil.which("xz"):
        assert "xz -9e" in names
    for r in rows:
        assert r["roundtrip"] and r["bytes"] > 0 and r["compress_s"] > 0 and r["compress_peak_mb"] > 0
    smx = [r for r in rows if r["compressor"] == "statesmix -1"]
    assert all(r["tokens"] > 0 and r["tokens_per_s"] > 0 for r in smx)
    copy = [r for r in rows if r["compressor"] == "copy"]
    assert all(r["bytes"] == r["input_bytes"] for r in copy)  # cat really measured, not faked


def test_thread_scaling_compares_identical_outputs(tmp_path, capsys, text):
    data = tmp_path / "tiny"
    data.write_bytes(text[:8_000])
    code = benchmark.main(["--data", str(data), "--sizes", "all", "--levels", "1", "--no-baselines",
                           "-T", "2", "--also-threads", "1", "--out", str(tmp_path / "r")])
    assert code == 0
    out = capsys.readouterr().out
    assert "| 8,000 | statesmix -1 -T1 |" in out
    row = [line for line in out.splitlines() if line.startswith("| 8,000 | 1 |")]
    assert len(row) == 1 and row[0].rstrip().endswith("| yes |")


def test_missing_data_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(benchmark, "DEFAULT_DATA_NAME", "no_such_file_here")
    with pytest.raises(SystemExit, match="shared/data"):
        benchmark.find_data(None)


def test_sizes_include_large_prefixes_only_for_large_data(tmp_path):
    small = tmp_path / "small"
    small.write_bytes(b"x" * 2_000_000)
    assert benchmark.choose_sizes(None, str(small)) == [1_000_000, 2_000_000]
    assert benchmark.choose_sizes("1000,all", str(small)) == [1000, 2_000_000]
    with pytest.raises(SystemExit, match="fewer than"):
        benchmark.choose_sizes("3000000", str(small))


def test_ablation_rows_are_real_files(tmp_path, capsys, text):
    data = tmp_path / "small"
    data.write_bytes(text[:30_000])
    code = benchmark.main(["--ablation", "--data", str(data), "--size", "20000", "-l", "1"])
    assert code == 0
    table = capsys.readouterr().out
    from statesmix.ablation import VARIANTS

    rows = [line for line in table.splitlines() if line.startswith("| ") and "configuration" not in line]
    assert len(rows) == len(VARIANTS)
    sizes = {}
    for v, line in zip(VARIANTS, rows):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0] == v.name and cells[-1] == "exact"
        sizes[v.name] = int(cells[1].replace(",", ""))
    # the components are really switched: the full level beats the SSM alone
    assert sizes["+ the match model read bit by bit (= the level)"] < sizes["SSM alone"]
    assert len(set(sizes.values())) > 3


def test_ablation_runs_chosen_rows(tmp_path, capsys, text):
    data = tmp_path / "small"
    data.write_bytes(text[:30_000])
    code = benchmark.main(["--ablation", "--data", str(data), "--size", "20000", "-l", "1", "--only", "ssm,frozen"])
    assert code == 0
    rows = [line for line in capsys.readouterr().out.splitlines()
            if line.startswith("| ") and "configuration" not in line]
    assert [r.split("|")[1].strip() for r in rows] == [
        "SSM alone", "the level with the SSM frozen at its initial weights"]
