"""Importing a source tree whose C core was never built says how to build it."""

import shutil
import subprocess
import sys
from pathlib import Path

import statesmix


def test_missing_extension_says_how_to_install(tmp_path):
    tree = tmp_path / "checkout"
    shutil.copytree(Path(statesmix.__file__).parent, tree / "statesmix",
                    ignore=shutil.ignore_patterns("_statesmix*", "__pycache__"))
    # an editable install's import hook would find the built extension in the
    # real checkout: leave it out, as a plain checkout has none
    code = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'ditable' not in repr(f)]; "
            "import statesmix")
    r = subprocess.run([sys.executable, "-c", code], cwd=tree, capture_output=True, text=True)
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError:") and "pip install ." in last and "statesmix._statesmix" in last
