#!/usr/bin/env python3
"""Mutation campaign against the .smx decoder.

    python bench/fuzz.py --n 10000                 # the full campaign
    python bench/fuzz.py --n 300 --levels 1 --json out.json

Seed files are compressed at three levels (1, 6, 9 by default), with both
tokenizer kinds (the identity tokenizer and a BPE vocabulary), several
blocks, stored frames and explicit parameters. Each case mutates one seed:
bit flips, truncations, inserted or deleted bytes, frames and blocks
spliced from another file, duplicated, dropped or reordered, lying lengths
in frame heads, block headers and the index (with the index checksum
recomputed half the time, so the lie gets past it), lying model
parameters, a lying stream header, garbage after the end. It is then
decoded one of three ways: one shot on one thread, one shot on two
threads (whole blocks in parallel), and through statesmix.open with a
seek into the middle (the index path).

Every case runs in a worker subprocess under a time limit; a worker that
dies is a crash, one that overruns is a hang (it is killed and replaced).
A case that decodes without error must give the seed's original content
(else: silent corruption). Each worker resets its peak RSS (VmHWM) before
a case and reports it after, so the peak memory of every case is known;
the report compares it with the memory the seed's level may use.
Exit status 1 if any crash, hang or silent corruption was seen.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

# -- the structure of a valid .smx file ----------------------------------------------


@dataclass
class Frame:
    head: object  # statesmix.container.FrameHead
    data: bytes  # head and payload


@dataclass
class Block:
    header: bytes
    frames: List[Frame]

    def bytes(self) -> bytes:
        return self.header + b"".join(f.data for f in self.frames)


@dataclass
class Stream:
    header: bytes
    level: int
    block_size: int
    blocks: List[Block]
    end: bytes
    entries: list  # IndexEntry per block


def dissect(blob: bytes) -> List[Stream]:
    """The streams, blocks and frames of a valid file."""
    from statesmix.container import parse_block_header, parse_end, parse_frame_head, parse_stream_header

    streams, pos = [], 0
    while pos < len(blob):
        sh = parse_stream_header(blob, pos)
        p = pos + sh.size
        blocks = []
        while blob[p] == 0x42:
            bh = parse_block_header(blob, p, sh, len(blocks))
            q = p + bh.size
            frames, remaining = [], bh.raw_len
            while remaining:
                fh = parse_frame_head(blob, q, bh, len(blocks), len(frames), remaining)
                frames.append(Frame(fh, blob[q : q + fh.total]))
                q += fh.total
                remaining -= fh.raw_len
            blocks.append(Block(blob[p : p + bh.size], frames))
            p = q
        end = parse_end(blob, p, sh)
        streams.append(Stream(sh.raw, sh.level, sh.block_size, blocks, blob[p : p + end.size], end.blocks))
        pos = p + end.size
    return streams


def assemble(streams: List[Stream]) -> bytes:
    return b"".join(s.header + b"".join(b.bytes() for b in s.blocks) + s.end for s in streams)


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def index_bytes(header: bytes, entries: List[Tuple[int, int, int]], n_blocks: Optional[int] = None,
                fix_crc: bool = True) -> bytes:
    """An end record with these (comp_size, raw_len, crc) entries."""
    body = bytearray([0x45]) + varint(len(entries) if n_blocks is None else n_blocks)
    for comp, raw, crc in entries:
        body += varint(comp) + varint(raw) + struct.pack("<I", crc & 0xFFFFFFFF)
    crc = zlib.crc32(body, zlib.crc32(header)) if fix_crc else random.getrandbits(32)
    body += struct.pack("<I", crc)
    return bytes(body) + struct.pack("<I", len(body)) + b"SX"


def frame_head(kind: int, raw_len: int, n_tokens: int, payload_len: int, crc: int) -> bytes:
    head = bytes([kind & 0xFF]) + varint(raw_len)
    if kind == 0:
        head += varint(n_tokens) + varint(payload_len)
    return head + struct.pack("<I", crc & 0xFFFFFFFF)


# -- seeds -----------------------------------------------------------------------------


def _text(n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(1, 8))) for _ in range(800)]
    weights = [1.0 / (i + 1) for i in range(len(words))]
    out, size = [], 0
    while size < n:
        line = " ".join(rng.choices(words, weights, k=10)).capitalize() + ".\n"
        out.append(line)
        size += len(line)
    return "".join(out).encode()[:n]


def make_seeds(levels: List[int]) -> Dict[str, Tuple[int, bytes, bytes]]:
    """name -> (level, original, compressed). Small, so a case decodes in
    well under a second; several blocks, both tokenizer kinds, stored frames."""
    from statesmix import api

    seeds = {}
    rand = random.Random(5).randbytes(5000)
    for level in levels:
        a = _text(9000, level)
        seeds[f"L{level}-bytes"] = (level, a, api.compress(a, level=level, block_size=4096, threads=1))
        b = _text(7000, 100 + level) + rand
        blob = api._compress(b, level, 1, vocab_size=320, block_size=8192)
        seeds[f"L{level}-bpe"] = (level, b, blob)
    lv = levels[0]
    c = _text(3000, 7)
    seeds[f"L{lv}-explicit"] = (lv, c, api._compress(c, lv, 1, adjust=lambda p: p.replace(lr=0.003)))
    d = _text(2000, 8)
    seeds[f"L{lv}-concat"] = (lv, d + d, api.compress(d, level=lv) + api.compress(d, level=lv))
    return seeds


# -- mutations -------------------------------------------------------------------------
KINDS = ["bitflip", "truncate", "insert_delete", "splice", "duplicate", "drop", "reorder",
         "lie_frame", "lie_block", "lie_params", "lie_index", "lie_header", "garbage"]


def _pick_frame(rng, streams):
    s = rng.choice(streams)
    blocks = [b for b in s.blocks if b.frames]
    b = rng.choice(blocks)
    return s, b, rng.randrange(len(b.frames))


def _lie(rng, true: int) -> int:
    return rng.choice([0, 1, true - 1, true + 1, true * 2, true + 64, 1 << 20, (1 << 20) + 1,
                       (1 << 30) + 1, (1 << 32) - 1, (1 << 55), rng.randrange(1 << 24)]) & ((1 << 56) - 1)


def mutate(rng: random.Random, blob: bytes, other: bytes, kind: str, original: bytes) -> Tuple[bytes, bytes]:
    """A mutant of blob and the content it must decode to if it decodes:
    the original, except for a mutation that makes another valid file."""
    expected = [original]
    mutant = _mutate(rng, blob, other, kind, expected)
    return mutant, expected[0]


def _block_contents(streams: List[Stream], original: bytes) -> List[List[bytes]]:
    out, pos = [], 0
    for s in streams:
        parts = []
        for e in s.entries:
            parts.append(original[pos : pos + e.raw_len])
            pos += e.raw_len
        out.append(parts)
    return out


def _mutate(rng: random.Random, blob: bytes, other: bytes, kind: str, expected: List[bytes]) -> bytes:
    import copy

    streams = dissect(blob)
    if kind == "bitflip":
        b = bytearray(blob)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        return bytes(b)
    if kind == "truncate":
        cut = rng.randrange(len(blob))
        pos = raw = 0
        for st in streams:  # a cut between streams leaves a valid, shorter file
            pos += len(st.header) + sum(len(b.bytes()) for b in st.blocks) + len(st.end)
            raw += sum(e.raw_len for e in st.entries)
            if pos == cut:
                expected[0] = expected[0][:raw]
        return blob[:cut]
    if kind == "insert_delete":
        p = rng.randrange(len(blob))
        if rng.random() < 0.5:
            return blob[:p] + blob[p + rng.randint(1, 8):]
        return blob[:p] + rng.randbytes(rng.randint(1, 8)) + blob[p:]
    if kind == "garbage":
        tail = rng.choice([rng.randbytes(rng.randint(1, 64)), b"\x93SMX", b"\x93SMX\x03", other[: rng.randrange(1, 40)],
                           b"\x00" * 16])
        return blob + tail
    s, b, i = _pick_frame(rng, streams)
    if kind == "splice":
        o = dissect(other)
        _, ob, oi = _pick_frame(rng, o)
        if rng.random() < 0.7:
            b.frames[i] = ob.frames[oi]
        else:
            s.blocks[s.blocks.index(b)] = ob
        return assemble(streams)
    if kind == "duplicate":
        if rng.random() < 0.6:
            b.frames.insert(i, copy.copy(b.frames[i]))
        else:
            s.blocks.insert(s.blocks.index(b), b)
        return assemble(streams)
    if kind == "drop":
        if rng.random() < 0.6 and len(b.frames) > 1:
            del b.frames[i]
        else:
            s.blocks.remove(b)
        return assemble(streams)
    if kind == "reorder":
        if len(b.frames) > 1 and rng.random() < 0.6:
            j = rng.randrange(len(b.frames))
            b.frames[i], b.frames[j] = b.frames[j], b.frames[i]
        elif len(s.blocks) > 1:
            j, k = rng.sample(range(len(s.blocks)), 2)
            s.blocks[j], s.blocks[k] = s.blocks[k], s.blocks[j]
            if rng.random() < 0.5:  # and the index to match: a valid file, its blocks reordered
                contents = _block_contents(streams, expected[0])
                e = s.entries
                e[j], e[k] = e[k], e[j]
                s.end = index_bytes(s.header, [(x.comp_size, x.raw_len, x.crc) for x in e])
                c = contents[streams.index(s)]
                c[j], c[k] = c[k], c[j]
                expected[0] = b"".join(b"".join(c) for c in contents)
        return assemble(streams)
    if kind == "lie_frame":
        f = b.frames[i]
        h = f.head
        fields = dict(kind=h.kind, raw_len=h.raw_len, n_tokens=h.n_tokens, payload_len=h.payload_len, crc=h.crc)
        name = rng.choice(list(fields))
        fields[name] = rng.choice([0, 1, 2, 3, 255]) if name == "kind" else _lie(rng, fields[name])
        payload = f.data[h.size :]
        b.frames[i] = Frame(h, frame_head(**fields) + payload)
        return assemble(streams)
    if kind == "lie_block":
        from statesmix.container import block_header_bytes, parse_block_header, parse_stream_header

        sh = parse_stream_header(s.header)
        bh = parse_block_header(b.header, 0, sh, 0)
        raw_len, n_tokens = bh.raw_len, bh.n_tokens
        vocab = bh.vocab.to_bytes() if bh.vocab.size > 256 else None
        params = bh.params.to_bytes() if bh.explicit_params else None
        what = rng.choice(["raw_len", "n_tokens", "flags", "vocab_len", "vocab"])
        if what == "raw_len":
            raw_len = _lie(rng, raw_len) or 1
        elif what == "n_tokens":
            n_tokens = _lie(rng, n_tokens)
        elif what == "vocab" and vocab:
            vocab = bytearray(vocab)
            vocab[rng.randrange(len(vocab))] ^= 1 << rng.randrange(8)
            vocab = bytes(vocab)
        try:
            header = bytearray(block_header_bytes(raw_len, n_tokens, vocab, params))
        except ValueError:
            header = bytearray(b.header)
        if what == "flags":
            header[1] = rng.choice([0, 1, 2, 3, 4, 0x80, 0xFF])
        elif what == "vocab_len" and vocab:
            lied = bytes([0x42, header[1]]) + varint(raw_len) + varint(n_tokens) + varint(_lie(rng, len(vocab)))
            header = bytearray(lied + vocab + (varint(len(params)) + params if params else b""))
        b.header = bytes(header)
        return assemble(streams)
    if kind == "lie_params":
        from statesmix.container import block_header_bytes, parse_block_header, parse_stream_header

        sh = parse_stream_header(s.header)
        bh = parse_block_header(b.header, 0, sh, 0)
        p = bh.params
        name, value = rng.choice([
            ("table_bits", 40), ("table_bits", 31), ("pool_limit", 0xFFFFFFFF), ("d_model", 1 << 20),
            ("d_inner", 0), ("n_layers", 1000), ("d_state", 1 << 16), ("vocab", 1 << 16), ("vocab", 257),
            ("n_orders", 12), ("chunk", 0), ("bin_bits", 31), ("match_min_len", 1 << 30),
            ("lr", float("nan")), ("steps_rest", 1 << 30), ("d_conv", 1 << 20), ("seed", 0xFFFFFFFF),
        ])
        try:
            lied = p.replace(**{name: value}).to_bytes()
        except (struct.error, ValueError, OverflowError):
            lied = p.to_bytes()
        if rng.random() < 0.3:  # a parameter block from another version of the field list
            lied = struct.pack("<H", struct.unpack_from("<H", lied)[0] + 1) + lied[2:] + b"\0\0\0\0"
        vocab = bh.vocab.to_bytes() if bh.vocab.size > 256 else None
        b.header = block_header_bytes(bh.raw_len, bh.n_tokens, vocab, lied)
        return assemble(streams)
    if kind == "lie_index":
        e = [(x.comp_size, x.raw_len, x.crc) for x in s.entries]
        j = rng.randrange(len(e)) if e else 0
        what = rng.choice(["comp", "raw", "crc", "count", "extra", "offsets"])
        n_blocks = None
        if e and what == "comp":
            e[j] = (_lie(rng, e[j][0]), e[j][1], e[j][2])
        elif e and what == "raw":
            e[j] = (e[j][0], _lie(rng, e[j][1]), e[j][2])
        elif e and what == "crc":
            e[j] = (e[j][0], e[j][1], e[j][2] ^ 1)
        elif what == "count":
            n_blocks = _lie(rng, len(e))
        elif what == "extra":
            e.append((rng.randrange(1, 1 << 20), rng.randrange(1, 1 << 12), 0))
        else:  # offsets past the end, overlapping
            e = [(c + rng.choice([-3, 3, 1 << 16]), r, x) for c, r, x in e]
        s.end = index_bytes(s.header, e, n_blocks, fix_crc=rng.random() < 0.7)
        return assemble(streams)
    if kind == "lie_header":
        h = bytearray(s.header)
        what = rng.choice(["level", "block_size", "version"])
        if what == "level":
            h[5] = (h[5] & 0xF0) | rng.choice([0, 1, 9, 10, 15])
        elif what == "version":
            h[4] = rng.choice([2, 4, 255])
        else:
            h = h[:5] + bytes([h[5] | 0x10]) + varint(rng.choice([0, 1, 4095, 4096, 1 << 30, (1 << 30) + 1, 1 << 40]))
        s.header = bytes(h)
        if rng.random() < 0.5:
            s.end = index_bytes(s.header, [(x.comp_size, x.raw_len, x.crc) for x in s.entries])
        return assemble(streams)
    raise ValueError(kind)


# -- one case, in a worker --------------------------------------------------------------
def _vm_hwm() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_hwm() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def run_case(blob: bytes, original: bytes, how: str) -> Tuple[str, str]:
    """("error", message) / ("original", "") / ("corrupt", what differed);
    original is the content blob must decode to if it decodes."""
    import statesmix

    try:
        if how == "T1":
            out = statesmix.decompress(blob, threads=1)
            want = original
        elif how == "T2":
            out = statesmix.decompress(blob, threads=2)
            want = original
        else:
            offset = len(original) // 2
            with statesmix.open(io.BytesIO(blob), threads=1) as f:
                f.seek(offset)
                out = f.read()
            want = original[offset:]
    except statesmix.StatesmixError as exc:
        msg = str(exc)
        return ("error", msg) if msg else ("corrupt", "an error without a message")
    if out == want:
        return "original", ""
    return "corrupt", f"decoded {len(out)} bytes, expected {len(want)}"


def worker_main() -> None:
    """Reads cases (JSON lines: blob and original as hex, how) from stdin and
    answers each with a JSON line: outcome, message, peak RSS, seconds."""
    import statesmix  # noqa: F401  (imported before the baseline is taken)

    for line in sys.stdin:
        case = json.loads(line)
        _reset_hwm()
        base = _vm_hwm()
        t0 = time.perf_counter()
        outcome, msg = run_case(bytes.fromhex(case["blob"]), bytes.fromhex(case["original"]), case["how"])
        print(json.dumps({"outcome": outcome, "message": msg[:200], "peak": _vm_hwm(), "base": base,
                          "seconds": time.perf_counter() - t0}), flush=True)


class Worker:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def ask(self, case: dict, timeout: float) -> Optional[dict]:
        """The answer, or None after a crash (the process died) or a hang
        (killed after timeout seconds); then the worker must be replaced."""
        import selectors

        try:
            self.proc.stdin.write(json.dumps(case) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            self.proc.kill()
            self.proc.wait()
            return {"outcome": "hang"}
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            return {"outcome": "crash", "message": f"worker died with status {self.proc.returncode}"}
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


@dataclass
class Report:
    cases: int = 0
    outcomes: Counter = field(default_factory=Counter)
    by_kind: Dict[str, Counter] = field(default_factory=dict)
    failures: List[dict] = field(default_factory=list)
    peak_over_base: Dict[str, int] = field(default_factory=dict)  # seed -> max case RSS growth
    level_cap: Dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def bad(self) -> int:
        return sum(self.outcomes[k] for k in ("crash", "hang", "corrupt"))


def campaign(n: int, levels: List[int], seed: int, timeout: float, jobs: int,
             log=sys.stderr, keep_failures: Optional[str] = None) -> Report:
    from statesmix.params import LEVELS

    seeds = make_seeds(levels)
    names = sorted(seeds)
    report = Report()
    for name in names:
        report.level_cap[name] = LEVELS[seeds[name][0]].params.table_bytes()
    workers = [Worker() for _ in range(max(1, jobs))]
    import concurrent.futures as cf

    def one(i: int, w_index: int) -> Tuple[str, str, dict, str, bytes]:
        crng = random.Random(seed * 1_000_003 + i)
        name = crng.choice(names)
        level, original, blob = seeds[name]
        other = seeds[crng.choice(names)][2]
        kind = KINDS[i % len(KINDS)]
        mutant, expected = mutate(crng, blob, other, kind, original)
        how = ("T1", "T2", "seek")[(i // len(KINDS)) % 3]
        case = {"blob": mutant.hex(), "original": expected.hex(), "how": how}
        answer = workers[w_index].ask(case, timeout)
        if answer is None:  # the worker was gone before the case reached it
            answer = {"outcome": "crash", "message": "the worker's input pipe was closed"}
        if answer["outcome"] in ("hang", "crash"):
            workers[w_index] = Worker()
        return name, kind, answer, how, mutant

    # Each worker takes the next case as soon as it is free: a batch that
    # waited for its slowest case left a core idle about half the time.
    # A case depends only on (seed, i), so the report does not depend on
    # which worker ran it or in what order.
    next_case = iter(range(n))
    lock = threading.Lock()

    def record(i: int, name: str, kind: str, ans: dict, how: str, mutant: bytes) -> None:
        report.cases += 1
        o = ans["outcome"]
        report.outcomes[o] += 1
        report.by_kind.setdefault(kind, Counter())[o] += 1
        if "peak" in ans:
            grow = ans["peak"] - ans["base"]
            report.peak_over_base[name] = max(report.peak_over_base.get(name, 0), grow)
        if o in ("hang", "crash", "corrupt"):
            fail = {"case": i, "seed": name, "kind": kind, "how": how, **ans}
            report.failures.append(fail)
            if keep_failures:
                os.makedirs(keep_failures, exist_ok=True)
                path = os.path.join(keep_failures, f"case{i}-{kind}-{o}.smx")
                with open(path, "wb") as f:
                    f.write(mutant)
            print(f"[fuzz] {o}: {fail}", file=log, flush=True)
        if report.cases % 500 == 0:
            print(f"[fuzz] {report.cases}/{n} {dict(report.outcomes)}", file=log, flush=True)

    def drive(w_index: int) -> None:
        while True:
            with lock:
                i = next(next_case, None)
            if i is None:
                return
            result = one(i, w_index)
            with lock:
                record(i, *result)

    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(len(workers)) as pool:
        for fut in [pool.submit(drive, w) for w in range(len(workers))]:
            fut.result()
    for w in workers:
        w.close()
    report.seconds = time.perf_counter() - t0
    return report


def summary(r: Report) -> str:
    lines = [f"{r.cases} cases in {r.seconds:.0f} s: " + ", ".join(f"{k} {v}" for k, v in sorted(r.outcomes.items())),
             f"crashes {r.outcomes['crash']}, hangs {r.outcomes['hang']}, "
             f"silent corruptions {r.outcomes['corrupt']}", "", "| mutation | error | original | other |",
             "|---|---:|---:|---:|"]
    for kind in KINDS:
        c = r.by_kind.get(kind, Counter())
        lines.append(f"| {kind} | {c['error']} | {c['original']} | {c['crash'] + c['hang'] + c['corrupt']} |")
    lines += ["", "| seed | peak RSS growth of a case | level cap (Params.table_bytes) |", "|---|---:|---:|"]
    for name in sorted(r.level_cap):
        lines.append(f"| {name} | {r.peak_over_base.get(name, 0) / 2**20:.1f} MiB | "
                     f"{r.level_cap[name] / 2**20:.1f} MiB |")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="number of mutated files (default 1000)")
    ap.add_argument("--levels", default="1,6,9", help="levels of the seed files (default 1,6,9)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds a case may take (default 30)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--json", help="write the report here as JSON")
    ap.add_argument("--keep", help="write the failing files to this directory")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker_main()
        return 0
    levels = [int(x) for x in args.levels.split(",")]
    r = campaign(args.n, levels, args.seed, args.timeout, args.jobs, keep_failures=args.keep)
    print(summary(r))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cases": r.cases, "outcomes": dict(r.outcomes),
                       "by_kind": {k: dict(v) for k, v in r.by_kind.items()}, "failures": r.failures,
                       "peak_over_base": r.peak_over_base, "level_cap": r.level_cap, "seconds": r.seconds},
                      f, indent=1)
    return 1 if r.bad else 0


if __name__ == "__main__":
    sys.exit(main())
