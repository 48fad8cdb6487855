"""A small run of the mutation campaign (bench/fuzz.py; the full one is
`python bench/fuzz.py --n 10000`): every mutated file must raise
StatesmixError with a message or decode to what it holds, in its own
worker process, within the time limit, without crashing."""

import random

import pytest

from conftest import load_bench_module

fuzz = load_bench_module("fuzz")


@pytest.fixture(scope="module")
def seeds():
    return fuzz.make_seeds([1])


def test_dissect_and_assemble_are_inverse(seeds):
    for level, original, blob in seeds.values():
        streams = fuzz.dissect(blob)
        assert fuzz.assemble(streams) == blob
        assert sum(e.raw_len for s in streams for e in s.entries) == len(original)


def test_seeds_cover_what_the_format_can_hold(seeds):
    from statesmix.container import FRAME_STORED
    from statesmix.info import scan

    kinds = set()
    for _, _, blob in seeds.values():
        for b in scan(blob).blocks:
            kinds.add("bpe" if b.header.vocab.size > 256 else "bytes")
            kinds.add("explicit" if b.header.explicit_params else "level")
            if b.frames[FRAME_STORED]:
                kinds.add("stored")
        if len(fuzz.dissect(blob)) > 1:
            kinds.add("concatenated")
        if len(scan(blob).blocks) > 1:
            kinds.add("blocks")
    assert kinds == {"bpe", "bytes", "explicit", "level", "stored", "concatenated", "blocks"}


def test_every_mutation_changes_the_file(seeds):
    rng = random.Random(3)
    names = sorted(seeds)
    for kind in fuzz.KINDS:
        changed = 0
        for _ in range(10):
            _, original, blob = seeds[rng.choice(names)]
            mutant, _ = fuzz.mutate(rng, blob, seeds[rng.choice(names)][2], kind, original)
            changed += mutant != blob
        assert changed >= 5, kind


def test_info_on_mutants_reports_or_raises_cleanly(seeds):
    """statesmix info reads only a file's structure: on a mutant it must
    describe it or raise StatesmixError, and must not call a file that
    decodes corrupt or truncated (its exit status would then lie)."""
    import statesmix
    from statesmix import StatesmixError
    from statesmix.info import describe

    rng = random.Random(17)
    names = sorted(seeds)
    for i in range(4 * len(fuzz.KINDS)):
        _, original, blob = seeds[rng.choice(names)]
        mutant, _ = fuzz.mutate(rng, blob, seeds[rng.choice(names)][2], fuzz.KINDS[i % len(fuzz.KINDS)], original)
        try:
            _, problem = describe(lambda o, n: mutant[o : o + n], len(mutant), "mutant")
        except StatesmixError as exc:
            assert str(exc)
            continue
        if problem:
            with pytest.raises(StatesmixError):
                statesmix.decompress(mutant, threads=1)


def test_small_campaign():
    # two of each mutation per way of decoding, at levels 1 and 9
    report = fuzz.campaign(n=2 * 3 * len(fuzz.KINDS), levels=[1, 9], seed=11, timeout=60, jobs=2)
    assert report.cases == 2 * 3 * len(fuzz.KINDS)
    assert report.bad == 0, report.failures
    assert report.outcomes["error"] > report.cases // 2
