#!/usr/bin/env python3
"""Recreates the benchmark sets (mixed corpus, inputs of every shape, small
inputs) from files any Linux machine with Python has, plus seeded generators:
``python bench/corpus.py OUTDIR [--set mixed|shapes|small|all]``.
The code and the list of files are in statesmix/corpus.py; the file table with
origins and sizes is in bench/README.md."""

import sys

from statesmix.corpus import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
