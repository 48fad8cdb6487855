"""The enwik8 benchmark behind ``statesmix bench`` (and bench/bench.py).

For each input size and each compressor it runs whole child processes,
compress then decompress, and records compressed bytes, bits per byte, wall
seconds, KB/s, tokens/s (statesmix), the child's peak resident memory
(GNU time's %M where installed, else ru_maxrss from wait4) and a
byte-for-byte round-trip check. Baselines
(xz -9e, bzip2 -9, zstd --ultra -22, gzip -9, and any --extra command) run
in the same invocation, so figures can be quoted as ratios to them. Fast
tools run several times and report the median; statesmix runs once (said
so in the output).

Outputs: a Markdown table on stdout, a JSON file with every figure and a
description of the machine, and a PNG chart of bits per byte against
compression speed when matplotlib is installed (``pip install .[bench]``).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence

DEFAULT_DATA_NAME = "enwik8_prefix_4154399"
DEFAULT_SIZES = (1_000_000, 3_000_000, None)  # None = the whole file
LARGE_SIZES = (10_000_000, 100_000_000)
DEFAULT_LEVELS = tuple(range(1, 10))  # every level; a full default run takes hours
FAST_RUNS = 3


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


_GNU_TIME = shutil.which("time") if os.path.exists("/usr/bin/time") else None


def run_measured(argv: Sequence[str], env: Optional[dict] = None, cwd: Optional[str] = None) -> Measured:
    """Runs argv to completion; returns its wall time and peak RSS (KB).

    A child forked from this (large) Python process starts with this
    process's resident pages counted in its ru_maxrss, a floor of about
    30 MB. GNU time, where installed, forks the command from a small process
    instead, so its figure is the command's own. Children run in cwd (the
    work directory), so a source checkout in the caller's directory cannot
    shadow the installed package.
    """
    report = None
    cmd = list(argv)
    if _GNU_TIME:
        fd, report = tempfile.mkstemp(prefix="smx-time-")
        os.close(fd)
        cmd = [_GNU_TIME, "-f", "%M", "-o", report] + cmd
    try:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code
        if code != 0:
            raise RuntimeError(f"{' '.join(argv)} failed with status {code}: {err.strip()[:500]}")
        peak = usage.ru_maxrss
        if report:
            with open(report) as f:
                lines = [line.strip() for line in f if line.strip()]
            if lines and lines[-1].isdigit():
                peak = int(lines[-1])
        return Measured(wall, peak)
    finally:
        if report:
            os.unlink(report)


def _fill(argv: Sequence[str], src: str, dst: str) -> List[str]:
    return [a.replace("{in}", src).replace("{out}", dst) for a in argv]


def _shell(cmd: str) -> List[str]:
    return ["sh", "-c", cmd]


def baseline_tools() -> List[Tool]:
    """The usual compressors that are installed here (and a note for each that is not)."""
    candidates = [
        ("xz -9e", "xz", "xz -9e -T1 -c -k {in} > {out}", "xz -d -c {in} > {out}"),
        ("bzip2 -9", "bzip2", "bzip2 -9 -c -k {in} > {out}", "bzip2 -d -c {in} > {out}"),
        ("zstd --ultra -22", "zstd", "zstd -q --ultra -22 --single-thread -c {in} > {out}",
         "zstd -q -d -c {in} > {out}"),
        ("gzip -9", "gzip", "gzip -9 -c -k {in} > {out}", "gzip -d -c {in} > {out}"),
    ]
    tools = []
    for name, exe, comp, decomp in candidates:
        if shutil.which(exe):
            tools.append(Tool(name, _shell(comp), _shell(decomp)))
        else:
            print(f"note: {exe} is not installed; {name} is left out", file=sys.stderr)
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


def measure(tool: Tool, src: str, work: str, runs: int) -> Result:
    packed = os.path.join(work, "packed")
    back = os.path.join(work, "back")
    comps, decomps = [], []
    for _ in range(runs):
        for p in (packed, back):
            if os.path.exists(p):
                os.unlink(p)
        comps.append(run_measured(_fill(tool.compress, src, packed), cwd=work))
        decomps.append(run_measured(_fill(tool.decompress, packed, back), cwd=work))
    raw = os.path.getsize(src)
    size = os.path.getsize(packed)
    with open(src, "rb") as a, open(back, "rb") as b:
        ok = a.read() == b.read()
    c_wall = statistics.median(m.wall for m in comps)
    d_wall = statistics.median(m.wall for m in decomps)
    r = Result(
        compressor=tool.name, input_bytes=raw, bytes=size, bpb=8.0 * size / raw if raw else 0.0,
        compress_s=c_wall, decompress_s=d_wall, kb_per_s=raw / 1000.0 / c_wall,
        decompress_kb_per_s=raw / 1000.0 / d_wall,
        compress_peak_mb=max(m.peak_kb for m in comps) / 1024.0,
        decompress_peak_mb=max(m.peak_kb for m in decomps) / 1024.0,
        roundtrip=ok, runs=runs, level=tool.level, threads=tool.threads,
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


def find_data(explicit: Optional[str]) -> str:
    if explicit:
        if not os.path.isfile(explicit):
            raise SystemExit(f"statesmix bench: data file {explicit} does not exist")
        return os.path.abspath(explicit)
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [
        os.path.join(os.getcwd(), "..", "shared", "data", DEFAULT_DATA_NAME),
        os.path.join(here, "..", "..", "shared", "data", DEFAULT_DATA_NAME),
        os.path.join(os.getcwd(), DEFAULT_DATA_NAME),
    ]
    for c in candidates:
        if os.path.isfile(c):
            return os.path.abspath(c)
    raise SystemExit(
        "statesmix bench: no benchmark data found. Put enwik8 (or its first 4,154,399 bytes, named "
        f"{DEFAULT_DATA_NAME}) at ../shared/data/{DEFAULT_DATA_NAME} relative to the working "
        "directory, or pass --data PATH."
    )


def prefix_file(data: str, size: int, work: str) -> str:
    full = os.path.getsize(data)
    if size >= full:
        return data
    out = os.path.join(work, f"prefix_{size}")
    with open(data, "rb") as f:
        blob = f.read(size)
    with open(out, "wb") as f:
        f.write(blob)
    return out


def choose_sizes(spec: Optional[str], data: str) -> List[int]:
    full = os.path.getsize(data)
    if spec:
        sizes = []
        for s in spec.split(","):
            s = s.strip().lower()
            n = full if s in ("all", "full") else int(float(s))
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
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }


TABLE_HEAD = (
    "| input | compressor | bytes | bpb | vs xz -9e | compress s | decompress s | KB/s | tokens/s "
    "| peak MB | runs | round trip |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def table_row(r: Result, xz_bytes: Optional[int]) -> str:
    vs = f"{r.bytes / xz_bytes:.3f}" if xz_bytes else "-"
    tps = f"{r.tokens_per_s:,.0f}" if r.tokens_per_s else "-"
    peak = max(r.compress_peak_mb, r.decompress_peak_mb)
    return (f"| {r.input_bytes:,} | {r.compressor} | {r.bytes:,} | {r.bpb:.3f} | {vs} | "
            f"{r.compress_s:.2f} | {r.decompress_s:.2f} | {r.kb_per_s:,.1f} | {tps} | {peak:,.0f} | "
            f"{r.runs}{' (median)' if r.runs > 1 else ''} | {'ok' if r.roundtrip else 'FAIL'} |")


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
        for r in (r for r in results if r.input_bytes == size):
            mine = r.compressor.startswith("statesmix")
            ax.scatter(r.kb_per_s, r.bpb, marker="o" if mine else "s", color="C0" if mine else "C1")
            ax.annotate(r.compressor, (r.kb_per_s, r.bpb), fontsize=8, xytext=(4, 3),
                        textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("compression speed, KB/s (log scale)")
        ax.set_ylabel("bits per byte (lower is better)")
        ax.set_title(f"first {size:,} bytes of enwik8")
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--ablation" in argv:  # a separate study with its own options (statesmix/ablation.py)
        from .ablation import main as ablation_main

        argv.remove("--ablation")
        return ablation_main(argv)
    ap = argparse.ArgumentParser(prog="statesmix bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help=f"input file (default: ../shared/data/{DEFAULT_DATA_NAME})")
    ap.add_argument("--sizes", help="comma-separated prefix sizes in bytes, 'all' for the whole "
                    "file (default: 1000000,3000000,all; plus 10 MB and 100 MB for a full enwik8)")
    ap.add_argument("--levels", default="all",
                    help="comma-separated statesmix levels, or 'all' (default: all, 1-9)")
    ap.add_argument("-T", "--threads", type=int, default=0, help="statesmix threads (0 = all cores)")
    ap.add_argument("--runs", type=int, default=FAST_RUNS, help="runs of each fast tool; the median is kept")
    ap.add_argument("--no-baselines", action="store_true", help="measure statesmix only")
    ap.add_argument("--extra", nargs=2, action="append", default=[], metavar=("NAME=COMPRESS", "DECOMPRESS"),
                    help="another compressor, e.g. --extra 'lz4=lz4 -9 {in} {out}' 'lz4 -d {in} {out}'")
    ap.add_argument("--out", default="bench/results", help="directory for results.json and chart.png")
    ap.add_argument("--also-threads", type=int, metavar="N",
                    help="also run every statesmix level with -T N, and report the speed-up of "
                         "-T THREADS over -T N and whether the outputs are identical")
    ap.add_argument("--ablation", action="store_true",
                    help="instead, measure what each model component adds (see --ablation --help)")
    args = ap.parse_args(argv)

    data = find_data(args.data)
    sizes = choose_sizes(args.sizes, data)
    levels = list(DEFAULT_LEVELS) if args.levels == "all" else [int(x) for x in args.levels.split(",")]
    tools = [] if args.no_baselines else baseline_tools()
    tools += [parse_extra(spec, dec) for spec, dec in args.extra]
    tools += [statesmix_tool(level, args.threads) for level in levels]
    if args.also_threads is not None:
        tools += [statesmix_tool(level, args.also_threads, labelled=True) for level in levels]

    results: List[Result] = []
    print(TABLE_HEAD, flush=True)
    with tempfile.TemporaryDirectory(prefix="smx-bench-") as work:
        for size in sizes:
            src = prefix_file(data, size, work)
            xz_bytes = None
            for tool in tools:
                runs = 1 if tool.slow else max(1, args.runs)
                print(f"[bench] {tool.name} on {size:,} bytes ({runs} run{'s' if runs > 1 else ''})...",
                      file=sys.stderr, flush=True)
                r = measure(tool, src, work, runs)
                if tool.name == "xz -9e":
                    xz_bytes = r.bytes
                results.append(r)
                print(table_row(r, xz_bytes), flush=True)

    scaling = thread_scaling(results, args.threads, args.also_threads)
    if scaling:
        print("\n" + scaling, flush=True)
    os.makedirs(args.out, exist_ok=True)
    report = {"data": os.path.abspath(data), "machine": machine(),
              "note": "statesmix and --extra tools: one run each; other tools: median of --runs runs",
              "results": [asdict(r) for r in results]}
    json_path = os.path.join(args.out, "results.json")
    with open(json_path, "w") as f:
        json.dump(report, f, indent=2)
    print(f"\nwrote {json_path}", file=sys.stderr)
    png_path = os.path.join(args.out, "chart.png")
    if chart(results, png_path):
        print(f"wrote {png_path}", file=sys.stderr)
    identical = "| NO |" not in scaling
    return 0 if identical and all(r.roundtrip for r in results) else 1


def thread_scaling(results: List[Result], threads: int, other: Optional[int]) -> str:
    """Speed-up of each statesmix run over its -T other twin, and whether the bytes match."""
    if other is None:
        return ""
    lines = [f"| input | level | compress s, -T {threads} | compress s, -T {other} | speed-up "
             "| identical output |", "|---|---|---|---|---|---|"]
    for r in results:
        if r.level is None or r.threads != threads:
            continue
        twin = next((t for t in results if t.level == r.level and t.threads == other
                     and t.input_bytes == r.input_bytes and t is not r), None)
        if twin is None:
            continue
        lines.append(f"| {r.input_bytes:,} | {r.level} | {r.compress_s:.2f} | {twin.compress_s:.2f} | "
                     f"{twin.compress_s / r.compress_s:.2f}x | {'yes' if twin.sha256 == r.sha256 else 'NO'} |")
    return "\n".join(lines)


def run_cli(args: List[str]) -> int:
    return main(args)
