"""Every AVX2 kernel gives its scalar twin's results bit for bit.

Compiles the kernels with a small driver (tests/c/kernelcheck.c) with the
extension's own flags and runs them on random inputs of every
length from 1 to 100, so the vector tails are covered too; the whole-file
tests in test_determinism.py only reach the lengths the levels use.
The table allocator's populating (tests/c/tablecheck.c) is checked the same
way: compiled with a driver, run on its own.
"""

import ast
import os
import shutil
import subprocess

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..")
CSRC = os.path.join(ROOT, "csrc")


def build_flags() -> list:
    """CFLAGS as statesmix/_build.py spells them (read from the checkout: an
    installed statesmix._build looks for csrc/ beside itself)."""
    with open(os.path.join(ROOT, "statesmix", "_build.py")) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "CFLAGS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("statesmix/_build.py has no CFLAGS list")


def run_driver(tmp_path, driver: str, sources: list, extra_flags: tuple = ()) -> subprocess.CompletedProcess:
    """Compiles tests/c/<driver>.c with the given csrc/ files and the
    extension's flags, and runs it."""
    exe = tmp_path / driver
    subprocess.run(
        ["gcc", *build_flags(), *extra_flags, "-I", CSRC,
         os.path.join(os.path.dirname(__file__), "c", driver + ".c"),
         *[os.path.join(CSRC, f) for f in sources], "-o", str(exe)],
        check=True,
    )
    return subprocess.run([str(exe)], stdout=subprocess.PIPE, text=True)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_avx2_kernels_match_the_scalar_ones_bit_for_bit(tmp_path):
    out = run_driver(tmp_path, "kernelcheck", ["kernels_scalar.c", "kernels_avx2.c"])
    if out.returncode == 77:
        pytest.skip("this CPU has no AVX2")
    assert out.returncode == 0, out.stdout
    assert out.stdout.startswith("ok "), out.stdout


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_populating_a_table_ahead_changes_none_of_its_bytes(tmp_path):
    """The engine's prefault thread (table_alloc.h) runs while the coding
    thread writes the same tables: populating must leave every byte alone."""
    out = run_driver(tmp_path, "tablecheck", ["table_alloc.c"], ("-pthread",))
    assert out.returncode == 0, out.stdout
    assert out.stdout.startswith("ok "), out.stdout
