/* statesmix: the one public header of the C core.
 *
 * An smx_engine holds everything one compression stream needs: the online
 * Mamba model and its optimizer, the n-gram tables and the mixer. Encoding
 * and decoding run the identical predict -> code -> update loop, so a
 * decoder created with the same parameters reproduces the encoder's
 * probabilities bit for bit and recovers every token. There is no global
 * mutable state: two engines can run in two threads. */
#ifndef STATESMIX_H
#define STATESMIX_H

#include <stddef.h>
#include <stdint.h>

#define SMX_MAX_LAYERS 8
#define SMX_MAX_ORDERS 12
#define SMX_MAX_VOCAB 65536u
#define SMX_MAX_TOKEN_BYTES 64u
#define SMX_MAX_DEPTH 16u      /* bits of a token id */

typedef struct smx_params {
    /* Mamba model */
    uint32_t vocab;          /* token types; ids are 0..vocab-1 */
    uint32_t d_model;        /* residual width DM */
    uint32_t d_inner;        /* inner width DI */
    uint32_t d_state;        /* state size DS */
    uint32_t d_conv;         /* causal depthwise conv width DC */
    uint32_t n_layers;
    /* online training */
    uint32_t chunk;          /* tokens per training chunk */
    uint32_t steps_first;    /* Adam steps per chunk for the first chunks_first chunks */
    uint32_t chunks_first;
    uint32_t steps_second;   /* ... for the next chunks_second chunks */
    uint32_t chunks_second;
    uint32_t steps_rest;     /* ... and for every chunk after that */
    float lr, beta1, beta2, eps, clip, label_smoothing;
    float ssm_coded;         /* share of the SSM's training gradient taken from the coded
                                loss (through the mixture and the binary stage); the rest
                                is its own (smoothed) cross-entropy */
    uint32_t seed;
    /* n-gram logit biases */
    uint32_t n_orders;
    uint32_t orders[SMX_MAX_ORDERS]; /* context lengths in tokens, ascending */
    float lambda[SMX_MAX_ORDERS];    /* initial mixing weight of each order */
    float alpha[SMX_MAX_ORDERS];     /* bias = log(1 + count / alpha) */
    float unigram_weight;
    uint32_t table_bits;     /* log2 of context slots per order */
    uint32_t pool_limit;     /* most (token, count) entries one order may hold */
    float mix_lr;            /* learning rate of the mixing weights (0: fixed) */
    /* long-range match model */
    uint32_t match_min_len;  /* tokens of context a match needs (0: off) */
    float match_weight;      /* initial logit bonus of a predicted token */
    /* binary context mixing stage (predictor.h) */
    uint32_t bin_bits;       /* log2 of context-map slots per context (0: stage off) */
    float bin_lr;            /* learning rate of its mixing weights */
    uint32_t bin_models;     /* which bit-model families run: a bit each (predictor.h) */
    /* how the SSM reaches the prediction (format 6; 0 in older files) */
    uint32_t head_bias;      /* 1: the SSM's output head learns a bias per token */
    float ssm_hidden;        /* > 0: the SSM's final hidden vector, times this, is also
                                an input of the binary stage's mixer (0: it is not) */
    /* replay (format 8; 0 in older files) */
    float replay;            /* > 0: each one-step chunk (after the warm-up's chunks of
                                several steps) also learns, at this weight, one earlier
                                chunk recomputed from a zero state (0: off) */
    uint32_t replay_chunks;  /* how many of the latest chunks the replayed one is drawn from */
    /* format 9; 0 in older files */
    uint32_t bin_top_select; /* 1: the binary stage's mixer chooses one weight set by the
                                token mixture's favourite token, whether the bits coded
                                so far are its bits, and the depth (0: by the match
                                state and the depth) */
    /* format 10; 0 in older files */
    uint32_t mix_ssm_weight; /* 1: the token mixture learns a weight for the SSM's logits
                                as for each n-gram order's (per weight set, shifted by the
                                hidden state's gate); 0: they enter with weight 1 */
    /* format 11; 0 in older files */
    float ssm_cost_focus;    /* > 0: the SSM's loss at each position is weighted by
                                1 + f * (c / c_mean - 1), clamped to [0.05, 2], where c is
                                what its token cost to code and c_mean a running mean of
                                that cost: the SSM learns most where the whole model
                                predicted worst (0: every position weighs the same) */
    /* format 12; 0 in older files */
    uint32_t ssm_cost_input; /* > 0: the SSM's input at each position adds to the previous
                                token's embedding a learnt vector for what that token cost
                                to code, in this many buckets of 2 nats (the last open-
                                ended; at most 64): the SSM sees where the whole model was
                                surprised. 0: the token's embedding alone */
    /* format 13; 0 in older files */
    uint32_t ssm_guess_input; /* 1: the SSM's input also adds learnt vectors for what the
                                 context models expect next: the match model's predicted
                                 token, and the most frequent follower of the longest
                                 n-gram context found (one table per order), so the SSM
                                 learns when they are right. 0: not */
    /* format 14; 0 in older files */
    uint32_t ssm_context_bits; /* > 0: the SSM's input also adds learnt rows for the last two
                                  tokens together and for the current word's bytes so far,
                                  from one table of 2^bits rows by a hash of each (at most
                                  2^22): a memory of what followed each context. 0: none */
    uint32_t ssm_context_min;  /* a context's row is read only once the context has come
                                  this many times (at most 255) */
    /* format 15; 0 in older files */
    uint32_t replay_extra;     /* with replay: how many more earlier chunks each one-step chunk
                                  learns again beside the first, each drawn the same way and
                                  at the same weight (at most 4) */
    /* format 16; 0 in older files */
    float emb_lr_scale;        /* > 0: the embedding's rows of the tokens and of the cost
                                  buckets, which a step reaches only through the few tokens
                                  of its chunks, learn at this multiple of lr (at most 64;
                                  lr 0 still freezes them). 0: at lr, as every other weight */
    uint32_t replay_candidates; /* > 1: each replayed chunk is, of this many drawn, the one
                                   the SSM predicted worst when it was coded (at most 4);
                                   0 or 1: the one drawn */
    /* format 18; 0 in older files */
    uint32_t mix_ssm_prior;    /* 1: each n-gram count enters the token mixture as
                                  log(1 + count / (alpha V p)), p the SSM's probability of
                                  the token (at least 1/50 of uniform): a count says more
                                  where the SSM expected the token less. 0: log(1 + count
                                  / alpha), the same for every token */
    /* format 19; 0 in older files */
    float adam_surge;          /* > 0: when a step's squared gradient norm exceeds adam_surge^2
                                  times its running mean (bias-corrected, at beta2), every
                                  rate of that step is scaled by adam_surge / sqrt(that
                                  ratio). After a long stretch of data the SSM predicts
                                  almost perfectly (a run of zeros), Adam's second moments
                                  have decayed and new data would otherwise move every
                                  weight by up to sqrt(1 / (1 - beta2)) times its rate.
                                  0: no limit */
    /* format 22; 0 in older files */
    uint32_t ssm_nest_context; /* 1: the SSM's input also adds a learnt row for where the
                                  text stands: the innermost open bracket, how deep, inside
                                  a quote or not, and the column (in buckets); its rows are
                                  the hashed context table's (needs ssm_context_bits) */
} smx_params;

typedef struct smx_stats {
    uint64_t tokens;         /* tokens coded so far */
    double model_bits;       /* sum of -log2 p(token) under the float mixture */
    double coded_bits;       /* sum of -log2 freq/total, what the coder is asked to spend */
} smx_stats;

typedef struct smx_engine smx_engine;

/* Checks p; on failure writes a message to err and returns nonzero. */
int smx_params_check(const smx_params *p, char *err, size_t errlen);

/* Bytes an engine with parameters p allocates, at most (0 if p is invalid):
 * what decoding a file written with p needs, known before allocating. */
uint64_t smx_params_memory(const smx_params *p);

/* tok_bytes and tok_end describe the vocabulary: the bytes of token i are
 * tok_bytes[tok_end[i-1] .. tok_end[i]) (from 0 for i = 0), 1 to 64 of them;
 * the engine keeps a copy. threads <= 0 means OpenMP's default. Returns
 * NULL with a message in err when the parameters or the token table are
 * invalid or memory is short; in the last case the message begins with
 * "out of memory" (the Python side raises MemoryError for it). */
smx_engine *smx_engine_new(const smx_params *p, const uint8_t *tok_bytes, const uint32_t *tok_end,
                           int threads, char *err, size_t errlen);
void smx_engine_free(smx_engine *e);

/* Which kernel set runs: "avx2" or "scalar" (STATESMIX_FORCE_SCALAR=1 forces scalar). */
const char *smx_engine_isa(const smx_engine *e);

/* Upper bound on the bytes smx_encode writes for n tokens. */
size_t smx_encode_bound(size_t n_tokens);

/* Codes n tokens as one self-contained range-coder stream (one frame) and
 * learns from them. Returns bytes written, or -1 if a token id is out of
 * range or out is too small (the engine is then unusable). */
int64_t smx_encode(smx_engine *e, const uint32_t *tokens, size_t n, uint8_t *out, size_t out_cap);

/* Decodes n tokens from one frame written by smx_encode. Reading past the
 * end of in yields zero bytes (a truncated or corrupt frame decodes to
 * garbage that the container's checksum rejects; it never reads out of
 * bounds). Returns bytes consumed, or -1 on failure. */
int64_t smx_decode(smx_engine *e, const uint8_t *in, size_t in_len, uint32_t *tokens, size_t n);

void smx_engine_stats(const smx_engine *e, smx_stats *out);

#endif
