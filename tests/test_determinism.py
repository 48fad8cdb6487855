"""The compressed bytes depend on neither the thread count nor the ISA path,
and every combination decodes every other's output."""

import ast
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..")

SCRIPT = r"""
import sys, statesmix
from statesmix._native import Engine, byte_pieces
from statesmix.params import Params
mode, path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "isa":
    print(Engine(Params(vocab=256, table_bits=10, pool_limit=1024), byte_pieces(256)).isa)
elif mode == "compress":
    data = open(path, "rb").read()
    sys.stdout.buffer.write(statesmix.compress(data, level=int(sys.argv[4]), threads=threads))
else:
    sys.stdout.buffer.write(statesmix.decompress(open(path, "rb").read(), threads=threads))
"""

# (threads, environment): the thread count is passed to the API, which gives
# a lone block all of them (its training pipeline on a second thread); the
# default, 0, is every core whatever OMP_NUM_THREADS says.
COMBOS = {
    "avx2-1thread": (1, {}),
    "avx2-2threads": (2, {}),
    "scalar-1thread": (1, {"STATESMIX_FORCE_SCALAR": "1"}),
    "scalar-2threads": (2, {"STATESMIX_FORCE_SCALAR": "1"}),
}


def run(mode, path, combo, *extra):
    threads, env_extra = combo
    env = dict(os.environ)
    env.pop("STATESMIX_FORCE_SCALAR", None)
    env.update(env_extra)
    # run outside the source tree, so the installed package is what imports
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode, path, str(threads), *extra], env=env,
                         stdout=subprocess.PIPE, check=True, cwd=tempfile.gettempdir())
    return out.stdout


def test_force_scalar_switches_the_kernels():
    assert run("isa", "-", COMBOS["scalar-1thread"]).strip() == b"scalar"
    assert run("isa", "-", COMBOS["avx2-1thread"]).strip() in (b"avx2", b"scalar")


@pytest.mark.parametrize("level", [1, 6])
def test_same_bytes_for_every_thread_count_and_isa(tmp_path, text, level):
    # Long enough for the training pipeline (after the warm-up chunks).
    data = text[:150_000] + bytes(range(256)) * 4
    src = tmp_path / "in"
    src.write_bytes(data)
    outputs = {name: run("compress", str(src), combo, str(level)) for name, combo in COMBOS.items()}
    reference = outputs["avx2-1thread"]
    for name, blob in outputs.items():
        assert blob == reference, f"{name} produced different bytes"
    packed = tmp_path / "in.smx"
    packed.write_bytes(reference)
    for name in ("scalar-2threads", "avx2-2threads"):
        assert run("decompress", str(packed), COMBOS[name]) == data


def test_the_build_never_relaxes_floating_point():
    """statesmix/_build.py compiles with -ffp-contract=off and refuses
    -ffast-math, -Ofast and -march=native, also when CFLAGS brings them
    (read from the checkout, as tests/test_kernels.py reads its flags)."""
    build = os.path.join(ROOT, "statesmix", "_build.py")
    with open(build) as f:
        tree = ast.parse(f.read())
    flags = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                 and any(getattr(t, "id", None) == "CFLAGS" for t in node.targets))
    assert "-ffp-contract=off" in flags
    for flag in ("-ffast-math", "-Ofast", "-march=native"):
        assert flag not in flags
        # run_path, not __main__: the builder is loaded, never compiled
        out = subprocess.run([sys.executable, "-c", "import runpy, sys; runpy.run_path(sys.argv[1])", build],
                             env=dict(os.environ, CFLAGS=f"-O2 {flag}"), capture_output=True, text=True,
                             cwd=tempfile.gettempdir())
        assert out.returncode != 0 and f"refuses to build with {flag}" in out.stderr, out.stderr


_LIBM = {name + suffix for name in ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "pow", "sqrt",
                                    "cbrt", "tanh", "sinh", "cosh", "sin", "cos", "tan", "erf", "erfc",
                                    "lgamma", "tgamma", "hypot", "fma")
         for suffix in ("", "f", "l")}


@pytest.mark.skipif(shutil.which("nm") is None, reason="needs nm")
def test_the_extension_calls_no_libm_function():
    """exp, log, sqrt and friends are the project's own (csrc/smx_math.h):
    the compiled core imports none of libm's, whose last bits differ
    between library versions."""
    from statesmix import _statesmix

    out = subprocess.run(["nm", "-D", "--undefined-only", _statesmix.__file__], capture_output=True,
                         text=True, check=True).stdout
    imported = {line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()}
    assert imported and not imported & _LIBM, sorted(imported & _LIBM)
