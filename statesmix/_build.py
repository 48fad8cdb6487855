"""cffi builder (API mode): compiles csrc/ into statesmix._statesmix.

Run by setup.py through ``cffi_modules``. The flags are part of the
determinism contract (README.md, "Determinism"): no -ffast-math or -Ofast,
no FMA contraction, and no -march=native, so a file compressed on one
x86-64 machine decodes on any other. AVX2 kernels carry their own target
attribute and are chosen at run time.
"""

from __future__ import annotations

import os
import re

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(os.path.dirname(HERE), "csrc")

SOURCES = [
    "engine.c",
    "model.c",
    "optim.c",
    "ngram.c",
    "tokenmix.c",
    "match.c",
    "ssm_context.c",
    "predictor.c",
    "bitstate.c",
    "ctxmap.c",
    "table_alloc.c",
    "history.c",
    "bitmixer.c",
    "apm.c",
    "model_orders.c",
    "model_words.c",
    "model_sparse.c",
    "model_records.c",
    "model_tokens.c",
    "model_indirect.c",
    "model_nest.c",
    "model_lines.c",
    "model_match.c",
    "model_direct.c",
    "rangecoder.c",
    "kernels_scalar.c",
    "kernels_avx2.c",
]

CFLAGS = [
    "-std=c11",
    "-O3",
    "-ffp-contract=off",  # never fuse a*b+c: scalar and AVX2 paths must round alike
    "-fno-math-errno",  # lets sqrtf be the (correctly rounded) sqrtss instruction
    "-fopenmp",
    "-Wall",
]

# STATESMIX_SANITIZE=address,undefined,float-cast-overflow (say) builds a
# debugging variant under those sanitizers, every table from calloc so that
# AddressSanitizer sees its end (table_alloc.c); run it with LD_PRELOAD=$(gcc
# -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0. Unset, the default,
# the build is unchanged.
SANITIZE = os.environ.get("STATESMIX_SANITIZE", "")
SANITIZE_FLAGS = (
    [f"-fsanitize={SANITIZE}", "-fno-omit-frame-pointer", "-g", "-O1", "-DSMX_PLAIN_TABLES"] if SANITIZE else []
)

FORBIDDEN = ("-ffast-math", "-Ofast", "-funsafe-math-optimizations", "-march=native")


def _public_declarations() -> str:
    """The cdef is the public header minus preprocessor lines."""
    with open(os.path.join(CSRC, "statesmix.h"), encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    lines = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            m = re.match(r"\s*#define\s+(SMX_\w+)\s+(\d+)u?\s*$", line)
            if m:
                lines.append(f"#define {m.group(1)} {m.group(2)}")
            continue
        lines.append(line)
    return "\n".join(lines)


for flag in CFLAGS + os.environ.get("CFLAGS", "").split():
    if flag in FORBIDDEN:
        raise RuntimeError(f"statesmix refuses to build with {flag}: it breaks bit-exact decoding")

ffibuilder = FFI()
ffibuilder.cdef(_public_declarations())
ffibuilder.set_source(
    "statesmix._statesmix",
    '#include "statesmix.h"',
    sources=[os.path.relpath(os.path.join(CSRC, s)) for s in SOURCES],
    include_dirs=[os.path.relpath(CSRC)],
    extra_compile_args=CFLAGS + SANITIZE_FLAGS,
    extra_link_args=["-fopenmp"] + SANITIZE_FLAGS,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
