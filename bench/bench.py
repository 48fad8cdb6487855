#!/usr/bin/env python3
"""The enwik8 benchmark: ``python bench/bench.py [options]`` (same as ``statesmix bench``)."""

import sys

from statesmix.benchmark import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
