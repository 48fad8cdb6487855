"""Where the bits are: what each component of the model adds.

``statesmix bench --ablation`` (or ``python bench/bench.py --ablation``)
compresses the same input with components switched on one at a time, from
the SSM alone to the full level, and decodes every result to check it. Each
row is a real .smx file produced through the normal code path; only the
parameters recorded in its header differ.

The "change" column sets each row against the one above it while
components are switched on, and each of the last rows, which change one
thing in the full level, against the level ("-" when --only left the
level's row out).

A row whose parameters differ from the level's stores them in its block
header (a few hundred bytes): that is what switching a component off costs
the file, not what the component is worth. So each row also shows that
block's size, and the comparisons between rows (the "change" column and
the SSM's worth below the table) leave it out.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import Callable, List, Optional

from .api import _compress, decompress
from .container import varint
from .info import scan
from .params import (BIN_INDIRECT, BIN_LINES, BIN_MATCH, BIN_NEST, BIN_ORDERS, BIN_RECORDS, BIN_SPARSE,
                     BIN_TOKENS, BIN_WORDS, DEFAULT_LEVEL, Params)


@dataclass
class Variant:
    key: str
    name: str
    adjust: Callable[[Params], Params]
    vocab_size: Optional[int] = None  # None: the level's choice


def _bare(p: Params) -> Params:
    """The SSM's distribution, coded directly: every other component off, its
    loss unweighted and its input the token and its own hashed contexts
    (ssm_cost_focus and ssm_cost_input follow what the whole model's
    prediction cost; alone, the SSM's own cost would stand in for it;
    ssm_guess_input reads the context models, which are off;
    ssm_context_bits reads only the tokens, so it stays)."""
    return p.replace(n_orders=0, orders=[], lambda_=[], alpha=[], unigram_weight=0.0, mix_lr=0.0,
                     match_min_len=0, bin_bits=0, ssm_cost_focus=0.0,
                     ssm_cost_input=0, ssm_guess_input=0)


def _ngrams_fixed(p: Params) -> Params:
    """SSM + n-gram biases mixed with fixed weights (the published method's mixing)."""
    return p.replace(mix_lr=0.0, match_min_len=0, bin_bits=0)


def _families(*bits: int) -> Callable[[Params], Params]:
    """The level with only the given bit-model families in its binary stage."""
    models = 0
    for b in bits:
        models |= b
    return lambda p: p.replace(bin_models=models)


# The binary stage's families, switched on one at a time in this order.
_STAGES = [
    ("orders", "byte orders 0-6", BIN_ORDERS),
    ("words", "words", BIN_WORDS),
    ("sparse", "sparse bytes", BIN_SPARSE),
    ("records", "line columns", BIN_RECORDS),
    ("tokens", "token ids and the token stages' guesses", BIN_TOKENS),
    ("indirect", "indirect contexts", BIN_INDIRECT),
    ("nest", "open brackets", BIN_NEST),
    ("lines", "how the line began, which field", BIN_LINES),
    ("bitmatch", "the match model read bit by bit (= the level)", BIN_MATCH),
]


def _variants() -> List[Variant]:
    rows = [
        Variant("ssm", "SSM alone", _bare),
        Variant("ngrams", "n-grams alone (SSM frozen at its initial weights, fixed mixing)",
                lambda p: _ngrams_fixed(p).replace(lr=0.0)),
        Variant("fixed", "SSM + n-grams, fixed mixing weights", _ngrams_fixed),
        Variant("mixing", "+ mixing weights learned online", lambda p: p.replace(match_min_len=0, bin_bits=0)),
        Variant("match", "+ match model", lambda p: p.replace(bin_bits=0)),
    ]
    bits: List[int] = []
    for key, label, bit in _STAGES:
        bits.append(bit)
        prefix = "+ binary stage: " if len(bits) == 1 else "+ "
        rows.append(Variant(key, prefix + label, _families(*bits)))
    rows += [
        Variant("frozen", "the level with the SSM frozen at its initial weights", lambda p: p.replace(lr=0.0)),
        Variant("no-ngrams", "the level without token n-grams", lambda p: p.replace(
            n_orders=0, orders=[], lambda_=[], alpha=[])),
        Variant("bytes", "the level with a 256-id vocabulary (bytes)", lambda p: p, vocab_size=256),
    ]
    return rows


VARIANTS: List[Variant] = _variants()
LEVEL_KEY = _STAGES[-1][0]  # every family on: the level's own parameters
# The rows after the level's, which change one thing in it: set against the level.
AGAINST_LEVEL = {v.key for v in VARIANTS[[v.key for v in VARIANTS].index(LEVEL_KEY) + 1:]}


@dataclass
class Row:
    key: str
    name: str
    bytes: int
    params_bytes: int  # of bytes: the explicit parameter blocks in the block headers
    seconds: float
    roundtrip: bool

    @property
    def model_bytes(self) -> int:
        """The file less its explicit parameter blocks: what the rows compare."""
        return self.bytes - self.params_bytes


def params_bytes(blob: bytes) -> int:
    """Bytes of the explicit parameter blocks (with their length prefixes) in
    the block headers of a .smx file."""
    total = 0
    for block in scan(blob).blocks:
        if block.header.explicit_params:
            stored = block.header.params.to_bytes()
            total += len(varint(len(stored))) + len(stored)
    return total


def run(data: bytes, level: int, threads: int = 0, only: Optional[List[str]] = None) -> List[Row]:
    rows: List[Row] = []
    for v in VARIANTS:
        if only and v.key not in only:
            continue
        print(f"[ablation] {v.name}...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        blob = _compress(data, level, threads, vocab_size=v.vocab_size, adjust=v.adjust)
        seconds = time.perf_counter() - t0
        rows.append(Row(v.key, v.name, len(blob), params_bytes(blob), seconds,
                        decompress(blob, threads=threads) == data))
    return rows


def table(rows: List[Row], n_bytes: int) -> str:
    lines = ["| configuration | bytes | of which parameters | bpb | change | compress s | round trip |",
             "|---|---:|---:|---:|---:|---:|---|"]
    above = level = None  # model bytes of the row above (switching components on) and of the level's row
    for r in rows:
        base = level if r.key in AGAINST_LEVEL else above
        if base is None:
            delta = "-" if r.key in AGAINST_LEVEL else ""  # the level's row was not run; the first row
        else:
            delta = f"{(r.model_bytes / base - 1) * 100:+.2f}%"
        lines.append(f"| {r.name} | {r.bytes:,} | {r.params_bytes:,} | {r.bytes * 8 / n_bytes:.4f} | {delta} | "
                     f"{r.seconds:.1f} | {'exact' if r.roundtrip else 'FAILED'} |")
        if r.key == LEVEL_KEY:
            level = r.model_bytes
        if r.key not in AGAINST_LEVEL:
            above = r.model_bytes
    return "\n".join(lines)


def ssm_worth(rows: List[Row]) -> Optional[str]:
    """The sentence on what training the SSM saves, if both the level's row
    and the frozen row were run."""
    by_key = {r.key: r for r in rows}
    level, frozen = by_key.get(LEVEL_KEY), by_key.get("frozen")
    if level is None or frozen is None or level.params_bytes:  # a level without every family
        return None
    saves = (1 - level.model_bytes / frozen.model_bytes) * 100
    return (f"Training the SSM saves {saves:.2f}%: {level.model_bytes:,} bytes against "
            f"{frozen.model_bytes:,} with it frozen, parameter blocks left out "
            f"({level.params_bytes:,} and {frozen.params_bytes:,} bytes).")


def main(argv: Optional[List[str]] = None) -> int:
    from .benchmark import find_data, level_number, positive_int, thread_count
    from .corpus import refuse_missing_data

    ap = argparse.ArgumentParser(prog="statesmix bench --ablation", description=__doc__)
    ap.add_argument("--data", help="input file (default: the enwik8 prefix in ../shared/data)")
    ap.add_argument("--size", type=positive_int, default=1_000_000,
                    help="bytes of the input to use (default 1000000)")
    ap.add_argument("-l", "--level", type=level_number, default=DEFAULT_LEVEL,
                    help="level whose parameters are ablated")
    ap.add_argument("-T", "--threads", type=thread_count, default=0, help="threads (0 = all cores)")
    ap.add_argument("--only", help="comma-separated rows to run (of: %s)" % ", ".join(v.key for v in VARIANTS))
    args = ap.parse_args(argv)
    only = args.only.split(",") if args.only else None
    if only:
        unknown = [k for k in only if k not in {v.key for v in VARIANTS}]
        if unknown:
            ap.error("unknown rows: " + ", ".join(unknown))
    refuse_missing_data(ap, args.data)
    path = find_data(args.data)
    with open(path, "rb") as f:
        data = f.read(args.size)
    if not data:
        ap.exit(2, f"{ap.prog}: error: {path} is empty\n")
    rows = run(data, args.level, args.threads, only)
    print(f"Ablation on the first {len(data):,} bytes, level {args.level}:\n")
    print(table(rows, len(data)))
    worth = ssm_worth(rows)
    if worth:
        print("\n" + worth)
    return 0 if all(r.roundtrip for r in rows) else 1
