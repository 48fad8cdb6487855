"""The C engine through its binding: coder precision, parameter checks, ISA kernels."""

import subprocess
import sys

import numpy as np
import pytest

from statesmix import StatesmixError
from statesmix._native import Engine, byte_pieces, check_params, engine_memory
from statesmix.params import Params
from statesmix.tokenizer import Tokenizer


def test_coder_overhead_below_a_tenth_of_a_percent(text):
    tok = Tokenizer.train(text, 1024)
    ids = tok.encode(text)
    e = Engine(Params(vocab=tok.vocab.size, bin_bits=16).size_for(len(ids)), tok.vocab.pieces, threads=1)
    payload = e.encode(ids)
    _, model_bits, coded_bits = e.stats()
    # the integer frequencies (2^-24 floor) cost almost nothing over the float model ...
    assert coded_bits <= model_bits * 1.001
    # ... and the range coder spends almost exactly what it is asked to
    assert len(payload) * 8 <= coded_bits * 1.001 + 8 * 8


def test_decode_reproduces_encode():
    rng = np.random.default_rng(5)
    ids = rng.integers(0, 300, size=3000).astype(np.uint32)
    ids[1000:2000] = ids[:1000]  # something to learn
    p = Params(vocab=300, table_bits=12, pool_limit=50_000)
    enc = Engine(p, byte_pieces(300), threads=1)
    frames = [enc.encode(ids[:1234]), enc.encode(ids[1234:])]
    dec = Engine(p, byte_pieces(300), threads=2)
    a, used_a = dec.decode(frames[0], 1234)
    b, used_b = dec.decode(frames[1], len(ids) - 1234)
    assert used_a == len(frames[0]) and used_b == len(frames[1])
    assert np.array_equal(np.concatenate([a, b]), ids)


def test_an_engine_between_frames_sleeps():
    """Between frames (a stream waiting for input) the training thread of an
    engine with threads=2 waits for work: it spins for about 1.6 ms, then
    sleeps. An idle second must cost next to no CPU time."""
    import resource
    import time

    def cpu_seconds() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    rng = np.random.default_rng(6)
    ids = rng.integers(0, 300, size=4000).astype(np.uint32)
    p = Params(vocab=300, table_bits=12, pool_limit=50_000, steps_rest=1)  # past the warm-up: the worker trains
    enc = Engine(p, byte_pieces(300), threads=2)
    frames = [enc.encode(ids[:3000])]
    time.sleep(0.05)
    before = cpu_seconds()
    time.sleep(1.0)
    idle = cpu_seconds() - before
    frames.append(enc.encode(ids[3000:]))
    assert idle < 0.25, f"{idle:.2f} s of CPU time while the engine waited 1 s for its next frame"
    dec = Engine(p, byte_pieces(300), threads=1)
    a, _ = dec.decode(frames[0], 3000)
    b, _ = dec.decode(frames[1], 1000)
    assert np.array_equal(np.concatenate([a, b]), ids)


def test_token_out_of_range():
    e = Engine(Params(vocab=300, table_bits=10, pool_limit=1024), byte_pieces(300))
    with pytest.raises(StatesmixError, match="outside the vocabulary"):
        e.encode(np.array([1, 2, 300], dtype=np.uint32))


@pytest.mark.parametrize("ids", [
    np.array([1, 2**32 + 5], dtype=np.int64),   # would wrap to 5
    np.array([1, -2**32 + 5], dtype=np.int64),  # would wrap to 5
    np.array([1.0, 0.7]),                       # would truncate to 0
    np.array([True, False]),
    np.array([1, 2], dtype=object),
], ids=["int64 above 2**32", "int64 below -2**32", "float", "bool", "object"])
def test_token_ids_are_checked_before_the_cast(ids):
    """Ids that are not unsigned integers below the vocabulary are refused,
    not cast to others: a cast would code other tokens without a word."""
    e = Engine(Params(vocab=300, table_bits=10, pool_limit=1024), byte_pieces(300))
    with pytest.raises(StatesmixError):
        e.encode(ids)


def test_a_payload_is_measured_in_bytes():
    e = Engine(Params(vocab=300, table_bits=10, pool_limit=1024), byte_pieces(300))
    ids = np.arange(200, dtype=np.uint32) % 300
    payload = e.encode(ids)
    payload += bytes(-len(payload) % 4)  # whole 4-byte items; the decoder stops at its end
    d = Engine(Params(vocab=300, table_bits=10, pool_limit=1024), byte_pieces(300))
    tokens, _ = d.decode(memoryview(payload).cast("I"), ids.size)
    assert np.array_equal(tokens, ids)


def test_truncated_payload_never_reads_out_of_bounds():
    p = Params(vocab=300, table_bits=10, pool_limit=4096)
    payload = Engine(p, byte_pieces(300)).encode(np.arange(200, dtype=np.uint32) % 300)
    tokens, used = Engine(p, byte_pieces(300)).decode(payload[:5], 200)
    assert tokens.shape == (200,) and int(tokens.max()) < 300
    assert used > 5  # it noticed it ran past the end


@pytest.mark.parametrize(
    "change, message",
    [
        ({"vocab": 1}, "vocab"),
        ({"vocab": 70000}, "vocab"),
        ({"n_layers": 0}, "n_layers"),
        ({"n_layers": 9}, "n_layers"),
        ({"d_inner": 4096, "d_state": 64}, "d_inner"),
        ({"lr": float("nan")}, "lr"),
        ({"table_bits": 40}, "table_bits"),
        ({"pool_limit": 1 << 30}, "pool_limit"),
        ({"orders": [3, 2, 1, 4, 5, 6, 7, 15, 31]}, "ascend"),
        ({"orders": [1, 2, 3, 4, 5, 6, 7, 15, 64]}, "orders"),
        ({"head_bias": 2}, "head_bias"),
        ({"ssm_hidden": -0.5}, "ssm_hidden"),
        ({"ssm_hidden": float("inf")}, "ssm_hidden"),
        ({"replay": -0.5}, "replay"),
        ({"replay": float("nan")}, "replay"),
        ({"replay": 0.5, "replay_chunks": (1 << 20) + 1}, "replay_chunks"),
        ({"replay": 0.5, "replay_extra": 5}, "replay_extra"),
        ({"emb_lr_scale": -0.01}, "emb_lr_scale"),
        ({"emb_lr_scale": 65.0}, "emb_lr_scale"),
        ({"emb_lr_scale": float("nan")}, "emb_lr_scale"),
        ({"replay": 0.5, "replay_candidates": 5}, "replay_candidates"),
        ({"bin_top_select": 2}, "bin_top_select"),
        ({"mix_ssm_weight": 2}, "mix_ssm_weight"),
        ({"mix_ssm_prior": 2}, "mix_ssm_prior"),
        ({"adam_surge": -1.0}, "adam_surge"),
        ({"adam_surge": 65.0}, "adam_surge"),
        ({"adam_surge": float("nan")}, "adam_surge"),
        ({"ssm_cost_focus": -0.5}, "ssm_cost_focus"),
        ({"ssm_cost_focus": 4.5}, "ssm_cost_focus"),
        ({"ssm_cost_focus": float("nan")}, "ssm_cost_focus"),
        ({"ssm_cost_input": 65}, "ssm_cost_input"),
        ({"ssm_guess_input": 2}, "ssm_guess_input"),
        ({"ssm_context_bits": 23}, "ssm_context_bits"),
        ({"ssm_context_bits": 12, "ssm_context_min": 256}, "ssm_context_min"),
        ({"ssm_context_bits": 12, "ssm_nest_context": 2}, "ssm_nest_context"),
        ({"ssm_nest_context": 1}, "ssm_nest_context needs ssm_context_bits"),
    ],
)
def test_invalid_params_are_rejected_with_a_message(change, message):
    with pytest.raises(StatesmixError, match=message):
        check_params(Params(**change))
    with pytest.raises(StatesmixError, match=message):
        Engine(Params(**change), byte_pieces(Params(**change).vocab))


def test_a_model_too_costly_per_token_is_refused_though_each_size_is_allowed():
    # each within its own bound, together some 900 times level 9's work a
    # token: a 380-byte file would hold its decoder for about forty hours
    # before the frame's checksum could refuse it
    costly = Params(d_model=512, d_inner=2048, d_state=32, d_conv=16, n_layers=8, chunk=16,
                    steps_first=32, steps_second=32, steps_rest=32, chunks_first=2**32 - 1)
    with pytest.raises(StatesmixError, match="cost more per token than any level"):
        check_params(costly)
    for one in ({"d_model": 512}, {"d_inner": 1024}, {"n_layers": 8}, {"steps_rest": 32}):
        check_params(Params(**one))  # alone, each is allowed


def test_every_level_of_every_readable_format_is_within_the_work_bound():
    from statesmix.container import READ_VERSIONS
    from statesmix.params import levels_of_version

    for version in READ_VERSIONS:
        for level, lv in levels_of_version(version).items():
            for _, vocab in lv.vocab_for_size:
                check_params(lv.params.replace(vocab=vocab))
                check_params(lv.tiny_alphabet_params(lv.params))


@pytest.mark.parametrize("change", [{"table_bits": 2**32 - 1}, {"table_bits": 64}, {"pool_limit": 2**32 - 1}])
def test_unused_table_sizes_are_bounded_too(change):
    # without orders or a match model the tables are not made, but estimates and info still read the sizes
    with pytest.raises(StatesmixError, match=next(iter(change))):
        check_params(Params(n_orders=0, orders=[], lambda_=[], alpha=[], match_min_len=0, **change))


def test_a_model_that_diverges_still_writes_a_file_that_decodes(text):
    # lr 1 with beta1 near 1 drives the SSM's logits to NaN within a few chunks;
    # without the binary stage the frequencies came from a NaN sum and their
    # 32-bit total wrapped: the encoder reported success, the decoder failed
    p = Params(lr=1.0, beta1=0.9999999, bin_bits=0, table_bits=12, pool_limit=1 << 14)
    tok = Tokenizer.train(text[:8000], 256)
    ids = tok.encode(text[:8000])
    payload = Engine(p, tok.vocab.pieces).encode(ids)
    back, _ = Engine(p, tok.vocab.pieces).decode(payload, len(ids))
    assert np.array_equal(back, ids)


def test_a_diverged_model_feeding_the_binary_stage_its_hidden_vector_round_trips(text):
    # With ssm_hidden the SSM's hidden vector is an input of the binary
    # stage's mixer: once the SSM has diverged it is NaN, and so is every bit's
    # probability. Converting that NaN to an APM cell and to a frequency was
    # undefined behaviour (UBSan's float-cast-overflow, in a build with
    # STATESMIX_SANITIZE); both now take explicitly what x86-64 gave, cell 0
    # and the floor, so files a diverged model wrote decode as before.
    p = Params(lr=1.0, beta1=0.9999999, bin_bits=12, ssm_hidden=0.3, table_bits=12, pool_limit=1 << 14)
    tok = Tokenizer.train(text[:8000], 256)
    ids = tok.encode(text[:8000])
    enc = Engine(p, tok.vocab.pieces)
    payload = enc.encode(ids)
    tokens, model_bits, _ = enc.stats()
    assert model_bits / tokens > 100  # the model has diverged: its bits cost their floor
    back, _ = Engine(p, tok.vocab.pieces).decode(payload, len(ids))
    assert np.array_equal(back, ids)


def test_negative_threads_rejected():
    with pytest.raises(StatesmixError, match="threads"):
        Engine(Params(table_bits=10, pool_limit=1024), byte_pieces(256), threads=-1)


def test_token_table_must_match_the_vocabulary():
    p = Params(vocab=300, table_bits=10, pool_limit=1024)
    with pytest.raises(StatesmixError, match="300"):
        Engine(p, byte_pieces(299))
    with pytest.raises(StatesmixError, match="1 to 64 bytes"):
        Engine(p, byte_pieces(299) + [b""])
    with pytest.raises(StatesmixError, match="1 to 64 bytes"):
        Engine(p, byte_pieces(299) + [b"x" * 65])


def test_memory_is_known_before_allocating_and_grows_with_the_tables():
    small = Params(vocab=300, table_bits=10, pool_limit=1024, bin_bits=12)
    big = small.replace(bin_bits=20)
    assert 0 < engine_memory(small) < engine_memory(big)
    # the context maps alone: 22 contexts of 2^20 16-byte slots each, a
    # family's share rounded down to a power of two (so at least half)
    assert engine_memory(big) - engine_memory(small) > 16 * (1 << 20) * 22 // 2
    assert small.table_bytes() == engine_memory(small)


def _small_params(text, bin_bits):
    """20,000 bytes of text, their tokens, and small parameters for them."""
    tok = Tokenizer.train(text[:20_000], 384)
    base = Params(vocab=tok.vocab.size, n_layers=1, table_bits=12, pool_limit=1 << 16, bin_bits=bin_bits,
                  chunks_first=2, chunks_second=2)
    return tok, tok.encode(text[:20_000]), base


def _assert_no_effect_when_frozen(pieces, ids, base, **change):
    """With the SSM frozen (lr 0), the change leaves the output as it is: it
    acts only through what the SSM learns."""
    frozen = base.replace(lr=0.0)
    still = _payloads_that_round_trip(pieces, ids, [frozen, frozen.replace(**change)])
    assert still[0] == still[1]


def _with_replay(p):
    """p with replay, which rides on the pipeline's one-step training (steps_rest 1)."""
    return p.replace(steps_rest=1, replay=0.5, replay_chunks=64)


def _payloads_that_round_trip(pieces, ids, variants):
    """Encodes ids with each parameter set on two threads, decodes on one."""
    outputs = []
    for p in variants:
        payload = Engine(p, pieces, threads=2).encode(ids)
        decoded, used = Engine(p, pieces, threads=1).decode(payload, len(ids))
        assert used == len(payload) and np.array_equal(decoded, ids)
        outputs.append(payload)
    return outputs


@pytest.mark.parametrize("bin_bits", [0, 12])
def test_ssm_trained_on_the_coded_loss_round_trips(text, bin_bits):
    tok, ids, base = _small_params(text, bin_bits)
    outputs = _payloads_that_round_trip(tok.vocab.pieces, ids, [base.replace(ssm_coded=c) for c in (0.0, 0.5)])
    # the coded loss changes what the SSM learns, so the bytes differ
    assert outputs[0] != outputs[1]


@pytest.mark.parametrize("bin_bits", [0, 12])
def test_head_bias_and_hidden_inputs_round_trip_and_change_the_bytes(text, bin_bits):
    tok, ids, base = _small_params(text, bin_bits)
    variants = [base, base.replace(head_bias=1)]
    if bin_bits:  # the hidden vector only reaches the binary stage
        variants.append(base.replace(ssm_hidden=0.3))
    outputs = _payloads_that_round_trip(tok.vocab.pieces, ids, variants)
    assert len(set(outputs)) == len(outputs)
    # each costs memory only when switched on
    if bin_bits:
        assert engine_memory(base) < engine_memory(base.replace(ssm_hidden=0.3))
    assert engine_memory(base) < engine_memory(base.replace(head_bias=1))


def test_subnormals_are_flushed_inside_and_the_callers_mode_is_kept():
    """The engine computes with subnormals flushed to zero (a run of one
    symbol used to decay the SSM into slow subnormal arithmetic) and gives
    the calling thread its own floating-point mode back."""
    tiny = 5e-324  # the smallest subnormal double
    p = Params(table_bits=10, pool_limit=4096, bin_bits=12)
    data = bytes(20_000) + b"after a long run of zeros, some text. " * 200
    ids = np.frombuffer(data, dtype=np.uint8).astype(np.uint32)
    enc = Engine(p, byte_pieces(256))
    payload = enc.encode(ids)
    assert tiny * 2.0 == 1e-323 and tiny / 2.0 == 0.0 and tiny > 0.0
    out, _ = Engine(p, byte_pieces(256)).decode(payload, len(ids))
    assert tiny * 2.0 == 1e-323
    assert np.array_equal(out, ids)


@pytest.mark.parametrize("bin_bits", [0, 12])
def test_replay_round_trips_and_changes_the_bytes(text, bin_bits):
    """Replay draws from a ring of the latest chunks: 2 slots (only one is
    ever eligible), 3 (the ring wraps about a hundred times here) and more
    slots than the input has chunks. The worker (encoding on two threads)
    and the inline path (decoding on one) must agree."""
    tok, ids, base = _small_params(text, bin_bits)
    base = base.replace(steps_rest=1)  # replay rides on the one-step training of the pipeline
    assert len(ids) > 100 * 3 * base.chunk
    on = base.replace(replay=0.5)
    variants = [base] + [on.replace(replay_chunks=r) for r in (2, 3, 1 << 16)]
    outputs = _payloads_that_round_trip(tok.vocab.pieces, ids, variants)
    assert len(set(outputs)) == len(outputs)
    # a ring of no chunks replays nothing: the bytes of replay off
    assert _payloads_that_round_trip(tok.vocab.pieces, ids, [on.replace(replay_chunks=0)])[0] == outputs[0]
    # the ring's tokens cost memory in proportion to its chunks
    assert engine_memory(base) < engine_memory(on.replace(replay_chunks=2)) < engine_memory(on.replace(replay_chunks=1 << 16))


@pytest.mark.parametrize("bin_bits", [0, 12])
def test_more_replayed_chunks_round_trip_and_change_the_bytes(text, bin_bits):
    """replay_extra learns further earlier chunks beside the first each step,
    one after another, on the worker (encoding on two threads) as inline
    (decoding on one). With the hashed contexts and the guesses on, every
    replayed chunk also adds sparse rows to the step's list of touched rows,
    here at the most chunks allowed (five): a list sized too short for them
    makes the engine fail (model.c checks every row it lists against the
    list's bound; with the bound of two chunks this test fails)."""
    tok, ids, base = _small_params(text, bin_bits)
    base = base.replace(steps_rest=1)  # replay rides on the one-step training of the pipeline
    on = base.replace(replay=0.35, replay_chunks=1 << 16)
    sparse = on.replace(ssm_guess_input=1, ssm_context_bits=12, ssm_context_min=1)
    variants = [on, on.replace(replay_extra=1), on.replace(replay_extra=4), sparse, sparse.replace(replay_extra=4)]
    outputs = _payloads_that_round_trip(tok.vocab.pieces, ids, variants)
    assert len(set(outputs)) == len(outputs)
    # without replay there is nothing to draw more of
    assert (_payloads_that_round_trip(tok.vocab.pieces, ids, [base.replace(replay_extra=2)])
            == _payloads_that_round_trip(tok.vocab.pieces, ids, [base]))


@pytest.mark.parametrize("bin_bits", [0, 12])
def test_worse_predicted_replay_and_the_token_rows_rate_round_trip(text, bin_bits):
    """replay_candidates draws several chunks for each replayed one and keeps
    the one the SSM missed most when it was coded (a score kept per stored
    chunk), on the worker (encoding on two threads) as inline (decoding on
    one); emb_lr_scale makes the embedding's token and cost rows learn at a
    multiple of lr. One candidate is the blind draw of before, byte for byte,
    and a scale of 1 the one rate of before; with lr 0 the SSM stays frozen,
    its token rows too."""
    tok, ids, base = _small_params(text, bin_bits)
    base = base.replace(steps_rest=1)  # replay rides on the one-step training of the pipeline
    on = base.replace(replay=0.35, replay_chunks=1 << 16, replay_extra=1, ssm_cost_input=6)
    variants = [on, on.replace(replay_candidates=2), on.replace(replay_candidates=4),
                on.replace(emb_lr_scale=8.0), on.replace(emb_lr_scale=8.0, replay_candidates=2)]
    outputs = _payloads_that_round_trip(tok.vocab.pieces, ids, variants)
    assert len(set(outputs)) == len(outputs)
    same = _payloads_that_round_trip(tok.vocab.pieces, ids, [on.replace(replay_candidates=1), on.replace(emb_lr_scale=1.0)])
    assert same == [outputs[0], outputs[0]]
    _assert_no_effect_when_frozen(tok.vocab.pieces, ids, on, emb_lr_scale=8.0, replay_candidates=2)
    # the scores cost a float per stored chunk, only when there is a choice to make
    assert engine_memory(on.replace(replay_candidates=1)) == engine_memory(on)
    assert engine_memory(on.replace(replay_candidates=2)) == engine_memory(on) + 4 * (1 << 16)


@pytest.mark.parametrize("vocab", [384, 4096])
def test_favourite_token_weight_set_round_trips_and_changes_the_bytes(text, vocab):
    """bin_top_select chooses one mixer weight set by the token mixture's
    favourite token instead of the match state. Above 1,024 ids the favourite
    is folded (id modulo 1,024), so the set stays bounded however large the
    vocabulary."""
    if vocab == 384:
        tok, ids, base = _small_params(text, 12)
        pieces = tok.vocab.pieces
    else:
        rng = np.random.default_rng(5)
        # a repeating sequence the token stages learn to predict, then noise
        ids = np.concatenate([np.tile(rng.integers(0, vocab, 300), 8), rng.integers(0, vocab, 600)]).astype(np.uint32)
        base = Params(vocab=vocab, n_layers=1, d_model=16, d_inner=32, table_bits=12, pool_limit=1 << 16,
                      bin_bits=12, chunks_first=2, chunks_second=2)
        pieces = byte_pieces(vocab)
    on = base.replace(bin_top_select=1)
    outputs = _payloads_that_round_trip(pieces, ids, [base, on])
    assert outputs[0] != outputs[1]
    # its rows, 2 x min(2^depth, 1024) x depth, outnumber the match state's
    # (SMX_MATCH_BUCKETS + 1) x depth they replace
    assert engine_memory(base) < engine_memory(on)
    # the largest vocabulary, with an SSM small enough for its per-token work to be allowed
    big = Params(vocab=65536, bin_bits=12, d_model=8, n_layers=1, steps_first=1, steps_second=1, steps_rest=1)
    grown = engine_memory(big.replace(bin_top_select=1)) - engine_memory(big)
    assert grown < 64 << 20


@pytest.mark.parametrize("bin_bits", [0, 12])
def test_ssm_logit_weight_round_trips_and_changes_the_bytes(text, bin_bits):
    """mix_ssm_weight makes the token mixture learn a weight for the SSM's
    logits; with ssm_coded the SSM's gradient through the mixture carries
    that weight, on the softmax path (bin_bits 0) and the binary stage's."""
    tok, ids, base = _small_params(text, bin_bits)
    variants = []
    for p in (base, base.replace(ssm_coded=0.5)):
        variants += [p, p.replace(mix_ssm_weight=1)]
    outputs = _payloads_that_round_trip(tok.vocab.pieces, ids, variants)
    assert len(set(outputs)) == len(outputs)
    # one more weight per weight set, and its gate
    grown = engine_memory(base.replace(mix_ssm_weight=1)) - engine_memory(base)
    assert 0 < grown < 1 << 16


@pytest.mark.parametrize("bin_bits", [0, 12])
def test_ssm_prior_of_the_counts_round_trips_and_changes_the_bytes(text, bin_bits):
    """mix_ssm_prior divides each n-gram count by the SSM's probability of its
    token before the mixture reads it; the mixture's gradients read the same
    features back (csrc/tokenmix.c), on the softmax path (bin_bits 0) and the
    binary stage's, with and without the SSM's gradient through the mixture."""
    tok, ids, base = _small_params(text, bin_bits)
    variants = []
    for p in (base, base.replace(ssm_coded=0.5, mix_ssm_weight=1)):
        variants += [p, p.replace(mix_ssm_prior=1)]
    outputs = _payloads_that_round_trip(tok.vocab.pieces, ids, variants)
    assert len(set(outputs)) == len(outputs)
    # the features of one position: a row of the vocabulary per order
    grown = engine_memory(base.replace(mix_ssm_prior=1)) - engine_memory(base)
    vp = (base.vocab + 7) // 8 * 8
    assert grown == base.n_orders * vp * 4


@pytest.mark.parametrize("bin_bits", [0, 12])
def test_gradient_surge_cap_round_trips_and_acts_where_the_data_changes(text, bin_bits):
    """adam_surge scales a step's rates down when its gradient's squared norm
    far exceeds its running mean (csrc/optim.c): 40,000 zero bytes, which the
    SSM learns to predict, then text. The cap changes what the SSM learns
    there, and nothing when it does not learn (lr 0)."""
    data = bytes(40_000) + text[:4_000]
    ids = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
    base = Params(vocab=256, n_layers=1, table_bits=12, pool_limit=1 << 16, bin_bits=bin_bits,
                  chunks_first=2, chunks_second=2)
    outputs = _payloads_that_round_trip(byte_pieces(256), ids, [base, base.replace(adam_surge=3.0)])
    assert outputs[0] != outputs[1]
    _assert_no_effect_when_frozen(byte_pieces(256), ids, base, adam_surge=3.0)


@pytest.mark.parametrize("bin_bits", [0, 12])
def test_ssm_cost_focus_round_trips_and_only_changes_how_the_ssm_learns(text, bin_bits):
    """ssm_cost_focus weighs each position of the SSM's loss by what its token
    cost to code (through the binary stage, or the mixture's softmax without
    it), with and without ssm_coded. It changes the bytes only through the
    SSM's training: with the SSM frozen (lr 0) the output is the same."""
    tok, ids, base = _small_params(text, bin_bits)
    variants = []
    for p in (base, base.replace(ssm_coded=0.5)):
        variants += [p, p.replace(ssm_cost_focus=1.0), p.replace(ssm_cost_focus=2.5)]
    outputs = _payloads_that_round_trip(tok.vocab.pieces, ids, variants)
    assert len(set(outputs)) == len(outputs)
    _assert_no_effect_when_frozen(tok.vocab.pieces, ids, base, ssm_cost_focus=1.0)
    assert engine_memory(base.replace(ssm_cost_focus=1.0)) == engine_memory(base)


@pytest.mark.parametrize("bin_bits", [0, 12])
def test_ssm_cost_input_round_trips_and_only_changes_what_the_ssm_learns(text, bin_bits):
    """ssm_cost_input adds to the SSM's input a learnt vector for what the
    previous token cost to code (through the binary stage, or the mixture's
    softmax without it), with and without ssm_coded and replay. The vectors
    start at zero, so with the SSM frozen (lr 0) the output is the same;
    they cost n x d_model floats of parameters and their Adam state."""
    tok, ids, base = _small_params(text, bin_bits)
    variants = []
    for p in (base, base.replace(ssm_coded=0.5), _with_replay(base)):
        variants += [p, p.replace(ssm_cost_input=1), p.replace(ssm_cost_input=2), p.replace(ssm_cost_input=6)]
    outputs = _payloads_that_round_trip(tok.vocab.pieces, ids, variants)
    assert len(set(outputs)) == len(outputs)
    _assert_no_effect_when_frozen(tok.vocab.pieces, ids, base, ssm_cost_input=6)
    grown = engine_memory(base.replace(ssm_cost_input=6)) - engine_memory(base)
    assert grown >= 6 * base.d_model * 4 * 4 and grown < 1 << 16


@pytest.mark.parametrize("bin_bits", [0, 12])
def test_ssm_guess_input_round_trips_and_only_changes_what_the_ssm_learns(text, bin_bits):
    """ssm_guess_input adds to the SSM's input learnt vectors for the match
    model's predicted token and the n-gram tables' guess, with and without
    the cost input, ssm_coded and replay (whose stored chunks carry the
    guesses). The vectors start at zero, so with the SSM frozen (lr 0) the
    output is the same; they cost (1 + n_orders) x vocab x d_model floats of
    parameters and their Adam state."""
    tok, ids, base = _small_params(text, bin_bits)
    base = base.replace(match_min_len=5)
    variants = []
    for p in (base, base.replace(ssm_cost_input=6), base.replace(ssm_coded=0.5), _with_replay(base)):
        variants += [p, p.replace(ssm_guess_input=1)]
    # without n-grams or the match model only the other one guesses
    variants += [base.replace(ssm_guess_input=1, n_orders=0, orders=[], lambda_=[], alpha=[]),
                 base.replace(ssm_guess_input=1, match_min_len=0)]
    outputs = _payloads_that_round_trip(tok.vocab.pieces, ids, variants)
    assert len(set(outputs)) == len(outputs)
    _assert_no_effect_when_frozen(tok.vocab.pieces, ids, base, ssm_guess_input=1)
    grown = engine_memory(base.replace(ssm_guess_input=1)) - engine_memory(base)
    rows = (1 + base.n_orders) * base.vocab
    assert grown >= rows * base.d_model * 4 * 4 and grown < rows * base.d_model * 4 * 8 + (1 << 16)


@pytest.mark.parametrize("bin_bits", [0, 12])
def test_ssm_context_rows_round_trip_and_only_change_what_the_ssm_learns(text, bin_bits):
    """ssm_context_bits adds to the SSM's input learnt rows for the last two
    tokens and the current word, from a hashed table, with and without the
    guesses, ssm_coded and replay (whose stored chunks carry the rows), and
    with the table's sizes and visit minimums. The rows start at zero, so
    with the SSM frozen (lr 0) the output is the same; a row is read only
    once its context has come ssm_context_min times, so with a minimum no
    context reaches, the output is that without them; they cost 2^bits x
    d_model floats of parameters and their Adam state."""
    tok, ids, base = _small_params(text, bin_bits)
    base = base.replace(match_min_len=5, ssm_guess_input=1)
    variants = []
    for p in (base, base.replace(ssm_guess_input=0), base.replace(ssm_coded=0.5), _with_replay(base)):
        variants += [p, p.replace(ssm_context_bits=12, ssm_context_min=2)]
    variants += [base.replace(ssm_context_bits=10), base.replace(ssm_context_bits=14, ssm_context_min=3)]
    outputs = _payloads_that_round_trip(tok.vocab.pieces, ids, variants)
    assert len(set(outputs)) == len(outputs)
    _assert_no_effect_when_frozen(tok.vocab.pieces, ids, base, ssm_context_bits=12)
    # 250 tokens: no context can come 255 times
    short = ids[:250]
    never = _payloads_that_round_trip(tok.vocab.pieces, short, [base, base.replace(ssm_context_bits=12, ssm_context_min=255)])
    assert never[0] == never[1]
    grown = engine_memory(base.replace(ssm_context_bits=12)) - engine_memory(base)
    rows = 1 << 12
    assert grown >= rows * base.d_model * 4 * 4 and grown < rows * base.d_model * 4 * 8 + (1 << 16)


@pytest.mark.parametrize("bin_bits", [0, 12])
def test_ssm_cost_focus_survives_a_long_run_of_one_token(bin_bits):
    """Tokens that cost (almost) nothing for a long time must not drive the
    focus's running mean to 0 or its weights to NaN: the run still round-trips
    and stays tiny."""
    ids = np.zeros(40_000, dtype=np.uint32)
    ids[:50] = np.arange(50) % 2
    p = Params(vocab=256, n_layers=1, d_model=16, d_inner=32, table_bits=12, pool_limit=1 << 16,
               bin_bits=bin_bits, chunks_first=2, chunks_second=2, ssm_cost_focus=1.0)
    payload = _payloads_that_round_trip(byte_pieces(256), ids, [p])[0]
    assert len(payload) < 2_000


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="address-space limits as on Linux")
def test_a_model_that_does_not_fit_in_memory_is_a_memory_error(tmp_path):
    """A failed allocation is Python's MemoryError, as for any other object,
    not a StatesmixError saying the parameters are wrong: the CLI then gives
    its out-of-memory line with the hint of a lower level or a smaller -B."""
    code = (
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_AS, (700 << 20, 700 << 20))\n"
        "from statesmix._native import Engine, byte_pieces\n"
        "from statesmix.blocks import block_params\n"
        "try:\n"
        "    Engine(block_params(9, 256, 10_000_000), byte_pieces(256), 1)\n"
        "except MemoryError as exc:\n"
        "    print('MemoryError:', exc)\n"
    )
    # cwd: outside the source tree, so the child imports the installed package
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("MemoryError: cannot create the model: out of memory"), proc.stdout


def test_an_engine_shared_by_two_threads_does_not_crash(tmp_path):
    """The C engine is not thread-safe, and cffi releases the GIL during each
    call: two threads calling encode on one Engine at once corrupted its
    state and crashed the process (SIGSEGV). The wrapper runs the calls on
    one engine one after the other."""
    code = (
        "import threading, numpy as np\n"
        "from statesmix._native import Engine, byte_pieces\n"
        "from statesmix.params import Params\n"
        "p = Params(vocab=384, table_bits=10, pool_limit=1024, n_layers=1, d_model=16, d_inner=32, bin_bits=12)\n"
        "ids = np.random.default_rng(2).integers(0, 384, 4000).astype(np.uint32)\n"
        "e = Engine(p, byte_pieces(384), threads=1)\n"
        "out = []\n"
        "def work():\n"
        "    for _ in range(3):\n"
        "        out.append(e.encode(ids))\n"
        "        e.stats()\n"
        "ts = [threading.Thread(target=work) for _ in range(2)]\n"
        "[t.start() for t in ts]\n"
        "[t.join() for t in ts]\n"
        "assert len(out) == 6 and all(out)\n"
        "assert e.stats()[0] == 6 * len(ids)\n"
        "print('ok')\n"
    )
    # in a child: without the guard the failure is a crash, not an exception
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0 and proc.stdout == "ok\n", (proc.returncode, proc.stderr[-2000:])


def test_the_gil_is_released_while_the_engine_codes():
    """Python hands the engine a whole frame and cffi drops the GIL for the
    call: another Python thread runs meanwhile (a call that held the GIL
    would let it wake at most once, after the call)."""
    import threading
    import time

    ids = np.random.default_rng(9).integers(0, 300, size=20_000).astype(np.uint32)
    e = Engine(Params(vocab=300, table_bits=12, pool_limit=100_000), byte_pieces(300), threads=1)
    done, span, stamps = threading.Event(), {}, []

    def work():
        span["start"] = time.monotonic()
        e.encode(ids)
        span["end"] = time.monotonic()
        done.set()

    worker = threading.Thread(target=work)
    worker.start()
    while not done.is_set():
        stamps.append(time.monotonic())
        time.sleep(0.001)
    worker.join()
    inside = [t for t in stamps if span["start"] < t < span["end"]]
    assert span["end"] - span["start"] > 0.1 and len(inside) >= 20, (span, len(inside))
