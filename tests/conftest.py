import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", deadline=None, max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "enwik8_prefix_4154399")


def _sample_text(n: int = 60_000) -> bytes:
    """Real text when the shared enwik8 prefix is present, else generated wiki-like text."""
    if os.path.exists(DATA):
        with open(DATA, "rb") as f:
            return f.read(n)
    import random

    # Zipf-distributed words over a few thousand types with wiki-like markup,
    # varied enough for a 1024-token BPE to learn its merges.
    rng = random.Random(7)
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(1, 9))) for _ in range(3000)]
    weights = [1.0 / (i + 1) for i in range(len(words))]
    out, size = [], 0
    while size < n:
        line = " ".join(rng.choices(words, weights, k=12)).capitalize()
        if rng.random() < 0.3:
            line += " [[%s|%s]] &quot;%d&quot;" % (rng.choice(words), rng.choice(words), rng.randint(1, 2026))
        out.append(line + ".\n")
        size += len(out[-1])
    return "".join(out).encode()[:n]


@pytest.fixture(scope="session")
def text() -> bytes:
    return _sample_text()


def load_bench_module(name: str):
    """A module from bench/ (tools, not part of the installed package)."""
    import importlib.util
    import sys

    key = f"bench_{name}"
    if key in sys.modules:
        return sys.modules[key]
    path = os.path.join(os.path.dirname(__file__), "..", "bench", f"{name}.py")
    spec = importlib.util.spec_from_file_location(key, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module
