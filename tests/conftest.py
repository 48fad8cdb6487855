import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", deadline=None, max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "enwik8_prefix_4154399")


def _sample_text() -> bytes:
    """Real text when the shared enwik8 prefix is present, else generated wiki-like text."""
    if os.path.exists(DATA):
        with open(DATA, "rb") as f:
            return f.read(60_000)
    import random

    rng = random.Random(7)
    words = ["the", "of", "and", "[[link]]", "&quot;", "state", "space", "model", "\n", "<page>", "1998"]
    return " ".join(rng.choice(words) for _ in range(12_000)).encode()


@pytest.fixture(scope="session")
def text() -> bytes:
    return _sample_text()
