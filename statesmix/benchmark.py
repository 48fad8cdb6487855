"""Benchmark harness behind ``statesmix bench`` and bench/bench.py.

Every measurement is a whole child process (compress, then decompress) so
wall time and peak resident memory (ru_maxrss from wait4) are the process's
own; the round trip is checked byte for byte.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

DEFAULT_DATA_NAME = "enwik8_prefix_4154399"


@dataclass
class Run:
    wall: float
    peak_kb: int


def run_measured(argv: Sequence[str], stdin_path: Optional[str] = None,
                 stdout_path: Optional[str] = None, env: Optional[dict] = None) -> Run:
    """Runs argv to completion; returns its wall time and peak RSS (KB)."""
    fin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    fout = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    try:
        start = time.monotonic()
        proc = subprocess.Popen(list(argv), stdin=fin, stdout=fout, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if stdin_path:
            fin.close()
        if stdout_path:
            fout.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({proc.returncode}): {err.strip()}")
    return Run(wall, usage.ru_maxrss)


def find_data(explicit: Optional[str]) -> str:
    if explicit:
        if not os.path.exists(explicit):
            raise SystemExit(f"statesmix bench: data file {explicit} does not exist")
        return explicit
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.path.join(os.getcwd(), "..", "shared", "data", DEFAULT_DATA_NAME),
                  os.path.join(here, "..", "..", "shared", "data", DEFAULT_DATA_NAME),
                  os.path.join(os.getcwd(), DEFAULT_DATA_NAME)]
    for c in candidates:
        if os.path.exists(c):
            return os.path.abspath(c)
    raise SystemExit(
        "statesmix bench: no benchmark data found. Put the first bytes of enwik8 at "
        f"../shared/data/{DEFAULT_DATA_NAME} (relative to the working directory) or pass --data PATH."
    )


def bench_statesmix(path: str, level: int, threads: int, workdir: str) -> dict:
    from .info import scan

    comp = os.path.join(workdir, "in.smx")
    back = os.path.join(workdir, "back")
    base = [sys.executable, "-m", "statesmix.cli"]
    c = run_measured(base + ["compress", "-q", "-l", str(level), "-T", str(threads), "-c", path],
                     stdout_path=comp)
    d = run_measured(base + ["decompress", "-q", "-T", str(threads), "-c", comp], stdout_path=back)
    raw = os.path.getsize(path)
    size = os.path.getsize(comp)
    with open(path, "rb") as f1, open(back, "rb") as f2:
        ok = f1.read() == f2.read()
    with open(comp, "rb") as f:
        tokens = scan(f.read()).tokens
    return {
        "compressor": f"statesmix -{level}", "input_bytes": raw, "bytes": size,
        "bpb": 8.0 * size / raw if raw else 0.0, "tokens": tokens,
        "compress_s": c.wall, "decompress_s": d.wall,
        "tokens_per_s": tokens / c.wall, "decode_tokens_per_s": tokens / d.wall,
        "kb_per_s": raw / 1000.0 / c.wall, "peak_mb": max(c.peak_kb, d.peak_kb) / 1024.0,
        "compress_peak_mb": c.peak_kb / 1024.0, "decompress_peak_mb": d.peak_kb / 1024.0,
        "roundtrip": ok,
    }


def prefix_file(data: str, size: int, workdir: str) -> str:
    out = os.path.join(workdir, f"prefix_{size}")
    with open(data, "rb") as f:
        blob = f.read(size)
    if len(blob) < size:
        raise SystemExit(f"statesmix bench: {data} holds only {len(blob)} bytes, fewer than {size}")
    with open(out, "wb") as f:
        f.write(blob)
    return out


def format_row(r: dict) -> str:
    return (f"| {r['compressor']} | {r['input_bytes']:,} | {r['bytes']:,} | {r['bpb']:.3f} | "
            f"{r.get('tokens_per_s', 0):,.0f} | {r['kb_per_s']:.1f} | {r['compress_s']:.1f} | "
            f"{r['decompress_s']:.1f} | {r['peak_mb']:.0f} | {'ok' if r['roundtrip'] else 'FAIL'} |")


HEADER = ("| compressor | input bytes | bytes | bpb | tokens/s | KB/s | compress s | decompress s "
          "| peak MB | round trip |\n|---|---|---|---|---|---|---|---|---|---|")


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="statesmix bench", description=__doc__)
    ap.add_argument("--data", help="input file (default: ../shared/data/enwik8_prefix_4154399)")
    ap.add_argument("--sizes", default="1000000", help="comma-separated prefix sizes in bytes, or 'all'")
    ap.add_argument("--levels", default="6", help="comma-separated statesmix levels")
    ap.add_argument("-T", "--threads", type=int, default=0)
    args = ap.parse_args(argv)
    data = find_data(args.data)
    full = os.path.getsize(data)
    sizes = [full if s == "all" else int(s) for s in args.sizes.split(",")]
    rows = []
    print(HEADER)
    with tempfile.TemporaryDirectory(prefix="smx-bench-") as work:
        for size in sizes:
            path = prefix_file(data, size, work)
            for level in [int(x) for x in args.levels.split(",")]:
                print(f"... statesmix -{level} on {size:,} bytes", file=sys.stderr, flush=True)
                r = bench_statesmix(path, level, args.threads, work)
                rows.append(r)
                print(format_row(r), flush=True)
    return 0 if all(r["roundtrip"] for r in rows) else 1


def run_cli(args: List[str]) -> int:
    return main(args)
