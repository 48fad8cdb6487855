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


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_avx2_kernels_match_the_scalar_ones_bit_for_bit(tmp_path):
    exe = tmp_path / "kernelcheck"
    sources = [os.path.join(CSRC, f) for f in ("kernels_scalar.c", "kernels_avx2.c")]
    subprocess.run(
        ["gcc", *build_flags(), "-I", CSRC,
         os.path.join(os.path.dirname(__file__), "c", "kernelcheck.c"), *sources, "-o", str(exe)],
        check=True,
    )
    out = subprocess.run([str(exe)], stdout=subprocess.PIPE, text=True)
    if out.returncode == 77:
        pytest.skip("this CPU has no AVX2")
    assert out.returncode == 0, out.stdout
    assert out.stdout.startswith("ok "), out.stdout


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_populating_a_table_ahead_changes_none_of_its_bytes(tmp_path):
    """The engine's prefault thread (table_alloc.h) runs while the coding
    thread writes the same tables: populating must leave every byte alone."""
    exe = tmp_path / "tablecheck"
    subprocess.run(
        ["gcc", *build_flags(), "-pthread", "-I", CSRC,
         os.path.join(os.path.dirname(__file__), "c", "tablecheck.c"), os.path.join(CSRC, "table_alloc.c"),
         "-o", str(exe)],
        check=True,
    )
    out = subprocess.run([str(exe)], stdout=subprocess.PIPE, text=True)
    assert out.returncode == 0, out.stdout
    assert out.stdout.startswith("ok "), out.stdout
