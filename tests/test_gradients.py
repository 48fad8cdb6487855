"""The hand-written Mamba backward pass agrees with finite differences.

Compiles csrc/ with a small driver (tests/c/gradcheck.c) using the same
compiler the extension is built with, so a wrong gradient fails here rather
than silently slowing learning.
"""

import os
import shutil
import subprocess

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..")
CSRC = os.path.join(ROOT, "csrc")


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_backward_matches_finite_differences(tmp_path):
    exe = tmp_path / "gradcheck"
    sources = [os.path.join(CSRC, f)
               for f in ("model.c", "optim.c", "table_alloc.c", "kernels_scalar.c", "kernels_avx2.c")]
    subprocess.run(
        ["gcc", "-O1", "-std=c11", "-ffp-contract=off", "-fno-math-errno", "-fopenmp", "-I", CSRC,
         os.path.join(os.path.dirname(__file__), "c", "gradcheck.c"), *sources, "-lm", "-o", str(exe)],
        check=True,
    )
    out = subprocess.run([str(exe)], stdout=subprocess.PIPE, text=True)
    groups = [line.split()[0] for line in out.stdout.splitlines() if "maxrel" in line]
    assert len(groups) == 16, out.stdout
    assert out.returncode == 0, "gradient mismatch:\n" + out.stdout
