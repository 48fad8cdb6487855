#!/usr/bin/env python3
"""Times the tokenizer alone on benchmark files: tokens, bytes per token,
training and encoding seconds, round trip. Each file runs in a child process
killed after --timeout seconds, so an input that stalls the tokenizer is
reported instead of hanging the run.

    python bench/tokenize.py --set shapes --timeout 300
    python bench/tokenize.py FILE ...

The vocabulary is the default level's for each file's size (384 ids above
64 KB). Times are wall seconds of one run: rough on a shared machine.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, time
from statesmix.params import DEFAULT_LEVEL, get_level
from statesmix.tokenizer import Tokenizer
data = open(sys.argv[1], "rb").read()
t0 = time.perf_counter()
tok = Tokenizer.train(data, get_level(DEFAULT_LEVEL).vocab_size(len(data)))
t1 = time.perf_counter()
ids = tok.encode(data)
t2 = time.perf_counter()
print(json.dumps({"tokens": int(ids.size), "train_s": t1 - t0, "encode_s": t2 - t1,
                  "roundtrip": tok.vocab.decode(ids) == data}))
"""


def measure(path: str, timeout: float) -> dict:
    row = {"file": os.path.basename(path), "bytes": os.path.getsize(path)}
    try:
        # The child starts in the temporary directory: started in a checkout,
        # "-c" would import its source tree instead of the installed package.
        proc = subprocess.run([sys.executable, "-c", CHILD, os.path.abspath(path)], capture_output=True,
                              text=True, timeout=timeout, cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired:
        return dict(row, error=f"not done in {timeout:g} s")
    if proc.returncode != 0:
        return dict(row, error=proc.stderr.strip().splitlines()[-1][:200])
    return dict(row, **json.loads(proc.stdout))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", help="files to tokenize (default: the files of --set)")
    ap.add_argument("--set", default="shapes", help="benchmark set(s) to build and tokenize (statesmix/corpus.py)")
    ap.add_argument("--only", help="comma-separated parts of file names to keep")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per file (default 300)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="smx-tok-") as tmp:
        paths = args.files
        if not paths:
            from statesmix import corpus

            chosen = corpus.chosen_entries(ap, args.set.split(","), args.only)
            paths = [r["path"] for r in corpus.build(chosen, tmp)]
        print("| file | bytes | tokens | bytes/token | train s | encode s | round trip |")
        print("|---|---:|---:|---:|---:|---:|---|")
        failed = False
        for path in paths:
            r = measure(path, args.timeout)
            if "error" in r:
                failed = True
                print(f"| {r['file']} | {r['bytes']:,} | {r['error']} | | | | |", flush=True)
                continue
            failed |= not r["roundtrip"]
            print(f"| {r['file']} | {r['bytes']:,} | {r['tokens']:,} | {r['bytes'] / max(1, r['tokens']):.2f} | "
                  f"{r['train_s']:.2f} | {r['encode_s']:.2f} | {'ok' if r['roundtrip'] else 'FAIL'} |", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
