/* The online Mamba model: parameters, recurrent state, and the activations
 * of the current training chunk, which prediction fills in and the backward
 * pass reads (so training needs no second forward pass). */
#ifndef SMX_MODEL_H
#define SMX_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"
#include "statesmix.h"
#include "table_alloc.h"

/* Chunks replayed per step at most: 1 + the largest replay_extra. */
#define SMX_MAX_REPLAY_DRAWS 5u

/* Offsets of one layer's tensors inside the flat parameter vector. */
typedef struct smx_layer_offsets {
    size_t ln_w, ln_b;     /* DM, DM */
    /* Projections are stored input-major ("in x out"): see matvec in model.c. */
    size_t w_in;           /* DM x 2DI: outputs 0..DI-1 the SSM branch, DI..2DI-1 the gate */
    size_t conv_w, conv_b; /* DC x DI, DI */
    size_t w_x;            /* DI x (2DS+1): B, C, and the step scalar s */
    size_t dt_w, dt_b;     /* DI, DI: dt_i = softplus(s * dt_w_i + dt_b_i) */
    size_t a_log;          /* DS x DI: A = -exp(A_log) */
    size_t d_skip;         /* DI */
    size_t w_out;          /* DI x DM */
} smx_layer_offsets;

/* One layer's activations for every position of the chunk (row t = position t). */
typedef struct smx_layer_cache {
    float *x_in;             /* T x DM  residual stream entering the layer */
    float *mean, *rstd;      /* T       layernorm statistics */
    float *u;                /* T x DM  layernorm output */
    float *xz;               /* T x 2DI in-projection: SSM branch then gate */
    float *xc;               /* T x DI  conv output before SiLU */
    float *a;                /* T x DI  SiLU(xc) */
    float *bcs;              /* T x (2DS+1) */
    float *dt_pre, *dt;      /* T x DI */
    float *decay;            /* T x DS x DI  exp(dt * A) */
    float *h;                /* T x DS x DI  state after the step */
    float *y;                /* T x DI */
    float *gate;             /* T x DI  SiLU(z) */
    float *g;                /* T x DI  y * SiLU(z) */
} smx_layer_cache;

/* Everything one training chunk needs from its prediction pass. There are
 * two: while the backward pass reads one chunk (on a worker thread), the
 * forward pass fills the other. */
typedef struct smx_chunk {
    smx_layer_cache c[SMX_MAX_LAYERS];
    float *xf_in, *fmean, *frstd, *xf; /* final layernorm, T x DM / T */
    float *probs;          /* T x Vp  model probabilities, turned into dlogits in place */
    uint32_t *in_rows;     /* T x NIN: the embedding rows summed into each input */
    uint32_t *target;      /* T tokens that followed */
    float *h_start;        /* NL x DS x DI: state at the chunk start, where backpropagation stops */
    float *conv_start;     /* NL x (DC-1) x DI: SSM-branch inputs before the chunk, oldest first */
} smx_chunk;

typedef struct smx_model {
    uint32_t V, Vp, DM, DI, DS, DC, NL, T, NBCS;
    const smx_kernels *k;

    float *block;          /* every array below lives in this one allocation */
    size_t n_params;
    float *theta, *grad, *adam_m, *adam_v;
    size_t emb;            /* n_rows x DM: see "The SSM's input" below */
    uint32_t n_rows;       /* V + NCOST + NSPARSE */
    uint32_t NCOST;        /* cost buckets of the input (ssm_cost_input) */
    uint32_t NGUESS;       /* rows of the context models' guesses (ssm_guess_input) */
    uint32_t NCTX;         /* rows of the hashed contexts (ssm_context_bits) */
    uint32_t NSPARSE;      /* NGUESS + NCTX: the rows the Adam step updates sparsely */
    uint32_t NIN;          /* rows summed per input */
    size_t lnf_w, lnf_b;   /* DM */
    size_t head;           /* DM x Vp, d-major so the logit kernel runs along the vocabulary */
    size_t head_b;         /* V: a bias per token (only with has_head_bias) */
    int has_head_bias;
    smx_layer_offsets L[SMX_MAX_LAYERS];
    float *a_neg;          /* NL x DS x DI: -exp(A_log), refreshed after each update */
    /* The next parameters: the worker thread writes an Adam step here while
     * the forward pass reads theta and a_neg; the two are swapped at the
     * chunk boundary (smx_model_swap_params). */
    float *theta_next, *a_neg_next;

    /* Recurrent state; h_live advances token by token. */
    float *h_live;         /* NL x DS x DI */
    float *h_saved;        /* end-of-chunk state kept across retraining passes */

    smx_chunk chunks[2];
    smx_chunk *cur;        /* the chunk being predicted */
    smx_chunk *prev;       /* the chunk before it */
    float *scratch;        /* forward: large enough for any per-position temporary */

    /* backward only (it may run on another thread than the forward pass) */
    float *dres;           /* T x DM gradient on the residual stream */
    float *dxz;            /* T x 2DI */
    float *dxo_rows;       /* T x DM: the gradient on each position's out-projection */
    float *dbcs_rows;      /* T x NBCS: on each position's B, C and dt input */
    float *bscratch;       /* per-position temporaries */
    float *head_part;      /* partial sums of the head backward, per vocabulary block */
    size_t n_blocks;

    /* The sparse rows (the guesses of ssm_guess_input, the contexts of
     * ssm_context_bits) are most of the parameters, but each input reads only
     * a few of them: the Adam step clears, updates and copies only the rows a
     * step's gradient touched (optim.c). With beta1 = 0 an untouched row
     * would not move anyway; the decay its moments missed is applied when it
     * is touched again. */
    size_t sparse_off, sparse_end; /* the sparse rows' span of the parameters (floats) */
    uint32_t *touched;     /* sparse rows (from 0) with a gradient in this step, first touch first */
    uint32_t n_touched;
    uint32_t touched_cap;  /* rows touched and stale hold (layout's bound on a step) */
    int touched_overflow;  /* a step touched more: the bound is wrong, and the engine fails */
    uint8_t *is_touched;   /* NSPARSE flags */
    uint64_t *row_step;    /* NSPARSE: the Adam step that last updated each sparse row */
    uint32_t *stale;       /* rows the last aside step wrote to theta_next only */
    uint32_t n_stale;

    /* Replay (p->replay > 0): the tokens of the last R full chunks, and the
     * room to recompute them, one at a time, beside the forward pass (the
     * worker's own chunk cache, state and scratch). */
    uint32_t R;
    uint32_t replay_draws;    /* chunks replayed per step: 1 + p->replay_extra */
    uint32_t replay_candidates; /* chunks drawn for each replayed one: p->replay_candidates, at least 1 */
    uint64_t replay_stored;   /* full chunks stored so far */
    uint32_t *replay_tokens;  /* R x (NIN + 1) T: each chunk's input rows, then its targets */
    smx_chunk replay[SMX_MAX_REPLAY_DRAWS]; /* one per draw; h_start and conv_start stay zero */
    float *replay_h, *replay_scratch;
    /* The replayed chunks' forward passes, done ahead by the worker while it
     * would otherwise wait (smx_model_replay_prepare): for which step, with
     * how many chunks stored, after how many Adam steps, with which buffer
     * of parameters and at which weight. */
    struct smx_replay_ahead {
        int ready;
        uint64_t index, stored, adam_steps;
        const float *theta;
        float weight;
    } ahead;
    float *replay_miss;       /* R, with several candidates: how badly the SSM predicted each
                                 stored chunk when it was coded (the size of its loss's
                                 gradient at the targets, summed over the chunk) */

    uint64_t adam_steps;
    float b1_pow, b2_pow;
    float grad_sq_mean; /* adam_surge: running mean of the clipped gradient's squared norm */
} smx_model;

int smx_model_init(smx_model *m, const smx_params *p, const smx_kernels *k);
/* Bytes smx_model_init allocates for p. */
uint64_t smx_model_memory(const smx_params *p);
void smx_model_free(smx_model *m);
/* Adds the model's one block to l (table_alloc.h). */
void smx_model_tables(const smx_model *m, smx_table_list *l);

/* The SSM's input at a position is the sum of NIN rows of its embedding:
 * the previous token's row, then with ssm_cost_input a row for what that
 * token cost to code, then with ssm_guess_input a row for the match model's
 * predicted token and one for the n-gram tables' guess (smx_ngram_guess),
 * by its order, then with ssm_context_bits the rows of the hashed contexts
 * (ssm_context.h), the structure's last with ssm_nest_context. Rows after the tokens' start at zero: until the SSM
 * learns, they change nothing. A slot without a row holds SMX_ROW_NONE. */
#define SMX_ROW_NONE UINT32_MAX
enum { SMX_SLOT_TOKEN, SMX_SLOT_COST, SMX_SLOT_MATCH, SMX_SLOT_NGRAM, SMX_SLOT_PAIR, SMX_SLOT_WORD,
       SMX_SLOT_NEST, SMX_INPUT_MAX_ROWS };
static inline uint32_t smx_row_cost(const smx_model *m, uint32_t bucket) { return m->V + bucket; }
static inline uint32_t smx_row_match_guess(const smx_model *m, uint32_t tok) {
    return m->V + m->NCOST + tok;
}
static inline uint32_t smx_row_ngram_guess(const smx_model *m, uint32_t order_index, uint32_t tok) {
    return m->V + m->NCOST + m->V * (1u + order_index) + tok;
}
/* index: a row of the context table, in [0, NCTX) */
static inline uint32_t smx_row_context(const smx_model *m, uint32_t index) {
    return m->V + m->NCOST + m->NGUESS + index;
}

/* Runs one input (NIN rows, above) at chunk position pos; leaves the SSM
 * logits in logits (Vp entries; padding set very negative). */
void smx_model_forward(smx_model *m, uint32_t pos, const uint32_t *rows, float *logits);

/* Marks a chunk start: the live state becomes the point where gradients stop. */
void smx_model_begin_chunk(smx_model *m);

/* Trains on the first n positions of m->prev, the chunk just ended by
 * smx_model_next_chunk, with the given number of Adam steps: the first from
 * the gradients the engine left in ch->probs, each later one re-running the
 * forward pass on the chunk's own cross-entropy; the live state is left as it was. */
void smx_model_train_chunk(smx_model *m, const smx_params *p, uint32_t n, uint32_t steps);

/* Makes the parameters written by smx_adam_step_aside the current ones. */
void smx_model_swap_params(smx_model *m);

/* Ends the current chunk of n positions: the next chunk's conv history is
 * taken from it, and it becomes m->prev while the next fills m->cur. */
void smx_model_next_chunk(smx_model *m, uint32_t n);

/* Backpropagates the loss gradients that ch->probs holds for its n
 * positions (the engine replaces each position's probabilities by
 * d loss / d logits once its token is coded) into m->grad, zeroed first.
 * Reads the parameters and ch only, so it may run while the forward pass
 * fills the other chunk. */
void smx_model_chunk_gradient(smx_model *m, smx_chunk *ch, uint32_t n);

/* out = scale * d(smoothed cross-entropy)/d logits for one position with
 * SSM probabilities probs (out may be probs). */
void smx_model_own_dlogits(const smx_model *m, const float *probs, uint32_t target, float smoothing,
                           float scale, float *out);

/* Backpropagates d(loss)/d(logits), held in ch->probs for positions
 * 0..n-1, into m->grad (which the caller zeroes). */
void smx_model_backward(smx_model *m, smx_chunk *ch, uint32_t n);

/* Keeps the tokens of ch, a chunk of n positions just ended, for replay
 * (full chunks only; a no-op without replay). */
void smx_model_replay_store(smx_model *m, const smx_chunk *ch, uint32_t n);

/* Adds to m->grad weight x the gradient of the mean cross-entropy of each
 * of m->replay_draws stored chunks other than the newest, drawn by hashes of
 * index, recomputed with the current parameters from a zero state. Reads the
 * parameters and the replay buffers only, so it may run beside the forward
 * pass. Uses the forward passes smx_model_replay_prepare did ahead if they
 * were for this step, with these parameters; else does them first. */
void smx_model_replay_gradient(smx_model *m, uint64_t index, float weight);

/* The forward passes of smx_model_replay_gradient's step `index`, done
 * ahead with the parameters th and a_neg (the next ones, m->theta_next, as
 * soon as the step before has written them, the model's adam_steps-th),
 * assuming `stored` chunks stored by then. Writes only the replay buffers
 * and m->ahead, and reads of the stored chunks only those the step may
 * draw, so it may run while the coding thread ends a chunk and stores it. */
void smx_model_replay_prepare(smx_model *m, const float *th, const float *a_neg, uint64_t index, uint64_t stored,
                              uint64_t adam_steps, float weight);

/* softmax with the kernels' fixed order: probs = exp(z - max) / sum. Returns
 * the entropy in nats. Padding entries must already hold a very negative z. */
float smx_softmax(const smx_kernels *k, const float *z, float *probs, size_t n, float *sum_out);

#endif
