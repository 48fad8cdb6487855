"""The benchmark behind ``statesmix bench`` (and bench/bench.py).

Inputs: prefixes of enwik8 (the default), or with --set (--corpus,
--shapes, --small) the files of a benchmark set that statesmix/corpus.py
recreates: a mixed corpus, inputs of every shape, small inputs.

For each input and each compressor it runs whole child processes, compress
then decompress, and records compressed bytes, bits per byte, wall seconds,
KB/s, tokens/s (statesmix), the child's peak resident memory (GNU time's %M
where installed, else ru_maxrss from wait4) and a byte-for-byte round-trip
check. Baselines run in the same invocation, so figures can be quoted as
ratios to them (to xz -9e and to zpaq -m5): on enwik8 xz -9e, bzip2 -9,
zstd --ultra -22, gzip -9; on a set xz -9e and zstd -19; on both zpaq -m4
and -m5 (the ``zpaq`` package) and PPMd orders 6 and 8 (``pyppmd``), which
come with ``pip install '.[bench]'`` and are left out with a note when
missing; plus any --extra command. Fast tools run several times and report
the median; statesmix runs once (said so in the output).

Outputs: a Markdown table on stdout (for a set, also a table of bytes per
file and compressor and the totals), a JSON file with every figure and a
description of the machine, and for enwik8 a PNG chart of bits per byte
against compression speed when matplotlib is installed.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.util
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import IO, Dict, List, Optional, Sequence, Tuple, Union

from . import corpus
from .api import MAX_THREADS
from .corpus import find_enwik8
from .params import DEFAULT_LEVEL, MAX_LEVEL, MIN_LEVEL

DEFAULT_DATA_NAME = corpus.ENWIK8_NAME
DEFAULT_SIZES = (1_000_000, 3_000_000, None)  # None = the whole file
LARGE_SIZES = (10_000_000, 100_000_000)
DEFAULT_LEVELS = tuple(range(MIN_LEVEL, MAX_LEVEL + 1))  # every level; a full default run takes hours
FAST_RUNS = 3
REFERENCES = ("xz -9e", "zpaq -m5")  # every row is also given as a ratio to these


@dataclass
class Measured:
    wall: float
    peak_kb: int


@dataclass
class Tool:
    name: str
    compress: List[str]  # argv with {in} and {out}
    decompress: List[str]
    slow: bool = False
    level: Optional[int] = None
    threads: Optional[int] = None


@dataclass
class Result:
    compressor: str
    input_bytes: int
    bytes: int
    bpb: float
    compress_s: float
    decompress_s: float
    kb_per_s: float
    decompress_kb_per_s: float
    compress_peak_mb: float
    decompress_peak_mb: float
    roundtrip: bool
    runs: int
    tokens: Optional[int] = None
    tokens_per_s: Optional[float] = None
    decode_tokens_per_s: Optional[float] = None
    level: Optional[int] = None
    threads: Optional[int] = None
    sha256: str = ""
    extra: Dict[str, float] = field(default_factory=dict)
    input: str = ""  # the input's label: its size for an enwik8 prefix, else the file's name
    error: Optional[str] = None  # why the compressor failed or timed out; the other figures are then 0


_GNU_TIME = shutil.which("time") if os.path.exists("/usr/bin/time") else None
# A failed child's message: its command's first _COMMAND_CHARS characters and
# its stderr's last _STDERR_TAIL bytes, where a program says why it stopped.
_COMMAND_CHARS = 200
_STDERR_TAIL = 300


def run_measured(argv: Sequence[str], env: Optional[dict] = None, cwd: Optional[str] = None,
                 timeout: Optional[float] = None) -> Measured:
    """Runs argv to completion; returns its wall time and peak RSS (KB).

    A child forked from this (large) Python process starts with this
    process's resident pages counted in its ru_maxrss, a floor of about
    30 MB. GNU time, where installed, forks the command from a small process
    instead, so its figure is the command's own. Children run in cwd (the
    work directory), so a source checkout in the caller's directory cannot
    shadow the installed package. The child runs in its own session, so
    that a child still running after timeout seconds can be killed with
    everything it started (RuntimeError says so); Ctrl-C kills it too. Its
    stderr goes to a temporary file, not a pipe, so a child that writes more
    than a pipe holds never waits for a reader; a failure's RuntimeError
    quotes the file's end, the reason.
    """
    report = None
    cmd = list(argv)
    if _GNU_TIME:
        fd, report = tempfile.mkstemp(prefix="smx-time-")
        os.close(fd)
        cmd = [_GNU_TIME, "-f", "%M", "-o", report] + cmd
    stderr = tempfile.TemporaryFile(prefix="smx-stderr-")
    try:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=stderr, env=env, cwd=cwd, start_new_session=True)
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C: the child has its own session, so take it down too
            kill()
            os.waitpid(proc.pid, 0)
            raise
        finally:
            if timer:
                timer.cancel()
        wall = time.monotonic() - start
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code
        if expired.is_set():
            raise RuntimeError(f"timed out after {timeout:g} s")
        if code != 0:
            command = " ".join(argv)
            if len(command) > _COMMAND_CHARS:
                command = command[:_COMMAND_CHARS] + "..."
            raise RuntimeError(f"{command} failed with status {code}: {_last_words(stderr)}")
        peak = usage.ru_maxrss
        if report:
            with open(report) as f:
                lines = [line.strip() for line in f if line.strip()]
            if lines and lines[-1].isdigit():
                peak = int(lines[-1])
        return Measured(wall, peak)
    finally:
        stderr.close()
        if report:
            os.unlink(report)


def _last_words(stderr: IO[bytes]) -> str:
    """The end of a child's stderr file (its last _STDERR_TAIL bytes, after
    "..." when it holds more), stripped."""
    size = stderr.seek(0, os.SEEK_END)
    stderr.seek(max(0, size - _STDERR_TAIL))
    said = stderr.read().decode(errors="replace").strip()
    return "..." + said if size > _STDERR_TAIL else said


def _fill(argv: Sequence[str], src: str, dst: str) -> List[str]:
    return [a.replace("{in}", src).replace("{out}", dst) for a in argv]


def _shell(cmd: str) -> List[str]:
    return ["sh", "-c", cmd]


def _python(module: str, call: str) -> List[str]:
    """A child Python that applies module's call to the bytes of {in} and writes {out}.
    It imports only that module, so its peak memory is the codec's and the data's."""
    code = (f"import sys, {module}\n"
            "with open(sys.argv[1], 'rb') as f: d = f.read()\n"
            f"with open(sys.argv[2], 'wb') as f: f.write({call})\n")
    return [sys.executable, "-c", code, "{in}", "{out}"]


# name: (program or Python module, "exe" or "py", compress, decompress)
BASELINES: Dict[str, Tuple[str, str, str, str]] = {
    "xz -9e": ("xz", "exe", "xz -9e -T1 -c -k {in} > {out}", "xz -d -c {in} > {out}"),
    "bzip2 -9": ("bzip2", "exe", "bzip2 -9 -c -k {in} > {out}", "bzip2 -d -c {in} > {out}"),
    "zstd --ultra -22": ("zstd", "exe", "zstd -q --ultra -22 --single-thread -c {in} > {out}",
                         "zstd -q -d -c {in} > {out}"),
    "zstd -19": ("zstd", "exe", "zstd -q -19 --single-thread -c {in} > {out}", "zstd -q -d -c {in} > {out}"),
    "gzip -9": ("gzip", "exe", "gzip -9 -c -k {in} > {out}", "gzip -d -c {in} > {out}"),
    "zpaq -m4": ("zpaq", "py", "zpaq.compress(d, level=4, threads=1)", "zpaq.decompress(d, threads=1)"),
    "zpaq -m5": ("zpaq", "py", "zpaq.compress(d, level=5, threads=1)", "zpaq.decompress(d, threads=1)"),
    # pyppmd's default model memory, 16 MB; the order is needed to decode.
    "PPMd o6": ("pyppmd", "py", "pyppmd.compress(d, max_order=6)", "pyppmd.decompress(d, max_order=6)"),
    "PPMd o8": ("pyppmd", "py", "pyppmd.compress(d, max_order=8)", "pyppmd.decompress(d, max_order=8)"),
}
ENWIK8_BASELINES = ("xz -9e", "bzip2 -9", "zstd --ultra -22", "gzip -9", "zpaq -m4", "zpaq -m5",
                    "PPMd o6", "PPMd o8")
SET_BASELINES = ("xz -9e", "zstd -19", "zpaq -m4", "zpaq -m5", "PPMd o6", "PPMd o8")


def _installed(what: str, kind: str) -> bool:
    return bool(shutil.which(what)) if kind == "exe" else importlib.util.find_spec(what) is not None


def baseline_tools(names: Sequence[str] = ENWIK8_BASELINES) -> List[Tool]:
    """The named baselines that are installed here (and a note for each that is not)."""
    tools = []
    for name in names:
        what, kind, comp, decomp = BASELINES[name]
        if not _installed(what, kind):
            how = "" if kind == "exe" else " (pip install 'statesmix[bench]')"
            print(f"note: {what} is not installed{how}; {name} is left out", file=sys.stderr)
        elif kind == "exe":
            tools.append(Tool(name, _shell(comp), _shell(decomp)))
        else:
            tools.append(Tool(name, _python(what, comp), _python(what, decomp)))
    return tools


def statesmix_tool(level: int, threads: int, labelled: bool = False) -> Tool:
    base = [sys.executable, "-m", "statesmix.cli"]
    return Tool(
        f"statesmix -{level}" + (f" -T{threads}" if labelled else ""),
        base + ["compress", "-q", "-f", "-l", str(level), "-T", str(threads), "-o", "{out}", "{in}"],
        base + ["decompress", "-q", "-f", "-T", str(threads), "-o", "{out}", "{in}"],
        slow=True,
        level=level,
        threads=threads,
    )


def parse_extra(spec: str, decompress: str) -> Tool:
    if "=" not in spec:
        raise SystemExit("statesmix bench: --extra takes NAME='compress command' 'decompress command'")
    name, comp = spec.split("=", 1)
    return Tool(name.strip(), _shell(comp), _shell(decompress), slow=True)


def measure(tool: Tool, src: str, work: str, runs: int, timeout: Optional[float] = None,
            label: str = "") -> Result:
    """Compresses and decompresses src with tool (runs times); a failure or
    time-out gives a Result with .error set instead of raising."""
    packed = os.path.join(work, "packed")
    back = os.path.join(work, "back")
    raw = os.path.getsize(src)
    comps, decomps = [], []
    try:
        for _ in range(runs):
            for p in (packed, back):
                if os.path.exists(p):
                    os.unlink(p)
            comps.append(run_measured(_fill(tool.compress, src, packed), cwd=work, timeout=timeout))
            _check_wrote(packed, "compression")
            decomps.append(run_measured(_fill(tool.decompress, packed, back), cwd=work, timeout=timeout))
            _check_wrote(back, "decompression")
    except RuntimeError as exc:
        return Result(compressor=tool.name, input_bytes=raw, bytes=0, bpb=0.0, compress_s=0.0,
                      decompress_s=0.0, kb_per_s=0.0, decompress_kb_per_s=0.0, compress_peak_mb=0.0,
                      decompress_peak_mb=0.0, roundtrip=False, runs=runs, level=tool.level,
                      threads=tool.threads, input=label, error=str(exc))
    size = os.path.getsize(packed)
    with open(src, "rb") as a, open(back, "rb") as b:
        ok = a.read() == b.read()
    c_wall = max(1e-6, statistics.median(m.wall for m in comps))
    d_wall = max(1e-6, statistics.median(m.wall for m in decomps))
    r = Result(
        compressor=tool.name, input_bytes=raw, bytes=size, bpb=8.0 * size / raw if raw else 0.0,
        compress_s=c_wall, decompress_s=d_wall, kb_per_s=raw / 1000.0 / c_wall,
        decompress_kb_per_s=raw / 1000.0 / d_wall,
        compress_peak_mb=max(m.peak_kb for m in comps) / 1024.0,
        decompress_peak_mb=max(m.peak_kb for m in decomps) / 1024.0,
        roundtrip=ok, runs=runs, level=tool.level, threads=tool.threads, input=label,
    )
    with open(packed, "rb") as f:
        r.sha256 = hashlib.sha256(f.read()).hexdigest()
    if tool.level is not None:
        from .info import scan

        with open(packed, "rb") as f:
            r.tokens = scan(f.read()).tokens
        r.tokens_per_s = r.tokens / c_wall
        r.decode_tokens_per_s = r.tokens / d_wall
    return r


def _check_wrote(path: str, what: str) -> None:
    """RuntimeError, as for a failed child, when a step that exited 0 left no output file."""
    if not os.path.isfile(path):
        raise RuntimeError(f"the {what} command exited 0 but wrote no output ({{out}}: {path})")


def find_data(explicit: Optional[str]) -> str:
    """The benchmark data: explicit (which corpus.refuse_missing_data has
    checked), else the enwik8 prefix in its usual places."""
    if explicit:
        return os.path.abspath(explicit)
    found = find_enwik8(DEFAULT_DATA_NAME)
    if found:
        return found
    raise SystemExit(
        "statesmix bench: no benchmark data found. Put enwik8 (or its first 4,154,399 bytes, named "
        f"{DEFAULT_DATA_NAME}) at ../shared/data/{DEFAULT_DATA_NAME} relative to the working "
        "directory, or pass --data PATH."
    )


def prefix_file(data: str, size: Optional[int], work: str) -> str:
    """data itself, or a copy of its first size bytes in work."""
    full = os.path.getsize(data)
    if size is None or size >= full:
        return data
    out = os.path.join(work, f"prefix_{size}_{os.path.basename(data)}")
    with open(data, "rb") as f:
        blob = f.read(size)
    with open(out, "wb") as f:
        f.write(blob)
    return out


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    n = _integer(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


def level_number(text: str) -> int:
    """argparse type: a statesmix level."""
    n = _integer(text)
    if not MIN_LEVEL <= n <= MAX_LEVEL:
        raise argparse.ArgumentTypeError(f"a level is from {MIN_LEVEL} to {MAX_LEVEL}, not {n}")
    return n


def thread_count(text: str) -> int:
    """argparse type: statesmix's -T, 0 for all cores."""
    n = _integer(text)
    if not 0 <= n <= MAX_THREADS:
        raise argparse.ArgumentTypeError(f"threads are from 0 (all cores) to {MAX_THREADS}, not {n}")
    return n


def seconds_limit(text: str) -> float:
    """argparse type: a time limit, a finite number of seconds above 0."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise argparse.ArgumentTypeError(f"a time limit is a number of seconds above 0, not {text!r}")
    return seconds


def parse_levels(spec: str) -> List[int]:
    """argparse type of --levels: comma-separated levels, or 'all'."""
    if spec.strip().lower() == "all":
        return list(DEFAULT_LEVELS)
    return [level_number(x.strip()) for x in spec.split(",")]


def parse_sizes(spec: str) -> List[Optional[int]]:
    """argparse type of --sizes: comma-separated byte counts (1e6 will do),
    'all' for the whole file (None)."""
    sizes: List[Optional[int]] = []
    for s in spec.split(","):
        s = s.strip().lower()
        if s in ("all", "full"):
            sizes.append(None)
            continue
        try:
            n = float(s)
        except ValueError:
            n = math.nan
        if not (n >= 1 and n.is_integer()):
            raise argparse.ArgumentTypeError(f"a size is a whole number of bytes above 0 or 'all', not {s!r}")
        sizes.append(int(s) if s.isdigit() else int(n))
    return sizes


def choose_sizes(spec: Union[None, str, Sequence[Optional[int]]], data: str) -> List[int]:
    """The prefix sizes to measure: spec's (a --sizes string or what
    parse_sizes made of one), else the defaults for data's size."""
    full = os.path.getsize(data)
    if spec:
        sizes = []
        for n in parse_sizes(spec) if isinstance(spec, str) else spec:
            n = full if n is None else n
            if n > full:
                raise SystemExit(f"statesmix bench: {data} has {full:,} bytes, fewer than {n:,}")
            sizes.append(n)
        return sizes
    sizes = [s for s in DEFAULT_SIZES if s is None or s < full]
    sizes = [full if s is None else s for s in sizes]
    sizes += [s for s in LARGE_SIZES if s <= full and s not in sizes]  # a full enwik8 was given
    return sorted(set(sizes))


def machine() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def version(argv):
        try:
            out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=10)
            return out.stdout.strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            return None

    import numpy
    import tokenizers

    def package(name):
        try:
            from importlib.metadata import version as dist_version

            return dist_version(name)
        except Exception:
            return None

    from . import __version__
    from ._native import Engine, byte_pieces
    from .params import Params

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "compiler": version(["gcc", "--version"]),
        "statesmix": __version__,
        "statesmix_isa": Engine(Params(table_bits=10, pool_limit=1024), byte_pieces(256)).isa,
        "numpy": numpy.__version__,
        "tokenizers": tokenizers.__version__,
        "xz": version(["xz", "--version"]),
        "bzip2": version(["sh", "-c", "bzip2 --help 2>&1 | head -1"]),
        "zstd": version(["zstd", "--version"]),
        "gzip": version(["gzip", "--version"]),
        "zpaq": package("zpaq"),
        "pyppmd": package("pyppmd"),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }


TABLE_HEAD = (
    "| input | compressor | bytes | bpb | vs xz -9e | vs zpaq -m5 | compress s | decompress s | KB/s "
    "| tokens/s | peak MB | runs | round trip |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def _ratio(n: int, ref: Optional[int]) -> str:
    return f"{n / ref:.3f}" if ref else "-"


def _cell(text: str) -> str:
    """text as one Markdown table cell: its lines joined by " / ", its pipes escaped."""
    return " / ".join(line.strip() for line in text.splitlines() if line.strip()).replace("|", "\\|")


def table_row(r: Result, refs: Dict[str, int]) -> str:
    if r.error:
        return (f"| {r.input} | {r.compressor} | - | - | - | - | - | - | - | - | - | {r.runs} "
                f"| FAILED: {_cell(r.error)} |")
    tps = f"{r.tokens_per_s:,.0f}" if r.tokens_per_s else "-"
    peak = max(r.compress_peak_mb, r.decompress_peak_mb)
    return (f"| {r.input} | {r.compressor} | {r.bytes:,} | {r.bpb:.3f} | {_ratio(r.bytes, refs.get('xz -9e'))} | "
            f"{_ratio(r.bytes, refs.get('zpaq -m5'))} | {r.compress_s:.2f} | {r.decompress_s:.2f} | "
            f"{r.kb_per_s:,.1f} | {tps} | {peak:,.0f} | "
            f"{r.runs}{' (median)' if r.runs > 1 else ''} | {'ok' if r.roundtrip else 'FAIL'} |")


def run_inputs(inputs: Sequence[Tuple[str, str]], tools: Sequence[Tool], work: str, runs: int,
               timeout: Optional[float] = None) -> List[Result]:
    """Measures every tool on every (label, path) input, printing a table row
    for each. Baselines come first and their rows are printed together once
    all have run, so each row can give its ratio to xz -9e and zpaq -m5."""
    results: List[Result] = []
    print(TABLE_HEAD, flush=True)
    for label, src in inputs:
        refs: Dict[str, int] = {}
        waiting: List[Result] = []
        for tool in tools:
            n = 1 if tool.slow else max(1, runs)
            print(f"[bench] {tool.name} on {label} ({n} run{'s' if n > 1 else ''})...",
                  file=sys.stderr, flush=True)
            r = measure(tool, src, work, n, timeout, label)
            results.append(r)
            if tool.name in REFERENCES and not r.error:
                refs[tool.name] = r.bytes
            waiting.append(r)
            if tool.slow:
                for w in waiting:
                    print(table_row(w, refs), flush=True)
                waiting = []
        for w in waiting:
            print(table_row(w, refs), flush=True)
    return results


def set_summary(results: Sequence[Result], names: Sequence[str]) -> str:
    """Bytes per file and compressor, each statesmix level's ratio to zpaq
    -m5 and xz -9e per file, then each compressor's totals."""
    files = list(dict.fromkeys(r.input for r in results))
    size = {r.input: r.input_bytes for r in results}
    got = {(r.input, r.compressor): r for r in results}
    mine = [n for n in names if n.startswith("statesmix")]
    refs = [n for n in REFERENCES if n in names]

    def cell(f: str, n: str) -> str:
        r = got.get((f, n))
        return "failed" if r is None or r.error or not r.roundtrip else f"{r.bytes:,}"

    def ok(f: str, n: str) -> bool:
        r = got.get((f, n))
        return r is not None and not r.error and r.roundtrip

    ratio_heads = [f"{m} / {ref}" for m in mine for ref in reversed(refs)]
    lines = ["| file | bytes | " + " | ".join(names) + "".join(f" | {h}" for h in ratio_heads) + " |",
             "|---|" + "---:|" * (1 + len(names) + len(ratio_heads))]
    for f in files:
        ratios = [_ratio(got[(f, m)].bytes, got[(f, ref)].bytes) if ok(f, m) and ok(f, ref) else "-"
                  for m in mine for ref in reversed(refs)]
        lines.append(f"| {f} | {size[f]:,} | " + " | ".join(cell(f, n) for n in names)
                     + "".join(f" | {x}" for x in ratios) + " |")

    lines += ["", "| compressor | files | total bytes | vs zpaq -m5 total | vs xz -9e total "
              "| files larger than zpaq -m5 | files larger than xz -9e | compress s | decompress s "
              "| round trips |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for n in names:
        done = [f for f in files if ok(f, n)]
        failed = len([f for f in files if (f, n) in got]) - len(done)
        total = sum(got[(f, n)].bytes for f in done)
        cols = []
        for ref in ("zpaq -m5", "xz -9e"):
            both = [f for f in done if ok(f, ref)]
            ref_total = sum(got[(f, ref)].bytes for f in both)
            cols.append(_ratio(sum(got[(f, n)].bytes for f in both), ref_total) if ref in names else "-")
        larger = [str(sum(got[(f, n)].bytes > got[(f, ref)].bytes for f in done if ok(f, ref)))
                  if ref in names else "-" for ref in ("zpaq -m5", "xz -9e")]
        secs = [sum(getattr(got[(f, n)], a) for f in done) for a in ("compress_s", "decompress_s")]
        lines.append(f"| {n} | {len(done)} | {total:,} | {cols[0]} | {cols[1]} | {larger[0]} | {larger[1]} | "
                     f"{secs[0]:.1f} | {secs[1]:.1f} | {'all ok' if not failed else f'{failed} FAILED'} |")
    return "\n".join(lines)


# A chart label's height above its point, in typographic points, and the
# step between stacked labels (label_rises).
_LABEL_RISE = 3
_LABEL_STEP = 10
# Two points whose labels would overlap in a panel: within this many decades
# of speed (a label is about half a decade wide on the log axis) and this
# many bits per byte (a line of label text on the usual 1.2-1.3 bpb range).
_NEAR_DECADES = 0.5
_NEAR_BPB = 0.05


def label_rises(shown: List[Result]) -> List[int]:
    """How far above its point (in typographic points) each result's label
    goes in a chart panel. Points that sit close together (statesmix's
    levels, a few KB/s and hundredths of a bit apart; PPMd's two orders)
    form a group, with whatever is close to any of its members, and the
    group's labels go one above the other in the order of their points,
    the lowest point's lowest (of equal points, the slowest's); every other
    label sits just above its point."""

    def near(a: Result, b: Result) -> bool:
        if a.kb_per_s <= 0 or b.kb_per_s <= 0:  # nothing measured: no position to crowd
            return False
        return (abs(math.log10(a.kb_per_s / b.kb_per_s)) < _NEAR_DECADES
                and abs(a.bpb - b.bpb) < _NEAR_BPB)

    group = list(range(len(shown)))  # each point's group: the smallest index reachable

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    for i in range(len(shown)):
        for j in range(i):
            if near(shown[i], shown[j]):
                a, b = root(i), root(j)
                group[max(a, b)] = min(a, b)
    rises = [_LABEL_RISE] * len(shown)
    for g in {root(i) for i in range(len(shown))}:
        members = sorted((i for i in range(len(shown)) if root(i) == g),
                         key=lambda i: (shown[i].bpb, shown[i].kb_per_s))
        for rank, i in enumerate(members):
            rises[i] = _LABEL_RISE + _LABEL_STEP * rank
    return rises


def chart(results: List[Result], path: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: matplotlib is not installed (pip install '.[bench]'); no chart", file=sys.stderr)
        return False
    sizes = sorted({r.input_bytes for r in results})
    fig, axes = plt.subplots(1, len(sizes), figsize=(6 * len(sizes), 4.5), squeeze=False)
    for ax, size in zip(axes[0], sizes):
        shown = [r for r in results if r.input_bytes == size and not r.error]
        for r, rise in zip(shown, label_rises(shown)):
            mine = r.compressor.startswith("statesmix")
            ax.scatter(r.kb_per_s, r.bpb, marker="o" if mine else "s", color="C0" if mine else "C1")
            ax.annotate(r.compressor, (r.kb_per_s, r.bpb), fontsize=8, xytext=(4, rise),
                        textcoords="offset points",
                        arrowprops=dict(arrowstyle="-", lw=0.5, alpha=0.5) if rise > _LABEL_RISE else None)
        ax.set_xscale("log")
        ax.set_xlabel("compression speed, KB/s (log scale)")
        ax.set_ylabel("bits per byte (lower is better)")
        ax.set_title(f"first {size:,} bytes of enwik8")
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _unwritable(directory: str) -> Optional[str]:
    """Why no file can be written in directory (made when missing), or None."""
    try:
        os.makedirs(directory, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--ablation" in argv:  # a separate study with its own options (statesmix/ablation.py)
        from .ablation import main as ablation_main

        argv.remove("--ablation")
        return ablation_main(argv)
    ap = argparse.ArgumentParser(prog="statesmix bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help=f"the enwik8 file (default: ../shared/data/{DEFAULT_DATA_NAME})")
    ap.add_argument("--sizes", type=parse_sizes, help="without a set: comma-separated prefix sizes in bytes, "
                    "'all' for the whole file (default: 1000000,3000000,all; plus 10 MB and 100 MB for a "
                    "full enwik8)")
    ap.add_argument("--set", help="measure the files of benchmark sets instead of enwik8 prefixes: "
                    f"comma-separated, from {', '.join(corpus.SETS)}, or all (statesmix/corpus.py)")
    ap.add_argument("--corpus", action="store_true", help="the same as --set mixed")
    ap.add_argument("--shapes", action="store_true", help="the same as --set shapes")
    ap.add_argument("--small", action="store_true", help="the same as --set small")
    ap.add_argument("--only", help="with a set: only files whose name contains one of these "
                    "comma-separated parts (each must match a file)")
    ap.add_argument("--max-bytes", type=positive_int, help="with a set: only the first N bytes of each file "
                    "(a quick check of the harness)")
    ap.add_argument("--corpus-dir", help="with a set: where its files are written and kept "
                    "(default: a temporary directory)")
    ap.add_argument("-l", "--levels", type=parse_levels, help="comma-separated statesmix levels, or 'all' "
                    f"(default: all, {MIN_LEVEL}-{MAX_LEVEL}, on enwik8; {DEFAULT_LEVEL}, the default level, "
                    "on a set)")
    ap.add_argument("-T", "--threads", type=thread_count, default=0, help="statesmix threads (0 = all cores)")
    ap.add_argument("--runs", type=positive_int, default=FAST_RUNS,
                    help="runs of each fast tool; the median is kept")
    ap.add_argument("--timeout", type=seconds_limit, help="seconds (more than 0) after which a compression "
                    "or decompression is killed and reported as failed (default: no limit)")
    ap.add_argument("--no-baselines", action="store_true", help="measure statesmix only")
    ap.add_argument("--extra", nargs=2, action="append", default=[], metavar=("NAME=COMPRESS", "DECOMPRESS"),
                    help="another compressor, e.g. --extra 'lz4=lz4 -9 {in} {out}' 'lz4 -d {in} {out}'")
    ap.add_argument("--out", default="bench/results", help="directory for the JSON results and chart.png")
    ap.add_argument("--also-threads", type=thread_count, metavar="N",
                    help="also run every statesmix level with -T N, and report the speed-up of "
                         "-T THREADS over -T N and whether the outputs are identical")
    ap.add_argument("--ablation", action="store_true",
                    help="instead, measure what each model component adds (see --ablation --help)")
    args = ap.parse_args(argv)

    sets = [s for s in (args.set or "").split(",") if s]
    sets = list(corpus.SETS) if sets == ["all"] else sets
    sets += [name for name, flag in (("mixed", args.corpus), ("shapes", args.shapes), ("small", args.small))
             if flag and name not in sets]
    if sets:
        if args.sizes:
            ap.error("--sizes cuts enwik8 prefixes; with a set, --max-bytes cuts each file")
        chosen = corpus.chosen_entries(ap, sets, args.only)
    else:
        set_only = [option for option, value in (("--only", args.only), ("--max-bytes", args.max_bytes),
                                                 ("--corpus-dir", args.corpus_dir)) if value is not None]
        if set_only:
            ap.error(f"{', '.join(set_only)} only appl{'ies' if len(set_only) == 1 else 'y'} to a set "
                     "(--set, --corpus, --shapes or --small)")
    corpus.refuse_missing_data(ap, args.data)  # not a set's skip note: it was asked for
    unwritable = _unwritable(args.out)
    if unwritable:  # found now, not after hours of measuring
        ap.exit(2, f"{ap.prog}: error: cannot write the results to {args.out}: {unwritable}\n")
    levels = args.levels or ([DEFAULT_LEVEL] if sets else list(DEFAULT_LEVELS))
    tools = [] if args.no_baselines else baseline_tools(SET_BASELINES if sets else ENWIK8_BASELINES)
    tools += [parse_extra(spec, dec) for spec, dec in args.extra]
    tools += [statesmix_tool(level, args.threads) for level in levels]
    if args.also_threads is not None:
        tools += [statesmix_tool(level, args.also_threads, labelled=True) for level in levels]

    report: dict = {"machine": machine(),
                    "note": "statesmix and --extra tools: one run each; other tools: median of --runs runs"}
    with tempfile.TemporaryDirectory(prefix="smx-bench-") as work:
        if sets:
            data = args.data or find_enwik8(DEFAULT_DATA_NAME)
            records = corpus.build(chosen, args.corpus_dir or os.path.join(work, "corpus"), data)
            inputs = [(r["name"], prefix_file(r["path"], args.max_bytes, work)) for r in records]
            report.update(sets=sets, max_bytes=args.max_bytes, enwik8=data,
                          files=[{k: v for k, v in r.items() if k != "path"} for r in records])
            json_name = f"results-{'-'.join(sets)}.json"
        else:
            data = find_data(args.data)
            inputs = [(f"{size:,}", prefix_file(data, size, work)) for size in choose_sizes(args.sizes, data)]
            report["data"] = os.path.abspath(data)
            json_name = "results.json"
        results = run_inputs(inputs, tools, work, args.runs, args.timeout)

    if sets:
        print("\n" + set_summary(results, [t.name for t in tools]), flush=True)
    scaling = thread_scaling(results, args.threads, args.also_threads)
    if scaling:
        print("\n" + scaling, flush=True)
    os.makedirs(args.out, exist_ok=True)
    report["results"] = [asdict(r) for r in results]
    json_path = os.path.join(args.out, json_name)
    with open(json_path, "w") as f:
        json.dump(report, f, indent=2)
    print(f"\nwrote {json_path}", file=sys.stderr)
    if not sets:
        png_path = os.path.join(args.out, "chart.png")
        if chart(results, png_path):
            print(f"wrote {png_path}", file=sys.stderr)
    identical = "| NO |" not in scaling
    return 0 if identical and all(r.roundtrip and not r.error for r in results) else 1


def thread_scaling(results: List[Result], threads: int, other: Optional[int]) -> str:
    """Speed-up of each statesmix run over its -T other twin, and whether the bytes match."""
    if other is None:
        return ""
    lines = [f"| input | level | compress s, -T {threads} | compress s, -T {other} | speed-up "
             "| identical output |", "|---|---|---|---|---|---|"]
    for r in results:
        if r.level is None or r.threads != threads or r.error:
            continue
        twin = next((t for t in results if t.level == r.level and t.threads == other
                     and t.input == r.input and t is not r and not t.error), None)
        if twin is None:
            continue
        lines.append(f"| {r.input} | {r.level} | {r.compress_s:.2f} | {twin.compress_s:.2f} | "
                     f"{twin.compress_s / r.compress_s:.2f}x | {'yes' if twin.sha256 == r.sha256 else 'NO'} |")
    return "\n".join(lines)


def run_cli(args: List[str]) -> int:
    return main(args)
