"""Model and table parameters, the compression levels, and their encoding
in the file header.

A block records the fields of the C struct ``smx_params`` only when they
are not its level's (``Params.to_bytes``, the ablation study's overrides, a
narrowed SSM); otherwise the decoder rebuilds them from the stream's level
and format version (``levels_of_version``), the block's vocabulary size and
its token count (``Params.size_for``). The decoder needs no level flag, and
the level table is part of the file format: each version keeps its own, so
its files decode as they were written (tests/test_format_pin.py).
"""

from __future__ import annotations

import dataclasses
import math
import struct
from dataclasses import dataclass, field
from typing import Any, Dict, List, Tuple

from .errors import StatesmixError

MAX_ORDERS = 12

# (name, kind) in header order; kind "u" = uint32, "f" = float32, and
# "u[]"/"f[]" = MAX_ORDERS values.
_FIELDS: List[Tuple[str, str]] = [
    ("vocab", "u"),
    ("d_model", "u"),
    ("d_inner", "u"),
    ("d_state", "u"),
    ("d_conv", "u"),
    ("n_layers", "u"),
    ("chunk", "u"),
    ("steps_first", "u"),
    ("chunks_first", "u"),
    ("steps_second", "u"),
    ("chunks_second", "u"),
    ("steps_rest", "u"),
    ("lr", "f"),
    ("beta1", "f"),
    ("beta2", "f"),
    ("eps", "f"),
    ("clip", "f"),
    ("label_smoothing", "f"),
    ("ssm_coded", "f"),
    ("seed", "u"),
    ("n_orders", "u"),
    ("orders", "u[]"),
    ("lambda_", "f[]"),
    ("alpha", "f[]"),
    ("unigram_weight", "f"),
    ("table_bits", "u"),
    ("pool_limit", "u"),
    ("mix_lr", "f"),
    ("match_min_len", "u"),
    ("match_weight", "f"),
    ("bin_bits", "u"),
    ("bin_lr", "f"),
    ("bin_models", "u"),
]
# Fields added by format 6, after the others. A block whose new fields are
# all 0 (the behaviour before them) is written without them, as before, and
# a block without them reads them as 0: older files decode as they did.
_FIELDS_6: List[Tuple[str, str]] = [
    ("head_bias", "u"),
    ("ssm_hidden", "f"),
]
# Fields added by format 8, written the same way after format 6's.
_FIELDS_8: List[Tuple[str, str]] = [
    ("replay", "f"),
    ("replay_chunks", "u"),
]
# Fields added by format 9.
_FIELDS_9: List[Tuple[str, str]] = [
    ("bin_top_select", "u"),
]
# Fields added by format 10.
_FIELDS_10: List[Tuple[str, str]] = [
    ("mix_ssm_weight", "u"),
]
# Fields added by format 11.
_FIELDS_11: List[Tuple[str, str]] = [
    ("ssm_cost_focus", "f"),
]
# Fields added by format 12.
_FIELDS_12: List[Tuple[str, str]] = [
    ("ssm_cost_input", "u"),
]
# Fields added by format 13.
_FIELDS_13: List[Tuple[str, str]] = [
    ("ssm_guess_input", "u"),
]
# Fields added by format 14.
_FIELDS_14: List[Tuple[str, str]] = [
    ("ssm_context_bits", "u"),
    ("ssm_context_min", "u"),
]
# Fields added by format 15.
_FIELDS_15: List[Tuple[str, str]] = [
    ("replay_extra", "u"),
]
# Fields added by format 16.
_FIELDS_16: List[Tuple[str, str]] = [
    ("emb_lr_scale", "f"),
    ("replay_candidates", "u"),
]
# Fields added by format 18 (format 17 changed only the level table).
_FIELDS_18: List[Tuple[str, str]] = [
    ("mix_ssm_prior", "u"),
]
_FIELDS_19: List[Tuple[str, str]] = [
    ("adam_surge", "f"),
]
# Fields added by format 22 (formats 20 and 21 changed only the level table).
_FIELDS_22: List[Tuple[str, str]] = [
    ("ssm_nest_context", "u"),
]
_EXTENSIONS = (_FIELDS_6, _FIELDS_8, _FIELDS_9, _FIELDS_10, _FIELDS_11, _FIELDS_12, _FIELDS_13, _FIELDS_14,
               _FIELDS_15, _FIELDS_16, _FIELDS_18, _FIELDS_19, _FIELDS_22)
# The field lists a parameter block may hold: each later one extends the last.
_FIELD_SETS = tuple(_FIELDS + sum(_EXTENSIONS[:k], []) for k in range(len(_EXTENSIONS) + 1))

# Bit-model families of the binary stage (bin_models bits, csrc/predictor.h).
(BIN_ORDERS, BIN_WORDS, BIN_SPARSE, BIN_RECORDS, BIN_TOKENS, BIN_MATCH, BIN_INDIRECT, BIN_NEST,
 BIN_LINES) = (1 << i for i in range(9))
BIN_ALL = 0x1FF

PUBLISHED_ORDERS = (1, 2, 3, 4, 5, 6, 7, 15, 31)
PUBLISHED_LAMBDA = (0.15, 0.10, 0.08, 0.06, 0.05, 0.04, 0.03, 0.50, 1.00)
PUBLISHED_ALPHA = (0.10, 0.05, 0.03, 0.02, 0.015, 0.010, 0.008, 0.001, 0.001)


@dataclass
class Params:
    """Mirror of ``smx_params`` (csrc/statesmix.h)."""

    vocab: int = 256
    d_model: int = 32
    d_inner: int = 64
    d_state: int = 16
    d_conv: int = 4
    n_layers: int = 2
    chunk: int = 32
    steps_first: int = 8
    chunks_first: int = 10
    steps_second: int = 4
    chunks_second: int = 20
    steps_rest: int = 2
    lr: float = 0.002
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    clip: float = 5.0
    label_smoothing: float = 0.12
    ssm_coded: float = 0.0
    seed: int = 1
    n_orders: int = len(PUBLISHED_ORDERS)
    orders: List[int] = field(default_factory=lambda: list(PUBLISHED_ORDERS))
    lambda_: List[float] = field(default_factory=lambda: list(PUBLISHED_LAMBDA))
    alpha: List[float] = field(default_factory=lambda: list(PUBLISHED_ALPHA))
    unigram_weight: float = 0.1
    table_bits: int = 16
    pool_limit: int = 1 << 20
    mix_lr: float = 0.002
    match_min_len: int = 0
    match_weight: float = 1.0
    bin_bits: int = 0
    bin_lr: float = 0.002
    bin_models: int = BIN_ALL
    head_bias: int = 0
    ssm_hidden: float = 0.0
    replay: float = 0.0
    replay_chunks: int = 0
    bin_top_select: int = 0
    mix_ssm_weight: int = 0
    ssm_cost_focus: float = 0.0
    ssm_cost_input: int = 0
    ssm_guess_input: int = 0
    ssm_context_bits: int = 0
    ssm_context_min: int = 0
    replay_extra: int = 0
    emb_lr_scale: float = 0.0
    replay_candidates: int = 0
    mix_ssm_prior: int = 0
    adam_surge: float = 0.0
    ssm_nest_context: int = 0

    def replace(self, **changes: Any) -> "Params":
        return dataclasses.replace(self, **changes)

    # -- header encoding -------------------------------------------------
    def to_bytes(self) -> bytes:
        # the shortest field list that holds every non-zero field
        fields = _FIELD_SETS[0]
        for extended, group in zip(_FIELD_SETS[1:], _EXTENSIONS):
            if any(getattr(self, name) for name, _ in group):
                fields = extended
        out = bytearray(struct.pack("<H", len(fields)))
        for name, kind in fields:
            value = getattr(self, name)
            if kind.endswith("[]"):
                values = list(value) + [0] * (MAX_ORDERS - len(value))
                code = "<%d%s" % (MAX_ORDERS, "I" if kind[0] == "u" else "f")
                out += struct.pack(code, *values)
            else:
                out += struct.pack("<I" if kind == "u" else "<f", value)
        return bytes(out)

    @classmethod
    def from_bytes(cls, blob: bytes) -> "Params":
        if len(blob) < 2:
            raise StatesmixError("parameter block is truncated")
        (count,) = struct.unpack_from("<H", blob)
        counts = [len(f) for f in _FIELD_SETS]
        if count not in counts:
            raise StatesmixError(
                f"parameter block has {count} fields, expected one of {', '.join(map(str, counts))}")
        fields = _FIELD_SETS[counts.index(count)]
        values: Dict[str, Any] = {}
        pos = 2
        for name, kind in fields:
            n = MAX_ORDERS if kind.endswith("[]") else 1
            code = "<%d%s" % (n, "I" if kind[0] == "u" else "f")
            size = struct.calcsize(code)
            if pos + size > len(blob):
                raise StatesmixError("parameter block is truncated")
            got = struct.unpack_from(code, blob, pos)
            pos += size
            values[name] = list(got) if n > 1 else got[0]
        if pos != len(blob):
            raise StatesmixError("parameter block has trailing bytes")
        k = values["n_orders"]
        if k > MAX_ORDERS:
            raise StatesmixError(f"parameter block names {k} n-gram orders (at most {MAX_ORDERS})")
        for name in ("orders", "lambda_", "alpha"):
            values[name] = values[name][:k]
        for name, kind in fields:
            v = values[name]
            if kind[0] == "f" and not all(math.isfinite(x) for x in (v if isinstance(v, list) else [v])):
                raise StatesmixError(f"parameter {name} is not a finite number")
        return cls(**values)

    @property
    def tree_depth(self) -> int:
        """Bits the binary stage codes per token: ceil(log2 vocab), as in binmix.c."""
        return max(1, math.ceil(math.log2(max(2, self.vocab))))

    def size_for(self, n_tokens: int) -> "Params":
        """Sizes the tables for n_tokens tokens, within this level's caps.

        A context slot per token at the high orders keeps the n-gram tables
        below about 60% full; each order's pool holds at most one entry per
        token, and lists that double as they grow need about twice that. The
        binary stage's bit models see one context per tree node on a token's
        path, half of them new in the long run.
        """
        want_bits = max(10, math.ceil(math.log2(max(1, n_tokens) / 0.6 + 1)))
        bits = min(self.table_bits, want_bits)
        pool = min(self.pool_limit, max(4096, 3 * n_tokens + 4096))
        changes: Dict[str, Any] = {"table_bits": bits, "pool_limit": pool}
        if self.bin_bits:
            want_bin = max(12, math.ceil(math.log2(max(1, n_tokens) * self.tree_depth / 2 + 1)))
            changes["bin_bits"] = min(self.bin_bits, want_bin)
        if self.replay:
            # no more replay slots than the input has full chunks (at least 2: the
            # newest chunk is never replayed, so 1 would never replay)
            changes["replay_chunks"] = min(self.replay_chunks, max(2, n_tokens // self.chunk))
        if self.ssm_context_bits:
            # the SSM's context table: about a row per token, at least 2^10
            want_ctx = max(10, math.ceil(math.log2(max(1, n_tokens))))
            changes["ssm_context_bits"] = min(self.ssm_context_bits, want_ctx)
        return self.replace(**changes)


    def table_bytes(self) -> int:
        """The most memory the native engine allocates with these parameters
        (every table at full size: they are allocated once and never grow),
        as the C core itself computes it before allocating."""
        from ._native import engine_memory

        return engine_memory(self)


@dataclass(frozen=True)
class Level:
    """What a compression level chooses: tokenizer size and model parameters."""

    vocab_for_size: Tuple[Tuple[int, int], ...]  # (input bytes up to, BPE vocabulary)
    params: Params
    # SSM width for large identity-tokenized blocks over a tiny alphabet
    # (why and what it costs: blocks.py, NARROW_MAX_ALPHABET).
    tiny_alphabet_width: int = 16

    def replace_params(self, **changes: Any) -> "Level":
        """This level with some model parameters changed (a later format's level)."""
        return dataclasses.replace(self, params=self.params.replace(**changes))

    def tiny_alphabet_params(self, params: Params) -> Params:
        return params.replace(d_model=self.tiny_alphabet_width, d_inner=2 * self.tiny_alphabet_width)

    def vocab_size(self, n_bytes: int) -> int:
        for limit, vocab in self.vocab_for_size:
            if n_bytes <= limit:
                return vocab
        return self.vocab_for_size[-1][1]


# With the binary mixing stage, small vocabularies compress best: on the
# first 1 MB of enwik8 at level 1, 256 ids (bytes) 1.869 bpb, 384 1.873,
# 512 1.882, 1024 1.893, 4096 1.942 (bench/README.md). Fewer ids also make
# each token cheaper; 384 is the fastest per byte. With the wider one-layer
# SSM, bytes lost 0.12% to 384 ids at 1 MB and ran 1.6x slower, so every
# level uses 384 above 64 KB.
_SMALL = ((65_536, 256), (1 << 62, 384))

# Token-level n-gram orders: with the binary stage modelling the short
# contexts, five orders up to 32 tokens lose 0.2% against the published nine
# and need 45% less memory.
_FIVE_ORDERS = dict(n_orders=5, orders=[2, 4, 8, 16, 32], lambda_=[0.1, 0.06, 0.03, 0.5, 1.0],
                    alpha=[0.05, 0.02, 0.008, 0.001, 0.001])

# Measured on the first 1 MB of enwik8 (bench/README.md): Adam lr 0.004 beats
# the published 0.002 and 0.008; a match model with 5 tokens of context helps.
# Table caps bound memory for streams, whose length is unknown; one-shot
# input sizes its tables to the input, within the cap.
#
# The SSM: one wide layer beats two narrow ones, and Adam without momentum
# (beta1 = 0) learns fastest online, where every chunk is new data: alone,
# the SSM went from 2.83 to 2.52 bpb at 1 MB with these settings (one layer,
# d_model 48, chunks of 16 tokens, no label smoothing; 2.42 at d_model 64).
# Label smoothing only blurred the distribution the mixer reads.
_BASE = Params(table_bits=20, pool_limit=1 << 22, lr=0.004, match_min_len=5, bin_bits=20, bin_lr=0.006,
               n_layers=1, d_model=48, d_inner=96, chunk=16, beta1=0.0, label_smoothing=0.0, **_FIVE_ORDERS)
_NARROW = dict(d_model=32, d_inner=64)
_WIDE = dict(d_model=64, d_inner=128)

# The main speed lever is Adam steps per chunk after the warm-up (one step
# reuses the activations computed for prediction; each further step re-runs
# the forward pass), then the SSM's width, then the size of the bit tables.
_LEVELS_5: Dict[int, Level] = {
    1: Level(_SMALL, _BASE.replace(steps_first=2, steps_second=1, steps_rest=1, bin_bits=18, **_NARROW)),
    2: Level(_SMALL, _BASE.replace(steps_first=4, steps_second=2, steps_rest=1, bin_bits=19, **_NARROW)),
    3: Level(_SMALL, _BASE.replace(steps_first=4, steps_second=2, steps_rest=1, **_NARROW)),
    4: Level(_SMALL, _BASE.replace(steps_first=4, steps_second=2, steps_rest=1)),
    5: Level(_SMALL, _BASE.replace(steps_first=8, steps_second=4, steps_rest=1)),
    6: Level(_SMALL, _BASE.replace(steps_first=8, steps_second=4, chunks_second=100, steps_rest=1)),
    7: Level(_SMALL, _BASE.replace(steps_first=8, steps_second=4, chunks_second=100, steps_rest=1,
                                   bin_bits=22, table_bits=21, pool_limit=1 << 23, **_WIDE)),
    8: Level(_SMALL, _BASE.replace(steps_first=8, steps_second=4, chunks_second=300, steps_rest=1,
                                   bin_bits=22, table_bits=21, pool_limit=1 << 24, ssm_coded=0.5, **_WIDE)),
    9: Level(_SMALL, _BASE.replace(steps_first=8, steps_second=4, chunks_second=1000, steps_rest=1,
                                   d_model=96, d_inner=192, ssm_coded=0.5, bin_lr=0.004,
                                   bin_bits=22, table_bits=21, pool_limit=1 << 24, n_orders=9,
                                   orders=list(PUBLISHED_ORDERS), lambda_=list(PUBLISHED_LAMBDA),
                                   alpha=list(PUBLISHED_ALPHA))),
}

# Format 6, levels 1-6: the SSM's head learns a bias per token (the SSM
# alone, 1 MB of enwik8 at level 6: 2.521 -> 2.486 bpb), and its hidden
# vector, scaled by 0.3, is also an input of the binary stage's mixer (the
# level: 213,030 -> 212,761 bytes with both; bench/README.md, "The SSM").
# Levels 7-9 were not measured with them and keep format 5's parameters.
_SSM_READOUT = dict(head_bias=1, ssm_hidden=0.3)
_LEVELS_6: Dict[int, Level] = {
    level: lv.replace_params(**_SSM_READOUT) if level <= 6 else lv
    for level, lv in _LEVELS_5.items()
}

# Format 7, level 9: an SSM twice as wide (d_model 192) at a lower rate
# (0.0015; at 0.004 wide SSMs diverge). On enwik8, level 9 at 3 MB: 611,274
# -> 607,659 bytes (-0.59%; width 128 at lr 0.002: 609,426), at 1 MB 212,006
# -> 211,412, for 2.5x the time (bench/README.md, "The SSM").
_LEVELS_7: Dict[int, Level] = {
    **_LEVELS_6,
    9: _LEVELS_6[9].replace_params(d_model=192, d_inner=384, lr=0.0015),
}

# Format 8, levels 1-8: replay. Each one-step chunk also learns one earlier
# chunk again, drawn uniformly from the last 65,536 (about a million
# tokens), at half the weight of the new one, recomputed from a zero state
# (csrc/model.c). First 1 MB of enwik8: the SSM alone at level 6 2.486 ->
# 2.372 bpb; the level -0.23% at 6, -0.27% at 7, -0.15% at 8. Level 9 gained
# 0.19% for 1.8x the time (its wide SSM makes the worker the slower thread)
# and keeps format 7's parameters (bench/README.md, "Format 8: replay").
_REPLAY = dict(replay=0.5, replay_chunks=65536)
_LEVELS_8: Dict[int, Level] = {
    level: lv.replace_params(**_REPLAY) if level <= 8 else lv
    for level, lv in _LEVELS_7.items()
}

# Format 9, every level: one of the binary stage's mixer weight sets is chosen
# by the token mixture's favourite token, whether the bits coded so far are
# its bits, and the depth, instead of by the match state and the depth
# (paq8px selects by the byte its LSTM expects). First 1 MB of enwik8 at
# level 6: 212,281 -> 211,867 bytes (-0.20%), as with the new set beside the
# match state's (211,873) and without an eighth row a bit (bench/README.md,
# "Format 9").
_LEVELS_9: Dict[int, Level] = {
    level: lv.replace_params(bin_top_select=1) for level, lv in _LEVELS_8.items()
}

# Format 10, every level: the token mixture learns a weight for the SSM's
# logits as it does for each order's (csrc/tokenmix.h). First 1 MB of enwik8
# at level 6: 211,867 -> 211,648 bytes (-0.10%), level 1 -0.14%, level 9
# -0.18%; the mixed corpus, 300 KB of each file: -0.08%, smaller on 14 of 15
# (bench/README.md, "Format 10").
_LEVELS_10: Dict[int, Level] = {
    level: lv.replace_params(mix_ssm_weight=1) for level, lv in _LEVELS_9.items()
}

# Format 11, every level: each position's weight in the SSM's loss follows
# what its token cost to code against the running mean of that cost
# (csrc/engine.c, cost_weight), at half strength: the full one writes 0.30%
# less on enwik8 but up to 1.1% more on the CSV and the database. First 1 MB
# of enwik8 at level 6: 211,648 -> 211,440 bytes (-0.10%), level 9 -0.31%;
# the mixed corpus, 300 KB of each file: -0.24%, larger on 3 of 15 by at
# most 0.18% (bench/README.md, "Format 11").
_LEVELS_11: Dict[int, Level] = {
    level: lv.replace_params(ssm_cost_focus=0.5) for level, lv in _LEVELS_10.items()
}

# Format 12, levels 1-8: the SSM's input adds to the previous token's
# embedding a learnt vector for what that token cost to code, in 6 buckets of
# 2 nats (csrc/engine.c, model_input), so the SSM sees where the whole model
# was surprised. First 1 MB of enwik8: level 6 211,440 -> 211,305 bytes
# (-0.06%), level 1 -0.14%, levels 7 and 8 -0.04% and -0.03%; level 9 (its
# SSM four times as wide) +0.02%, so it keeps format 11's parameters. The
# mixed corpus, 300 KB of each file, level 6: -0.18%, smaller on 12 of 15
# (bench/README.md, "Format 12").
_LEVELS_12: Dict[int, Level] = {
    level: lv.replace_params(ssm_cost_input=6) if level <= 8 else lv for level, lv in _LEVELS_11.items()
}

# Format 13, every level: the SSM's input also adds learnt vectors for what
# the context models expect next, the match model's predicted token and the
# most frequent follower of the longest n-gram context seen, by its order
# (csrc/engine.c, model_input), so the SSM learns when they are right.
# First 1 MB of enwik8: level 6 211,305 -> 210,036 bytes (-0.60%), levels 1
# and 9 -0.59%; 4.15 MB -0.71%. The mixed corpus, 300 KB of each file, level
# 6: -0.14%, smaller on 12 of 15 (bench/README.md, "Format 13").
_LEVELS_13: Dict[int, Level] = {
    level: lv.replace_params(ssm_guess_input=1) for level, lv in _LEVELS_12.items()
}

# Format 14, every level: the SSM's input also adds learnt rows for the last
# two tokens together and for the current word's bytes so far, from one
# hashed table of 2^16 rows (csrc/ssm_context.c), each read once its context
# has come three times. Level 6 on enwik8: 210,036 -> 209,366 bytes at 1 MB
# (-0.32%), 831,721 -> 826,612 at 4.15 MB (-0.61%); the mixed corpus, 300 KB
# of each file: -0.26%, smaller on 14 of 15 (bench/README.md, "Format 14").
_LEVELS_14: Dict[int, Level] = {
    level: lv.replace_params(ssm_context_bits=16, ssm_context_min=3) for level, lv in _LEVELS_13.items()
}

# Format 15, levels 4-6: the SSM's inner layer as wide as its model width (48,
# not 96) with a state of 8 (not 16), and each step replays two earlier chunks
# at 0.35 each (not one at 0.5, csrc/model.c), with Adam's rate 0.003 and the
# cost focus 0.25 (0.004, 0.5). Once the hashed rows carry the SSM's memory
# its inner width and state hardly matter (level 6, 1 MB of enwik8: +0.06%
# without the second chunk), and the time they took pays for the second
# chunk on the training thread, which waited for the coding thread. Level 6: 0.90x the time; enwik8 -0.18% at 1 MB, -0.16% at 4.15 MB;
# the mixed corpus, 300 KB of each file, about +0.12% (+0.07% to +0.19% in
# four runs): a trade of bytes for time (bench/README.md, "Format 15").
_NARROW_CORE = dict(d_inner=48, d_state=8, lr=0.003, ssm_cost_focus=0.25, replay=0.35, replay_extra=1)
_LEVELS_15: Dict[int, Level] = {
    level: lv.replace_params(**_NARROW_CORE) if 4 <= level <= 6 else lv for level, lv in _LEVELS_14.items()
}

# Format 16, levels 4-6: the embedding's rows of the tokens and the cost
# buckets learn at eight times Adam's rate (emb_lr_scale 8), and each replayed
# chunk is the worse predicted of two drawn (replay_candidates 2,
# csrc/model.c). Each alone moved level 6 by less than the seed does (1 MB
# of enwik8: -0.08% / -0.02%); together, level 6 -0.28% at 1 MB and -0.38%
# at 4.15 MB in the same time, and -0.31% on the mixed corpus (300 KB of
# each file), smaller on every file (bench/README.md, "Format 16").
_HARD_REPLAY = dict(emb_lr_scale=8.0, replay_candidates=2)
_LEVELS_16: Dict[int, Level] = {
    level: lv.replace_params(**_HARD_REPLAY) if 4 <= level <= 6 else lv for level, lv in _LEVELS_15.items()
}

# Format 17, levels 1-3 and 7-9: format 16's pair there too (level 9, which
# does not replay, only the token rows' rate). First 1 MB of enwik8, Adam's
# eps changed in both runs: level 1 -0.21%, 2 -0.31%, 3 -0.26%, 7 -0.34%,
# 8 -0.24%, 9 -0.16% (bench/README.md, "Format 17").
_LEVELS_17: Dict[int, Level] = {
    level: lv.replace_params(**(_HARD_REPLAY if lv.params.replay else dict(emb_lr_scale=8.0)))
    if not 4 <= level <= 6 else lv
    for level, lv in _LEVELS_16.items()
}

# Format 18, every level: the n-gram counts enter the token mixture divided
# by the SSM's probability of their token (mix_ssm_prior, csrc/tokenmix.h),
# as a Dirichlet prior centred on the SSM would weigh them: a count says more
# where the SSM did not expect the token. First 1 MB of enwik8: level 6
# 208,408 -> 208,026 bytes (-0.18%; -0.11% to -0.26% over three other draws
# of the SSM), every level 0.05-0.22% smaller; 4.15 MB +0.03% (-0.11% and
# -0.02% with two other draws); the mixed corpus, 300 KB of each file, level
# 6: +0.03% / +0.01% over two draws, smaller on 9 / 8 of 15; 1.009x format
# 17's time (bench/README.md, "Format 18").
_LEVELS_18: Dict[int, Level] = {
    level: lv.replace_params(mix_ssm_prior=1) for level, lv in _LEVELS_17.items()
}

# Format 19, every level: a step whose gradient's squared norm exceeds 9
# times its running mean has all its rates scaled by 3 times that mean's
# root over the gradient's norm (adam_surge 3, csrc/optim.c). After 2 MB of
# zeros Adam's moments had decayed, and the first text moved every weight
# by up to 30 times its rate: 2 MB of zeros then 2 MB of enwik8 wrote
# 416,105 bytes at level 6, 1.026x the halves apart (405,427); with the cap
# 405,922 (1.001x), and level 1 -2.11% on the same file. On 500 KB of
# zeros then 500 KB of text levels 4 and 9 gain 1.72% / 0.64% and level 1
# loses 1.49% (its moments had not decayed that far; the cap only slowed
# it). Ordinary data never reaches the cap but for a step here and there:
# the first 1 MB of enwik8 208,026 -> 208,028 bytes, 4.15 MB -0.10%, the
# mixed corpus (300 KB of each file) the same total (bench/README.md,
# "Format 19").
_LEVELS_19: Dict[int, Level] = {
    level: lv.replace_params(adam_surge=3.0) for level, lv in _LEVELS_18.items()
}

# Format 20, levels 7-9: rebuilt on level 6. They were format 5's models with
# what the later formats added at every level (formats 6 and 15 had left
# them out, 8 and 12 level 9 too), and level 9 (a four times wider SSM at a
# lower rate, no replay, nine orders) wrote 0.47% more than level 6 on the
# mixed corpus (300 KB of each file) and 3.8% more on 1.8 MB of six of its
# files one after the other, for 3.5x the time. Now level 7 is level 6 with
# larger table caps (n-gram tables 2^21 slots, the binary stage 2^22 per
# context, 2^23 pool entries: about 2 GiB), level 8 adds an SSM of width 64,
# level 9 two such layers. Against level 6: the first 1 MB of enwik8 -0.02%
# / -0.13% / -0.16% (levels 7 / 8 / 9), 4,154,399 bytes -0.25% / - / -0.72%,
# the six files -0.51% / -0.45% / -0.56%, the corpus -0.01% / -0.10% /
# -0.27% (level 9 smaller on 14 of 15); level 9 takes 1.9x level 6's time
# at 1 MB. Two layers of width 96 gained another 0.16% at 4.15 MB but lost
# 4.5% on the six files: a wide SSM at this rate is not stable on the binary
# ones (bench/README.md, "Levels 7-9 (format 20)").
_LARGE_TABLES = dict(table_bits=21, bin_bits=22, pool_limit=1 << 23)
_L6 = _LEVELS_19[6]
_LEVELS_20: Dict[int, Level] = {
    **_LEVELS_19,
    7: _L6.replace_params(**_LARGE_TABLES),
    8: _L6.replace_params(d_model=64, d_inner=64, **_LARGE_TABLES),
    9: _L6.replace_params(n_layers=2, d_model=64, d_inner=64, **_LARGE_TABLES),
}

# Format 21, level 9: Adam's rate halved (0.003 -> 0.0015). At format 20's
# rate its two layers were unstable on binary data: on 1.8 MB of six corpus
# files one after the other (the database, Russian text, libpython, Python
# source, WAV, CSV) three draws of its seed wrote 373,246 / 376,286 /
# 387,024 bytes (parameter blocks in), and 300 KB of libpython 0.50% more
# than level 6. At 0.0015: 371,361 and 373,039 on the six files, libpython
# 0.79% less than level 6, and smaller elsewhere too: the first 1 MB of
# enwik8 -0.07%, 4,154,399 bytes -0.19%, the corpus (300 KB of each file)
# -0.15% (bench/README.md, "Levels 7-9 (format 20)", "Format 21").
_LEVELS_21: Dict[int, Level] = {**_LEVELS_20, 9: _LEVELS_20[9].replace_params(lr=0.0015)}

# Format 22: the SSM's input also reads a learnt row for where the text
# stands (ssm_nest_context: the innermost open bracket, the depth, inside a
# quote or not, the column in 12 buckets; csrc/ssm_context.c), at every
# level. The first 1 MB of enwik8 at level 6: 208,028 -> 207,788 bytes, and
# on four more seeds of the SSM 0.12% to 0.25% smaller (0.18% on average);
# the row starts at zero, so the SSM frozen at its initial weights writes
# what it did, and trained against frozen goes from 2.43% to 2.54% (2.50% on
# average over the five seeds). Level 1 -0.20%, level 9 -0.06%; the mixed
# corpus (300 KB of each file) -0.15%, smaller on 12 of 15 files, the BMP
# image 0.52% larger (its "brackets" are pixels) (bench/README.md, "Format 22").
LEVELS: Dict[int, Level] = {level: lv.replace_params(ssm_nest_context=1) for level, lv in _LEVELS_21.items()}

# The level table is part of the file format: a block that stores no
# parameters is decoded with its stream's version's table. Format 5 lowered
# level 9's bit-mixer rate from 0.006 to 0.004 (on the first 3 MB of enwik8,
# single block: 612,290 -> 611,534 bytes at 0.0045 and 611,345 at 0.0035;
# 1 MB lost 119 bytes at 0.0045); versions 3 and 4 keep the old rate.
_LEVELS_BEFORE_5: Dict[int, Level] = {
    **_LEVELS_5, 9: _LEVELS_5[9].replace_params(bin_lr=0.006)}


def levels_of_version(version: int) -> Dict[int, Level]:
    """The level table that files of this format version were written with."""
    if version < 5:
        return _LEVELS_BEFORE_5
    return {5: _LEVELS_5, 6: _LEVELS_6, 7: _LEVELS_7, 8: _LEVELS_8, 9: _LEVELS_9,
            10: _LEVELS_10, 11: _LEVELS_11, 12: _LEVELS_12, 13: _LEVELS_13, 14: _LEVELS_14,
            15: _LEVELS_15, 16: _LEVELS_16, 17: _LEVELS_17,
            18: _LEVELS_18, 19: _LEVELS_19, 20: _LEVELS_20, 21: _LEVELS_21}.get(version, LEVELS)


DEFAULT_LEVEL = 6
MIN_LEVEL, MAX_LEVEL = 1, 9


def get_level(level: int) -> Level:
    if isinstance(level, bool) or not isinstance(level, int):
        raise StatesmixError(f"level must be an integer from {MIN_LEVEL} to {MAX_LEVEL}, not {level!r}")
    if level not in LEVELS:
        raise StatesmixError(f"level must be from {MIN_LEVEL} to {MAX_LEVEL}, not {level}")
    return LEVELS[level]
