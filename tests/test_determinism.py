"""The compressed bytes depend on neither the thread count nor the ISA path,
and every combination decodes every other's output."""

import os
import subprocess
import sys
import tempfile

import pytest

SCRIPT = r"""
import sys, statesmix
from statesmix._native import Engine, byte_pieces
from statesmix.params import Params
mode, path = sys.argv[1], sys.argv[2]
if mode == "isa":
    print(Engine(Params(vocab=256, table_bits=10, pool_limit=1024), byte_pieces(256)).isa)
elif mode == "compress":
    data = open(path, "rb").read()
    sys.stdout.buffer.write(statesmix.compress(data, level=int(sys.argv[3])))
else:
    sys.stdout.buffer.write(statesmix.decompress(open(path, "rb").read()))
"""

COMBOS = {
    "avx2-1thread": {"OMP_NUM_THREADS": "1"},
    "avx2-2threads": {"OMP_NUM_THREADS": "2"},
    "scalar-1thread": {"OMP_NUM_THREADS": "1", "STATESMIX_FORCE_SCALAR": "1"},
    "scalar-2threads": {"OMP_NUM_THREADS": "2", "STATESMIX_FORCE_SCALAR": "1"},
}


def run(mode, path, env_extra, *extra):
    env = dict(os.environ)
    env.pop("STATESMIX_FORCE_SCALAR", None)
    env.update(env_extra)
    # run outside the source tree, so the installed package is what imports
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode, path, *extra], env=env,
                         stdout=subprocess.PIPE, check=True, cwd=tempfile.gettempdir())
    return out.stdout


def test_force_scalar_switches_the_kernels():
    assert run("isa", "-", COMBOS["scalar-1thread"]).strip() == b"scalar"
    assert run("isa", "-", COMBOS["avx2-1thread"]).strip() in (b"avx2", b"scalar")


@pytest.mark.parametrize("level", [1, 6])
def test_same_bytes_for_every_thread_count_and_isa(tmp_path, text, level):
    # Large enough for the training pipeline (after the warm-up chunks) and two frames.
    data = text[:150_000] + bytes(range(256)) * 4
    src = tmp_path / "in"
    src.write_bytes(data)
    outputs = {name: run("compress", str(src), env, str(level)) for name, env in COMBOS.items()}
    reference = outputs["avx2-1thread"]
    for name, blob in outputs.items():
        assert blob == reference, f"{name} produced different bytes"
    packed = tmp_path / "in.smx"
    packed.write_bytes(reference)
    for name in ("scalar-2threads", "avx2-2threads"):
        assert run("decompress", str(packed), COMBOS[name]) == data
