"""The benchmark harness on a tiny input, so it does not rot."""

import importlib.util
import json
import shutil
import subprocess
import sys

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
    for module, tools in (("zpaq", {"zpaq -m4", "zpaq -m5"}), ("pyppmd", {"PPMd o6", "PPMd o8"})):
        if importlib.util.find_spec(module):
            assert tools <= names
    if {"zpaq -m5", "xz -9e"} <= names:  # every row is a ratio to both, each 1 against itself
        assert "| 12,000 | zpaq -m5 |" in table
        zpaq_row = next(line for line in table.splitlines() if line.startswith("| 12,000 | zpaq -m5 |"))
        xz_row = next(line for line in table.splitlines() if line.startswith("| 12,000 | xz -9e |"))
        assert zpaq_row.split("|")[6].strip() == "1.000" and xz_row.split("|")[5].strip() == "1.000"
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
    sizes, blocks = {}, {}
    for v, line in zip(VARIANTS, rows):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0] == v.name and cells[-1] == "exact"
        sizes[v.name] = int(cells[1].replace(",", ""))
        blocks[v.name] = int(cells[2].replace(",", ""))
    # the components are really switched: the full level beats the SSM alone
    level = "+ the match model read bit by bit (= the level)"
    assert sizes[level] < sizes["SSM alone"]
    assert len(set(sizes.values())) > 3
    # the level's own parameters are not stored; every row that changes them
    # stores them (the 256-id row changes the tokenizer, not the parameters)
    assert blocks[level] == 0
    assert all(blocks[v.name] > 0 for v in VARIANTS if v.vocab_size is None and v.name != level)


def test_ablation_runs_chosen_rows(tmp_path, capsys, text):
    data = tmp_path / "small"
    data.write_bytes(text[:30_000])
    code = benchmark.main(["--ablation", "--data", str(data), "--size", "20000", "-l", "1", "--only", "ssm,frozen"])
    assert code == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "configuration" not in line]
    assert [r.split("|")[1].strip() for r in rows] == [
        "SSM alone", "the level with the SSM frozen at its initial weights"]
    assert "Training the SSM saves" not in out  # needs the level's row too


def test_ablation_ssm_worth_leaves_the_parameter_block_out(tmp_path, capsys, text):
    """The frozen row stores its parameters; what training the SSM saves is
    measured on the files less those blocks."""
    data = tmp_path / "small"
    data.write_bytes(text[:30_000])
    code = benchmark.main(["--ablation", "--data", str(data), "--size", "20000", "-l", "1",
                           "--only", "bitmatch,frozen"])
    assert code == 0
    out = capsys.readouterr().out
    cells = [[c.strip() for c in line.strip("|").split("|")]
             for line in out.splitlines() if line.startswith("| ") and "configuration" not in line]
    (level, level_block), (frozen, frozen_block) = [
        (int(c[1].replace(",", "")), int(c[2].replace(",", ""))) for c in cells]
    assert level_block == 0 and frozen_block > 0
    saves = (1 - level / (frozen - frozen_block)) * 100
    assert f"Training the SSM saves {saves:.2f}%: {level:,} bytes against {frozen - frozen_block:,}" in out


def test_params_bytes_counts_the_stored_block(text):
    from statesmix.ablation import params_bytes
    from statesmix.api import _compress
    from statesmix.container import varint

    data = text[:20_000]
    assert params_bytes(_compress(data, 1, 1)) == 0
    seen = []
    frozen = _compress(data, 1, 1, adjust=lambda p: seen.append(p.replace(lr=0.0)) or seen[-1])
    stored = seen[0].to_bytes()
    assert params_bytes(frozen) == len(varint(len(stored))) + len(stored)


def test_set_mode_on_tiny_files(tmp_path, capsys):
    """--shapes on a few files cut to 2,000 bytes: per-file rows, the table of
    bytes per file, the totals against zpaq -m5 and xz, the JSON."""
    out = tmp_path / "r"
    code = benchmark.main(["--shapes", "--only", "dashes,acgt,random", "--max-bytes", "2000", "-l", "1",
                           "--runs", "1", "--corpus-dir", str(tmp_path / "files"), "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    for name in ("dashes_1M", "acgt_1M", "random_300K"):
        assert f"| {name} | statesmix -1 |" in text
    report = json.loads((out / "results-shapes.json").read_text())
    assert [f["name"] for f in report["files"]] == ["dashes_1M", "acgt_1M", "random_300K"]
    rows = report["results"]
    assert all(r["input_bytes"] == 2000 and r["roundtrip"] and r["error"] is None for r in rows)
    names = list(dict.fromkeys(r["compressor"] for r in rows))
    assert names[-1] == "statesmix -1"
    totals = {line.split("|")[1].strip(): line for line in text.splitlines()
              if line.startswith("| ") and line.count("|") == 11 and "compressor" not in line}
    smx = [c.strip() for c in totals["statesmix -1"].strip("|").split("|")]
    mine = [r["bytes"] for r in rows if r["compressor"] == "statesmix -1"]
    assert smx[1] == "3" and smx[2] == f"{sum(mine):,}" and smx[-1] == "all ok"
    if "zpaq -m5" in names:
        zpaq = sum(r["bytes"] for r in rows if r["compressor"] == "zpaq -m5")
        assert smx[3] == f"{sum(mine) / zpaq:.3f}"
    if "xz -9e" in names:
        xz = [r["bytes"] for r in rows if r["compressor"] == "xz -9e"]
        assert smx[4] == f"{sum(mine) / sum(xz):.3f}" and smx[6] == str(sum(a > b for a, b in zip(mine, xz)))
    header = next(line for line in text.splitlines() if line.startswith("| file | bytes |"))
    assert all(n in header for n in names)


def test_missing_baseline_is_left_out_with_a_note(monkeypatch, capsys):
    monkeypatch.setattr(benchmark, "_installed", lambda what, kind: what != "zpaq")
    names = [t.name for t in benchmark.baseline_tools(benchmark.SET_BASELINES)]
    assert "zpaq -m5" not in names and "xz -9e" in names and "PPMd o8" in names
    assert "zpaq is not installed (pip install 'statesmix[bench]')" in capsys.readouterr().err


def test_chart_stacks_the_statesmix_labels_of_equal_points_slowest_lowest():
    def row(name, kb_per_s):
        return benchmark.Result(name, 1000, 200, 1.6, 1.0, 1.0, kb_per_s, kb_per_s, 1.0, 1.0, True, 1)

    shown = [row("xz -9e", 1700.0), row("statesmix -6", 59.8), row("zpaq -m5", 380.0),
             row("statesmix -9", 30.4), row("statesmix -1", 61.6)]
    # -9 is the slowest, then -6, then -1: each label one step above the last
    assert benchmark.label_rises(shown) == [3, 13, 3, 3, 23]
    assert benchmark.label_rises([]) == []


def test_chart_stacks_any_crowded_labels_lowest_point_lowest():
    def row(name, kb_per_s, bpb):
        return benchmark.Result(name, 1000, 200, bpb, 1.0, 1.0, kb_per_s, kb_per_s, 1.0, 1.0, True, 1)

    # PPMd's two orders at 4.15 MB: o8 slower but higher, so its label goes above o6's;
    # xz and zstd are as close in speed but 0.07 bpb apart, and zpaq is alone
    shown = [row("PPMd o8", 4926.1, 2.019), row("PPMd o6", 5392.6, 1.997), row("xz -9e", 1956.2, 2.254),
             row("zstd --ultra -22", 1783.9, 2.316), row("zpaq -m5", 372.1, 1.745)]
    assert benchmark.label_rises(shown) == [13, 3, 3, 3, 3]
    # a group is whatever is close to any member: a chain of three stacks as one
    chain = [row("a", 100.0, 1.60), row("b", 250.0, 1.62), row("c", 600.0, 1.64)]
    assert benchmark.label_rises(chain) == [3, 13, 23]


def test_a_stuck_compressor_is_killed_and_reported(tmp_path, capsys, text):
    data = tmp_path / "tiny"
    data.write_bytes(text[:1000])
    code = benchmark.main(["--data", str(data), "--sizes", "all", "-l", "1", "--no-baselines", "--timeout", "2",
                           "--out", str(tmp_path / "r"), "--extra", "stuck=sleep 60; cat {in} > {out}",
                           "cat {in} > {out}"])
    assert code == 1
    table = capsys.readouterr().out
    assert "| 1,000 | stuck | - |" in table and "FAILED: timed out after 2 s" in table
    assert "| 1,000 | statesmix -1 |" in table  # the run went on


def test_ssm_profile_counts_self_samples_by_thread():
    """bench/ssm_profile.py: the training thread counts whole but for its
    waiting, the coding thread only in the SSM's kernels; kernels the token
    mixture and the binary mixer share (max, exp_sum, dot) do not count there."""
    from conftest import load_bench_module

    prof = load_bench_module("ssm_profile")
    coder = ["11 7f00 head_forward_avx2"] * 30 + ["11 7f01 scan_scalar"] * 10 + ["11 7f02 smx_softmax"] * 5 \
        + ["11 7f03 exp_sum_avx2"] * 7 + ["11 7f04 dot_avx2"] * 8 + ["11 7f05 smx_ctxmap_predict"] * 40
    worker = ["12 7f06 smx_model_backward"] * 50 + ["12 7f07 dot_avx2"] * 20 + ["12 7f08 worker_main"] * 15
    prefault = ["13 7f09 clear_page_erms"] * 10
    share = prof.ssm_share(coder + worker + prefault + ["", "14 7f0a"])
    assert share.samples == 196
    assert share.waiting == 15
    assert share.ssm == 30 + 10 + 5 + 50 + 20
    assert share.of_all == pytest.approx(115 / 196)
    assert share.of_work == pytest.approx(115 / 181)


def test_ssm_worth_table_sets_each_row_against_the_one_above():
    """bench/ssm_worth.py: the last column is the worth on the new bytes only."""
    from conftest import load_bench_module

    worth = load_bench_module("ssm_worth")
    out = worth.table([worth.Point(100, 90, 100), worth.Point(300, 250, 300)])
    assert out.splitlines()[2:] == ["| 100 | 90 | 100 | 10.00% | 10.00% |",
                                    "| 300 | 250 | 300 | 16.67% | 20.00% |"]


def test_ssm_worth_measures_the_files_less_their_parameter_blocks(tmp_path, capsys, text):
    """Both runs of each prefix are the files `_compress` writes, the frozen
    one less the parameter block it stores; every file decodes back."""
    from conftest import load_bench_module
    from statesmix.ablation import params_bytes
    from statesmix.api import _compress

    worth = load_bench_module("ssm_worth")
    data = tmp_path / "sample"
    data.write_bytes(text[:12_000])
    assert worth.main([str(data), "--sizes", "12000,5000", "-l", "1", "-T", "1", "--check"]) == 0
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in capsys.readouterr().out.splitlines()[2:]]
    assert [c[0] for c in cells] == ["5,000", "12,000"]
    for c, size in zip(cells, (5_000, 12_000)):
        trained = _compress(text[:size], 1, 1)
        frozen = _compress(text[:size], 1, 1, adjust=lambda p: p.replace(lr=0.0))
        assert params_bytes(trained) == 0 and params_bytes(frozen) > 0
        assert int(c[1].replace(",", "")) == len(trained)
        assert int(c[2].replace(",", "")) == len(frozen) - params_bytes(frozen)


def test_ablation_table_sets_the_last_rows_against_the_level():
    """Rows switching components on compare with the row above; the rows
    that change one thing in the full level compare with the level; both
    without the parameter blocks."""
    from statesmix.ablation import LEVEL_KEY, Row, table

    rows = [Row("ssm", "SSM alone", 1_010, 10, 1.0, True),
            Row(LEVEL_KEY, "the level", 900, 0, 1.0, True),
            Row("frozen", "frozen", 1_010, 10, 1.0, True),
            Row("no-ngrams", "no n-grams", 955, 10, 1.0, True)]
    changes = [line.split("|")[5].strip() for line in table(rows, 8_000).splitlines()[2:]]
    assert changes == ["", "-10.00%", "+11.11%", "+5.00%"]


def test_a_compressor_that_writes_much_to_stderr_is_not_held_up(tmp_path, capsys, text):
    """More on stderr than a pipe holds (64 KB) neither blocks the child nor
    counts against it: the row is measured, well within the time limit."""
    data = tmp_path / "tiny"
    data.write_bytes(text[:1000])
    code = benchmark.main(["--data", str(data), "--sizes", "all", "-l", "1", "--no-baselines", "--timeout", "5",
                           "--out", str(tmp_path / "r"), "--extra",
                           "chatty=yes 'progress: still going' | head -c 200000 >&2; cat {in} > {out}",
                           "cat {in} > {out}"])
    table = capsys.readouterr().out
    assert code == 0, table
    row = next(line for line in table.splitlines() if line.startswith("| 1,000 | chatty |"))
    assert row.endswith("| ok |")


def test_a_failed_row_keeps_the_reason_on_one_line(tmp_path, capsys, text):
    """The end of a failing child's stderr is what says why: the FAILED row
    keeps it, on one line, with the pipes in the command escaped."""
    import re

    data = tmp_path / "tiny"
    data.write_bytes(text[:1000])
    code = benchmark.main(["--data", str(data), "--sizes", "all", "-l", "1", "--no-baselines",
                           "--out", str(tmp_path / "r"), "--extra",
                           "broken=seq 3000 | sed 's/^/warning: line /' >&2; echo 'cannot map the input' >&2; exit 3",
                           "cat {in} > {out}"])
    assert code == 1
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if line.startswith("| 1,000 | broken |"))
    assert "FAILED: sh -c seq 3000 \\| sed" in row and "failed with status 3" in row
    assert row.endswith("warning: line 3000 / cannot map the input |")
    assert len(re.split(r"(?<!\\)\|", row)) == len(re.split(r"(?<!\\)\|", benchmark.TABLE_HEAD.splitlines()[0]))
    report = json.loads((tmp_path / "r" / "results.json").read_text())
    error = next(r["error"] for r in report["results"] if r["compressor"] == "broken")
    assert error.endswith("warning: line 3000\ncannot map the input")


def test_a_compressor_that_writes_nothing_fails_its_row_only(tmp_path, capsys, text):
    """A command that exits 0 without writing {out} is a FAILED row that says
    so; the other rows are measured, the JSON is written, the status is 1."""
    data = tmp_path / "tiny"
    data.write_bytes(text[:1000])
    out = tmp_path / "r"
    code = benchmark.main(["--data", str(data), "--sizes", "all", "-l", "1", "--no-baselines", "--out", str(out),
                           "--extra", "lazy=true", "cat {in} > {out}",
                           "--extra", "lazyback=cat {in} > {out}", "true"])
    assert code == 1
    table = capsys.readouterr().out
    for name, step in (("lazy", "compression"), ("lazyback", "decompression")):
        row = next(line for line in table.splitlines() if line.startswith(f"| 1,000 | {name} |"))
        assert f"FAILED: the {step} command exited 0 but wrote no output" in row
    assert "| 1,000 | statesmix -1 |" in table
    rows = json.loads((out / "results.json").read_text())["results"]
    assert [(r["compressor"], r["error"] is None) for r in rows] == [
        ("lazy", False), ("lazyback", False), ("statesmix -1", True)]


@pytest.mark.parametrize("where", ["under_a_file", "proc"])
def test_an_unwritable_out_is_refused_before_measuring(tmp_path, capsys, text, where):
    data = tmp_path / "tiny"
    data.write_bytes(text[:1000])
    (tmp_path / "a_file").write_bytes(b"")
    out = str(tmp_path / "a_file" / "results") if where == "under_a_file" else "/proc/no_such_dir"
    with pytest.raises(SystemExit) as stop:
        benchmark.main(["--data", str(data), "--sizes", "all", "-l", "1", "--no-baselines", "--out", out])
    assert stop.value.code == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [captured.err.strip()]  # one line
    assert captured.err.startswith(f"statesmix bench: error: cannot write the results to {out}: ")
    assert captured.out == ""  # nothing measured


BAD_ARGUMENTS = [
    (["--sizes", "abc"], "argument --sizes: a size is a whole number of bytes above 0 or 'all', not 'abc'"),
    (["--sizes", "-5"], "argument --sizes:"),
    (["--sizes", "-1"], "argument --sizes:"),
    (["--sizes", "0,all"], "argument --sizes:"),
    (["-l", "abc"], "argument -l/--levels: not an integer: 'abc'"),
    (["-l", "12"], "argument -l/--levels: a level is from 1 to 9, not 12"),
    (["-l", "1,0"], "argument -l/--levels: a level is from 1 to 9, not 0"),
    (["-T", "-2"], "argument -T/--threads: threads are from 0 (all cores)"),
    (["--also-threads", "-1"], "argument --also-threads: threads are from 0 (all cores)"),
    (["--timeout", "-1"], "argument --timeout: a time limit is a number of seconds above 0, not '-1'"),
    (["--timeout", "0"], "argument --timeout: a time limit is a number of seconds above 0, not '0'"),
    (["--runs", "0"], "argument --runs: must be at least 1, not 0"),
    (["--only", "dashes"], "--only only applies to a set"),
    (["--max-bytes", "100", "--corpus-dir", "files"], "--max-bytes, --corpus-dir only apply to a set"),
    (["--shapes", "--max-bytes", "2000", "--only", "dashes,acgtt"],
     "--only: no file of shapes has 'acgtt' in its name; the files are enwik8_1M, zeros_1M, dashes_1M"),
    (["--shapes", "--max-bytes", "0"], "argument --max-bytes: must be at least 1, not 0"),
    (["--shapes", "--max-bytes", "2000", "--sizes", "2000"], "--sizes cuts enwik8 prefixes"),
    (["--set", "shapes,nope"], "unknown set 'nope'; the sets are mixed, shapes, small"),
]


@pytest.mark.parametrize("args,message", BAD_ARGUMENTS, ids=[" ".join(a) for a, _ in BAD_ARGUMENTS])
def test_bad_arguments_are_usage_errors_before_anything_runs(tmp_path, capsys, text, args, message):
    data = tmp_path / "tiny"
    data.write_bytes(text[:1000])
    out = tmp_path / "r"
    with pytest.raises(SystemExit) as stop:
        benchmark.main(["--data", str(data), "-l", "1", "--no-baselines", "--out", str(out), *args])
    assert stop.value.code == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines()[-1].startswith(f"statesmix bench: error: {message}")
    assert captured.out == "" and "[bench]" not in captured.err and not out.exists()


def test_bench_command_reports_a_bad_size_as_a_usage_error(tmp_path, text):
    data = tmp_path / "tiny"
    data.write_bytes(text[:1000])
    proc = subprocess.run([sys.executable, "-m", "statesmix.cli", "bench", "--data", str(data), "--sizes", "-5",
                           "--no-baselines", "--out", str(tmp_path / "r")], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines()[-1] == ("statesmix bench: error: argument --sizes: a size is a whole number "
                                           "of bytes above 0 or 'all', not '-5'")
    assert "Traceback" not in proc.stderr


def test_a_set_with_a_missing_data_file_is_an_error(tmp_path, capsys):
    """--data given and absent is an error naming it, not a set whose
    enwik8 files are skipped and whose empty tables say 'all ok'."""
    missing = str(tmp_path / "nowhere" / "enwik8")
    with pytest.raises(SystemExit) as stop:
        benchmark.main(["--shapes", "--only", "enwik8_1M", "--max-bytes", "2000", "-l", "1", "--no-baselines",
                        "--data", missing, "--corpus-dir", str(tmp_path / "files"), "--out", str(tmp_path / "r")])
    assert stop.value.code == 2
    captured = capsys.readouterr()
    assert captured.err == f"statesmix bench: error: --data {missing}: no such file\n" and captured.out == ""
    assert not (tmp_path / "r").exists() and not (tmp_path / "files").exists()


BAD_ABLATION_ARGUMENTS = [
    (["--size", "0", "--only", "ssm"], "argument --size: must be at least 1, not 0"),
    (["--size", "-5"], "argument --size: must be at least 1, not -5"),
    (["--size", "-1", "--only", "ssm"], "argument --size: must be at least 1, not -1"),
    (["-l", "12"], "argument -l/--level: a level is from 1 to 9, not 12"),
    (["-T", "-1", "--only", "ssm"], "argument -T/--threads: threads are from 0 (all cores)"),
]


@pytest.mark.parametrize("args,message", BAD_ABLATION_ARGUMENTS, ids=[" ".join(a) for a, _ in BAD_ABLATION_ARGUMENTS])
def test_bad_ablation_arguments_are_usage_errors(tmp_path, capsys, text, args, message):
    data = tmp_path / "small"
    data.write_bytes(text[:2000])
    with pytest.raises(SystemExit) as stop:
        benchmark.main(["--ablation", "--data", str(data), "--size", "2000", "-l", "1", *args])
    assert stop.value.code == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines()[-1].startswith(f"statesmix bench --ablation: error: {message}")
    assert captured.out == "" and "[ablation]" not in captured.err


def test_ablation_with_a_missing_data_file_is_a_usage_error(tmp_path, capsys):
    """The same answer as the benchmark's and the corpus builder's: exit 2, one line naming it."""
    missing = str(tmp_path / "nowhere" / "enwik8")
    with pytest.raises(SystemExit) as stop:
        benchmark.main(["--ablation", "--data", missing, "-l", "1", "--only", "ssm"])
    assert stop.value.code == 2
    captured = capsys.readouterr()
    assert captured.err == f"statesmix bench --ablation: error: --data {missing}: no such file\n"
    assert captured.out == ""


def test_ablation_of_an_empty_file_is_an_error(tmp_path, capsys):
    data = tmp_path / "empty"
    data.write_bytes(b"")
    with pytest.raises(SystemExit) as stop:
        benchmark.main(["--ablation", "--data", str(data), "-l", "1", "--only", "ssm"])
    assert stop.value.code == 2
    assert capsys.readouterr().err == f"statesmix bench --ablation: error: {data} is empty\n"


def test_ablation_rows_against_the_level_show_a_dash_without_it():
    """--only without the level's row: the rows that change one thing in the
    level have nothing to be set against, not the row that happened to run
    before them; rows switching components on still take the row above."""
    from statesmix.ablation import Row, table

    rows = [Row("ssm", "SSM alone", 1_010, 10, 1.0, True),
            Row("match", "+ match model", 910, 10, 1.0, True),
            Row("frozen", "frozen", 1_010, 10, 1.0, True),
            Row("bytes", "bytes", 950, 0, 1.0, True)]
    changes = [line.split("|")[5].strip() for line in table(rows, 8_000).splitlines()[2:]]
    assert changes == ["", "-10.00%", "-", "-"]
