#!/usr/bin/env python3
"""What training the SSM saves, by how much of a file it has coded.

``python bench/ssm_worth.py FILE [--sizes 100000,300000,1000000] [--level 6]
[--threads 2] [--seed S] [--check]`` compresses the first N bytes of FILE,
for each N, twice as ``statesmix bench --ablation`` does: at the level, and
with the SSM frozen at its initial weights (``lr`` 0). It prints a table of
the two sizes, the share training saves, and the share it saves on the bytes
since the row above: the SSM learns from what it codes, so its worth on the
newest bytes is what it has learnt so far (bench/README.md, "After format
18: measured and not kept (a seventh session)").

A file that changes the level's parameters stores them in a block of its
own; those blocks are left out of both sizes (``ablation.params_bytes``), so
a frozen or reseeded run is compared by what it codes, not by the header.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, List, NamedTuple, Optional, Sequence

from statesmix.ablation import VARIANTS, params_bytes
from statesmix.api import _compress, decompress
from statesmix.params import DEFAULT_LEVEL, Params


# The ablation's own "frozen" row (lr 0), so that the two measure the same thing.
_FROZEN = {v.key: v for v in VARIANTS}["frozen"].adjust


class Point(NamedTuple):
    size: int     # bytes of the input's prefix
    trained: int  # compressed, parameter blocks left out
    frozen: int


def _coded_bytes(data: bytes, level: int, threads: int, adjust: Optional[Callable[[Params], Params]],
                 check: bool) -> int:
    blob = _compress(data, level, threads, adjust=adjust)
    if check and decompress(blob) != data:
        raise SystemExit(f"the first {len(data):,} bytes did not decode back exactly")
    return len(blob) - params_bytes(blob)


def measure(data: bytes, sizes: Sequence[int], level: int = DEFAULT_LEVEL, threads: int = 2,
            seed: Optional[int] = None, check: bool = False) -> List[Point]:
    """Trained and frozen sizes of each prefix of data (sizes in increasing order)."""
    def reseeded(p: Params) -> Params:
        return p if seed is None else p.replace(seed=seed)

    points = []
    for size in sizes:
        prefix = data[:size]
        points.append(Point(len(prefix), _coded_bytes(prefix, level, threads, reseeded, check),
                            _coded_bytes(prefix, level, threads, lambda p: reseeded(_FROZEN(p)), check)))
    return points


def _saves(trained: int, frozen: int) -> str:
    return f"{(1 - trained / frozen) * 100:.2f}%" if frozen > 0 else "-"


def table(points: Sequence[Point]) -> str:
    """A markdown table: each prefix, then the worth on the bytes since the row above."""
    lines = ["| bytes | trained | frozen | trained vs frozen | on the bytes since the row above |",
             "|---:|---:|---:|---:|---:|"]
    before = Point(0, 0, 0)
    for p in points:
        lines.append(f"| {p.size:,} | {p.trained:,} | {p.frozen:,} | {_saves(p.trained, p.frozen)} | "
                     f"{_saves(p.trained - before.trained, p.frozen - before.frozen)} |")
        before = p
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file")
    ap.add_argument("--sizes", default="100000,300000,600000,1000000",
                    help="prefix lengths in bytes, comma-separated (default: %(default)s)")
    ap.add_argument("-l", "--level", type=int, default=DEFAULT_LEVEL)
    ap.add_argument("-T", "--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=None, help="the SSM's seed in both runs (stores a parameter block)")
    ap.add_argument("--check", action="store_true", help="decode every file back and compare")
    args = ap.parse_args(argv)
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        ap.error(f"--sizes takes whole numbers separated by commas, not {args.sizes!r}")
    if not sizes or sizes[0] <= 0:
        ap.error("--sizes needs at least one positive length")
    with open(args.file, "rb") as f:
        data = f.read(sizes[-1])
    sizes = [s for s in sizes if s <= len(data)] or [len(data)]
    print(table(measure(data, sizes, args.level, args.threads, args.seed, args.check)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
