#!/usr/bin/env python3
"""Writes N bytes of generated, text-like input to stdout, the same bytes on
every run: Zipf-distributed random words in capitalised lines, with some
wiki-style links and numbers. Used to show statesmix's memory cap on inputs
far larger than the enwik8 prefix:

    python bench/gen_text.py 67108864 > gen64
    /usr/bin/time -f %M statesmix compress -l 6 -c - < gen64 > gen64.smx
"""

import random
import sys


def main() -> None:
    n = int(sys.argv[1])
    rng = random.Random(2026)
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(20000)]
    weights = [1.0 / (i + 1) for i in range(len(words))]
    out = sys.stdout.buffer
    written = 0
    while written < n:
        ws = rng.choices(words, weights, k=4000)
        lines = []
        for i in range(0, 4000, 12):
            line = " ".join(ws[i : i + 12])
            if rng.random() < 0.2:
                line += " [[%s]] %d" % (ws[i], rng.randint(1, 2026))
            lines.append(line.capitalize() + ".")
        blob = ("\n".join(lines) + "\n").encode()[: n - written]
        out.write(blob)
        written += len(blob)


if __name__ == "__main__":
    main()
