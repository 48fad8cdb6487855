"""Thin wrapper over the compiled C core (statesmix._statesmix).

Validates arguments before they reach C, owns native handles through
``ffi.gc`` so they are freed with the Python object, and hands whole arrays
of token ids to C: per-token work never runs in Python. cffi releases the
GIL during each call, so engines in different threads run in parallel; the
calls on one engine (whose C state is not thread-safe) run one at a time.
"""

from __future__ import annotations

import threading
from typing import List, Sequence, Tuple

import numpy as np

from ._statesmix import ffi, lib
from .errors import StatesmixError
from .params import MAX_ORDERS, Params

_ERRLEN = 256
# how the engine's message begins when an allocation failed (csrc/statesmix.h)
_OUT_OF_MEMORY = "out of memory"


def _to_c_params(p: Params):
    c = ffi.new("smx_params *")
    for name in (
        "vocab", "d_model", "d_inner", "d_state", "d_conv", "n_layers", "chunk",
        "steps_first", "chunks_first", "steps_second", "chunks_second", "steps_rest",
        "lr", "beta1", "beta2", "eps", "clip", "label_smoothing", "ssm_coded", "seed", "n_orders",
        "unigram_weight", "table_bits", "pool_limit", "mix_lr", "match_min_len", "match_weight",
        "bin_bits", "bin_lr", "bin_models", "head_bias", "ssm_hidden", "replay", "replay_chunks",
        "bin_top_select", "mix_ssm_weight", "ssm_cost_focus", "ssm_cost_input", "ssm_guess_input",
        "ssm_context_bits", "ssm_context_min", "replay_extra", "emb_lr_scale", "replay_candidates",
        "mix_ssm_prior", "adam_surge", "ssm_nest_context",
    ):
        value = getattr(p, name)
        try:
            setattr(c, name, value)
        except (OverflowError, TypeError) as exc:
            raise StatesmixError(f"parameter {name}={value!r} is out of range") from exc
    if not (len(p.orders) == len(p.lambda_) == len(p.alpha) == p.n_orders <= MAX_ORDERS):
        raise StatesmixError("n-gram orders, lambdas and alphas must have n_orders entries")
    lambdas = getattr(c, "lambda")  # a Python keyword, so not c.lambda
    for i in range(p.n_orders):
        c.orders[i] = p.orders[i]
        lambdas[i] = p.lambda_[i]
        c.alpha[i] = p.alpha[i]
    return c


def engine_memory(p: Params) -> int:
    """Bytes an engine with parameters p allocates, at most (smx_params_memory)."""
    check_params(p)
    return int(lib.smx_params_memory(_to_c_params(p)))


def byte_pieces(vocab: int) -> List[bytes]:
    """A vocabulary of single bytes, then (for tests of larger vocabularies)
    arbitrary two-byte tokens: what an Engine needs when no tokenizer made the ids."""
    return [bytes([i]) if i < 256 else bytes([(i >> 8) & 255, i & 255]) for i in range(vocab)]


def _token_table(pieces: Sequence[bytes], vocab: int):
    if len(pieces) != vocab:
        raise StatesmixError(f"the vocabulary has {len(pieces)} tokens but the parameters say {vocab}")
    blob = b"".join(pieces)
    ends = np.cumsum([len(t) for t in pieces], dtype=np.uint64)
    if len(ends) and int(ends[-1]) >= 1 << 32:
        raise StatesmixError("the vocabulary is too large")
    return blob, np.ascontiguousarray(ends, dtype=np.uint32)


def check_params(p: Params) -> None:
    """Raises StatesmixError if the C core would reject p."""
    err = ffi.new("char[]", _ERRLEN)
    if lib.smx_params_check(_to_c_params(p), err, _ERRLEN) != 0:
        raise StatesmixError("invalid parameters: " + ffi.string(err).decode())


def _token_ids(tokens, vocab: int) -> np.ndarray:
    """tokens as the contiguous uint32 array C reads, checked first: a cast
    of ids that are not integers in [0, vocab) would code other tokens."""
    ids = np.asarray(tokens)
    if ids.ndim != 1:
        raise StatesmixError("tokens must be a one-dimensional array")
    if ids.size == 0:
        return np.zeros(0, dtype=np.uint32)
    if ids.dtype.kind not in "iu":
        raise StatesmixError(f"token ids must be integers, not {ids.dtype}")
    if int(ids.min()) < 0 or int(ids.max()) >= vocab:
        raise StatesmixError("a token id is outside the vocabulary")
    return np.ascontiguousarray(ids, dtype=np.uint32)


class Engine:
    """One compression stream's model, tables and mixer (``smx_engine``).

    Encoder and decoder each create one with the same parameters and the
    same vocabulary (``pieces[i]`` is the bytes of token i); every call to
    encode/decode is one frame, and the model carries over between frames.
    """

    def __init__(self, params: Params, pieces: Sequence[bytes], threads: int = 0) -> None:
        if not isinstance(threads, int) or threads < 0:
            raise StatesmixError(f"threads must be a non-negative integer, not {threads!r}")
        self.params = params
        blob, ends = _token_table(pieces, params.vocab)
        err = ffi.new("char[]", _ERRLEN)
        ptr = lib.smx_engine_new(_to_c_params(params), ffi.from_buffer("uint8_t[]", blob),
                                 ffi.from_buffer("uint32_t[]", ends), threads, err, _ERRLEN)
        if ptr == ffi.NULL:
            reason = ffi.string(err).decode()
            if reason.startswith(_OUT_OF_MEMORY):  # as any allocation: not the parameters' fault
                raise MemoryError("cannot create the model: " + reason)
            raise StatesmixError("cannot create the model: " + reason)
        self._ptr = ffi.gc(ptr, lib.smx_engine_free)
        self._broken = False
        # cffi drops the GIL inside each call: two threads in one engine's
        # C code at once corrupt it (a crash), so its calls take turns
        self._lock = threading.Lock()

    @property
    def isa(self) -> str:
        return ffi.string(lib.smx_engine_isa(self._ptr)).decode()

    def stats(self) -> Tuple[int, float, float]:
        """(tokens coded, model bits = sum -log2 p, bits asked of the coder)."""
        s = ffi.new("smx_stats *")
        with self._lock:
            lib.smx_engine_stats(self._ptr, s)
        return int(s.tokens), float(s.model_bits), float(s.coded_bits)

    def _check_usable(self) -> None:
        if self._broken:
            raise StatesmixError("this stream failed earlier and cannot continue")

    def encode(self, tokens: np.ndarray) -> bytes:
        self._check_usable()
        tokens = _token_ids(tokens, self.params.vocab)
        cap = lib.smx_encode_bound(tokens.size)
        out = ffi.new("uint8_t[]", cap)
        with self._lock:
            self._check_usable()  # again: another thread's call may have failed meanwhile
            n = lib.smx_encode(self._ptr, ffi.from_buffer("uint32_t[]", tokens), tokens.size, out, cap)
            if n < 0:
                self._broken = True
                raise StatesmixError("encoding failed")
        return ffi.buffer(out, n)[:]

    def decode(self, payload: bytes, n_tokens: int) -> Tuple[np.ndarray, int]:
        """Decodes n_tokens from one frame; returns (tokens, bytes consumed)."""
        self._check_usable()
        if n_tokens < 0:
            raise StatesmixError("negative token count")
        tokens = np.empty(n_tokens, dtype=np.uint32)
        src = ffi.from_buffer(payload)  # char[]: its length is in bytes, whatever payload's items are
        with self._lock:
            self._check_usable()  # again: another thread's call may have failed meanwhile
            used = lib.smx_decode(self._ptr, src, len(src), ffi.from_buffer("uint32_t[]", tokens), n_tokens)
            if used < 0:
                self._broken = True
                raise StatesmixError("decoding failed")
        return tokens, int(used)
