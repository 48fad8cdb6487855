/* The predict -> code -> update loop. Encoder and decoder run exactly the
 * same steps for every token:
 *   1. the model predicts (SSM logits, n-gram lookups, mixing),
 *   2. the mixed distribution becomes integer frequencies, or, with the
 *      binary stage (predictor.h), the token is coded bit by bit, each bit's
 *      probability predicted from the mixture and the bit models,
 *   3. the token is coded (or decoded),
 *   4. the mixer, the n-gram tables and, every chunk, the SSM learn from it. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <xmmintrin.h>

#include "kernels.h"
#include "match.h"
#include "tokenmix.h"
#include "model.h"
#include "ngram.h"
#include "optim.h"
#include "predictor.h"
#include "rangecoder.h"
#include "smx_math.h"
#include "ssm_context.h"
#include "statesmix.h"
#include "table_alloc.h"

/* ssm_cost_input: what the previous token cost to code, in buckets of this
 * many nats, the last open-ended. */
#define COST_INPUT_NATS 2.0f
#define COST_INPUT_MAX_BUCKETS 64u

/* The floating-point mode every engine computation runs in: round to
 * nearest, exceptions masked, and subnormal numbers flushed to zero (FTZ)
 * and read as zero (DAZ). After a long run of one symbol the SSM's
 * activations and gradients decay into the subnormal range, where x86
 * arithmetic is about 100x slower: 500 KB of zeros before 500 KB of text
 * made the whole file take 3x as long. The mode is per thread and governs
 * SSE and AVX alike, so with it fixed here (not inherited from the caller)
 * encoder and decoder, scalar and AVX2 kernels stay bit-identical. Entry
 * points set it and give the caller back its own mode on return. */
#define SMX_MXCSR 0x9FC0u /* FTZ | all exceptions masked | DAZ */

static uint32_t fp_mode_enter(void) {
    uint32_t caller = _mm_getcsr();
    _mm_setcsr(SMX_MXCSR);
    return caller;
}

static void fp_mode_leave(uint32_t caller) { _mm_setcsr(caller); }

/* Frequencies total about 2^24: a token gets at least 2^-24 probability
 * and each frequency is floor(p * FREQ_SCALE) + 1. */
#define FREQ_SCALE 16711680.0f /* 2^24 - 2^16 */

struct smx_engine {
    smx_params p;
    const smx_kernels *k;
    int threads;
    smx_model model;
    smx_ngram ngram;
    smx_tokenmix mixer;
    smx_match match;
    smx_history hist;    /* the tokens and bytes coded so far, read by the SSM's input and the binary stage */
    smx_ssm_context ctx; /* the SSM's hashed context inputs (ssm_context_bits) */
    smx_predictor pred;  /* the binary stage, used when p.bin_bits > 0 */
    uint8_t *tok_bytes;  /* the bytes of every token id (see smx_engine_new) */
    uint32_t *tok_end;
    uint32_t chunk_pos;
    uint64_t chunks_done;
    /* Training pipeline: the gradient of the chunk just predicted, and the
     * Adam step it makes, are computed into the model's next parameters
     * while the next chunk is predicted (on the worker thread when there
     * are two or more threads, else at once: same numbers either way); the
     * new parameters take over at the next chunk boundary. */
    int grad_pending;      /* new parameters wait to take over */
    uint32_t grad_n;       /* positions in the chunk it is computed from */
    uint64_t grad_chunk;   /* that chunk's number, which picks the chunk replayed with it */
    struct {
        pthread_t thread;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        int started;
        atomic_int busy;     /* a step is posted and not finished; at 0 the worker may still be
                              * doing the next step's replay ahead (worker_main), in its own
                              * replay buffers only */
        atomic_int quit;
        atomic_int sleepers; /* threads asleep on cv, waiting for busy or quit to change */
    } worker;
    /* With two or more threads, a short-lived thread faults the large
     * tables' pages in while the coding thread starts (table_alloc.h). */
    struct {
        pthread_t thread;
        int started;
        atomic_int stop;
        smx_table_list tables;
    } prefault;
    float *logits;   /* Vp: SSM logits */
    float *mixed;    /* Vp: mixed logits */
    float *ex;       /* V: exp(mixed - max) */
    float ex_sum;
    uint32_t *freq;  /* V */
    uint32_t total;
    /* The current token's path through the id tree, for the SSM's gradient
     * of the coded loss: each coded node's id ranges, the SSM's and the
     * mixture's mass on either side, and d(cost)/d(log-odds) of both. */
    struct smx_path_node {
        uint32_t lo, mid, hi;
        float ps_left, ps_right, q_left, q_right, g_ssm, g_mix;
    } path[SMX_MAX_DEPTH];
    uint32_t path_len;
    float tok_cost;  /* what the current token cost to code, in nats */
    float mean_cost; /* its running mean (ssm_cost_focus) */
    float *dl;       /* V: scratch for the coded loss's gradient */
    smx_stats stats;
    int failed;
};

static void worker_stop(smx_engine *e);

static void set_err(char *err, size_t errlen, const char *msg) {
    if (err && errlen) {
        size_t n = strlen(msg);
        if (n >= errlen) n = errlen - 1;
        memcpy(err, msg, n);
        err[n] = 0;
    }
}

static int finite_in(float v, float lo, float hi) { return v >= lo && v <= hi; }

/* Multiply-adds one token costs the SSM and the token mixture, roughly: a
 * forward pass through every layer and the head, three passes' worth for
 * each training step and replayed chunk, and the mixture's per-order
 * features over the vocabulary. Each dimension is bounded on its own, but
 * their product is what a decoder spends before a frame's checksum can say
 * the file is garbage: a file with every dimension at its bound would hold
 * one frame for some forty hours. Integer arithmetic (at most about 2^43
 * here), so every machine accepts and refuses the same files. */
static uint64_t work_per_token(const smx_params *p) {
    const uint64_t dm = p->d_model, di = p->d_inner, ds = p->d_state, dc = p->d_conv, v = p->vocab;
    const uint64_t layer = dm * 2 * di + di * (1 + 2 * ds) + di * dc + 4 * di * ds + di * dm;
    const uint64_t forward = p->n_layers * layer + dm * v;
    uint64_t steps = p->steps_first;
    if (p->steps_second > steps) steps = p->steps_second;
    if (p->steps_rest > steps) steps = p->steps_rest;
    if (steps < 1) steps = 1;
    const uint64_t draws = p->replay > 0.0f ? 1u + p->replay_extra : 0u;
    return forward + (steps + draws) * 3 * forward + ((uint64_t)p->n_orders + 2) * v;
}

/* Twice the most any level of any readable format needs (level 9 of formats
 * 7 to 19, its SSM 192 wide: about 8.3 million; tests/test_native.py
 * checks every level against it). */
#define MAX_WORK_PER_TOKEN (1ull << 24)

int smx_params_check(const smx_params *p, char *err, size_t errlen) {
#define REQUIRE(cond, msg)              \
    do {                                \
        if (!(cond)) {                  \
            set_err(err, errlen, msg);  \
            return -1;                  \
        }                               \
    } while (0)
    REQUIRE(p->vocab >= 2 && p->vocab <= SMX_MAX_VOCAB, "vocab must be in [2, 65536]");
    REQUIRE(p->d_model >= 2 && p->d_model <= 512, "d_model must be in [2, 512]");
    REQUIRE(p->d_inner >= 1 && p->d_inner <= 2048, "d_inner must be in [1, 2048]");
    REQUIRE(p->d_state >= 1 && p->d_state <= 128, "d_state must be in [1, 128]");
    REQUIRE(p->d_inner * p->d_state <= 65536, "d_inner * d_state must be at most 65536");
    REQUIRE(p->d_conv >= 1 && p->d_conv <= 16, "d_conv must be in [1, 16]");
    REQUIRE(p->n_layers >= 1 && p->n_layers <= SMX_MAX_LAYERS, "n_layers must be in [1, 8]");
    REQUIRE(p->chunk >= 1 && p->chunk <= 256, "chunk must be in [1, 256]");
    REQUIRE(p->steps_first <= 32 && p->steps_second <= 32 && p->steps_rest <= 32,
            "steps per chunk must be at most 32");
    REQUIRE(finite_in(p->lr, 0.0f, 1.0f), "lr must be in [0, 1]");
    REQUIRE(finite_in(p->beta1, 0.0f, 0.9999999f) && finite_in(p->beta2, 0.0f, 0.9999999f),
            "Adam betas must be in [0, 1)");
    REQUIRE(finite_in(p->eps, 1e-30f, 1.0f), "eps must be in (0, 1]");
    REQUIRE(finite_in(p->clip, 1e-6f, 1e6f), "clip must be positive");
    REQUIRE(finite_in(p->label_smoothing, 0.0f, 0.5f), "label_smoothing must be in [0, 0.5]");
    REQUIRE(finite_in(p->ssm_coded, 0.0f, 1.0f), "ssm_coded must be in [0, 1]");
    REQUIRE(p->head_bias <= 1, "head_bias must be 0 or 1");
    REQUIRE(finite_in(p->ssm_hidden, 0.0f, 4.0f), "ssm_hidden must be in [0, 4]");
    REQUIRE(finite_in(p->replay, 0.0f, 4.0f), "replay must be in [0, 4]");
    REQUIRE(p->replay_chunks <= (1u << 20), "replay_chunks must be at most 2^20");
    _Static_assert(SMX_MAX_REPLAY_DRAWS == 5, "the message below names SMX_MAX_REPLAY_DRAWS - 1");
    REQUIRE(p->replay_extra < SMX_MAX_REPLAY_DRAWS, "replay_extra must be at most 4");
    REQUIRE(finite_in(p->emb_lr_scale, 0.0f, 64.0f), "emb_lr_scale must be in [0, 64]");
    REQUIRE(p->replay_candidates <= 4, "replay_candidates must be at most 4");
    REQUIRE(p->bin_top_select <= 1, "bin_top_select must be 0 or 1");
    REQUIRE(p->mix_ssm_weight <= 1, "mix_ssm_weight must be 0 or 1");
    REQUIRE(p->mix_ssm_prior <= 1, "mix_ssm_prior must be 0 or 1");
    REQUIRE(finite_in(p->adam_surge, 0.0f, 64.0f), "adam_surge must be in [0, 64]");
    REQUIRE(finite_in(p->ssm_cost_focus, 0.0f, 4.0f), "ssm_cost_focus must be in [0, 4]");
    REQUIRE(p->ssm_cost_input <= COST_INPUT_MAX_BUCKETS, "ssm_cost_input must be in [0, 64]");
    REQUIRE(p->ssm_guess_input <= 1, "ssm_guess_input must be 0 or 1");
    REQUIRE(p->ssm_context_bits <= 22, "ssm_context_bits must be in [0, 22]");
    REQUIRE(p->ssm_context_min <= 255, "ssm_context_min must be in [0, 255]");
    REQUIRE(p->ssm_nest_context <= 1, "ssm_nest_context must be 0 or 1");
    REQUIRE(!p->ssm_nest_context || p->ssm_context_bits, "ssm_nest_context needs ssm_context_bits");
    REQUIRE(p->n_orders <= SMX_MAX_ORDERS, "too many n-gram orders");
    for (uint32_t k = 0; k < p->n_orders; k++) {
        REQUIRE(p->orders[k] >= 1 && p->orders[k] < 64, "n-gram orders must be in [1, 63]");
        REQUIRE(k == 0 || p->orders[k] > p->orders[k - 1], "n-gram orders must ascend");
        REQUIRE(finite_in(p->lambda[k], -16.0f, 16.0f), "n-gram lambda out of range");
        REQUIRE(finite_in(p->alpha[k], 1e-6f, 1e6f), "n-gram alpha out of range");
    }
    REQUIRE(finite_in(p->unigram_weight, -16.0f, 16.0f), "unigram weight out of range");
    /* table_bits sizes both the n-gram tables and the match model's history;
     * unused, it is still bounded: memory estimates and info shift by it */
    REQUIRE(p->table_bits <= 24, "table_bits must be in [4, 24]");
    REQUIRE((p->n_orders == 0 && p->match_min_len == 0) || p->table_bits >= 4, "table_bits must be in [4, 24]");
    REQUIRE(p->pool_limit <= (1u << 27), "pool_limit must be in [16, 2^27]");
    REQUIRE(p->n_orders == 0 || p->pool_limit >= 16, "pool_limit must be in [16, 2^27]");
    REQUIRE(finite_in(p->mix_lr, 0.0f, 1.0f), "mix_lr must be in [0, 1]");
    REQUIRE(p->match_min_len <= 32, "match_min_len must be at most 32");
    REQUIRE(finite_in(p->match_weight, -16.0f, 16.0f), "match_weight out of range");
    REQUIRE(p->bin_bits == 0 || (p->bin_bits >= 8 && p->bin_bits <= 24), "bin_bits must be 0 or in [8, 24]");
    REQUIRE((p->bin_models & ~SMX_BIN_ALL) == 0, "bin_models names a model that does not exist");
    REQUIRE(finite_in(p->bin_lr, 0.0f, 1.0f), "bin_lr must be in [0, 1]");
    REQUIRE(work_per_token(p) <= MAX_WORK_PER_TOKEN,
            "the model's size, training steps and vocabulary together cost more per token than any level's");
    return 0;
#undef REQUIRE
}

static const smx_kernels *pick_kernels(void) {
    const char *force = getenv("STATESMIX_FORCE_SCALAR");
    if (force && force[0] && strcmp(force, "0") != 0) return &smx_kernels_scalar;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) return &smx_kernels_avx2;
    return &smx_kernels_scalar;
}

/* Checks the token table: ends ascend, single bytes first, no token empty or too long. */
static int check_tokens(const smx_params *p, const uint32_t *tok_end, char *err, size_t errlen) {
    uint32_t prev = 0;
    for (uint32_t i = 0; i < p->vocab; i++) {
        uint32_t len = tok_end[i] - prev;
        if (tok_end[i] <= prev || len > SMX_MAX_TOKEN_BYTES) {
            set_err(err, errlen, "token table: every token must have 1 to 64 bytes");
            return -1;
        }
        prev = tok_end[i];
    }
    return 0;
}

/* Each component's memory, in the order smx_engine_new allocates it. */
uint64_t smx_params_memory(const smx_params *p) {
    if (smx_params_check(p, NULL, 0)) return 0;
    uint64_t vp = (p->vocab + 7u) & ~7u;
    uint64_t total = sizeof(smx_engine) + 5 * vp * sizeof(float);
    total += (uint64_t)p->vocab * (SMX_MAX_TOKEN_BYTES + sizeof(uint32_t)); /* token table, at most */
    total += smx_model_memory(p) + smx_ngram_memory(p) + smx_tokenmix_memory(p) + smx_match_memory(p) +
             smx_ssm_context_memory(p);
    if (p->bin_bits) total += smx_predictor_memory(p);
    return total;
}

/* ssm_cost_focus: a position's weight in the SSM's loss follows what its
 * token cost to code against the running mean of that cost. Tokens the
 * n-grams and the binary stage already predict well weigh less, so more of
 * the SSM's few weights go to what the rest of the model misses. On text
 * a strong focus (1) pays most, but where the SSM carries much of the
 * prediction (CSV, databases) it loses up to 1%: the levels use half of
 * it (bench/README.md, "Format 11"). */
#define COST_MEAN_START 2.0f /* nats: about a token's cost on text */
#define COST_MEAN_RATE 0.01f
#define COST_WEIGHT_MIN 0.05f
#define COST_WEIGHT_MAX 2.0f
/* Guards, never reached on real data: a run of tokens that cost exactly 0
 * (a softmax at 1.0) must not decay the mean to 0 (0 / 0), and one that
 * cost more than any coded token can must not make it infinite. */
#define COST_MEAN_MIN 1e-3f
#define COST_MAX 256.0f

/* ---- populating the tables ahead of use ------------------------------------ */

static void *prefault_main(void *arg) {
    smx_engine *e = arg;
    for (uint32_t t = 0; t < e->prefault.tables.n; t++) {
        void *table = e->prefault.tables.table[t];
        const size_t bytes = smx_table_mapped_bytes(table);
        for (size_t from = 0; from < bytes; from += SMX_TABLE_STEP) {
            if (atomic_load_explicit(&e->prefault.stop, memory_order_relaxed)) return NULL;
            smx_table_populate(table, from, SMX_TABLE_STEP);
        }
    }
    return NULL;
}

/* The kernel clears a page on its first write whichever thread makes it,
 * so this changes when the clearing happens and on which thread, never the
 * tables' contents. The coding thread's first chunks train the SSM inline
 * (the warm-up), leaving the second core free. */
static void prefault_start(smx_engine *e) {
    smx_model_tables(&e->model, &e->prefault.tables);
    smx_ngram_tables(&e->ngram, &e->prefault.tables);
    smx_match_tables(&e->match, &e->prefault.tables);
    if (e->p.bin_bits) smx_predictor_tables(&e->pred, &e->prefault.tables);
    if (e->prefault.tables.n == 0) return;
    atomic_init(&e->prefault.stop, 0);
    e->prefault.started = pthread_create(&e->prefault.thread, NULL, prefault_main, e) == 0;
}

static void prefault_stop(smx_engine *e) {
    if (!e->prefault.started) return;
    atomic_store(&e->prefault.stop, 1);
    pthread_join(e->prefault.thread, NULL);
    e->prefault.started = 0;
}

smx_engine *smx_engine_new(const smx_params *p, const uint8_t *tok_bytes, const uint32_t *tok_end,
                           int threads, char *err, size_t errlen) {
    if (smx_params_check(p, err, errlen)) return NULL;
    if (check_tokens(p, tok_end, err, errlen)) return NULL;
    smx_engine *e = calloc(1, sizeof *e);
    if (!e) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    e->p = *p;
    e->mean_cost = COST_MEAN_START;
    e->k = pick_kernels();
    e->threads = threads > 0 ? threads : 1;
#ifdef _OPENMP
    if (threads <= 0) {
        extern int omp_get_max_threads(void);
        e->threads = omp_get_max_threads();
    }
#endif
    size_t Vp = (p->vocab + 7u) & ~7u;
    e->logits = calloc(Vp, sizeof(float));
    e->mixed = calloc(Vp, sizeof(float));
    e->ex = calloc(Vp, sizeof(float));
    e->freq = calloc(Vp, sizeof(uint32_t));
    e->dl = calloc(Vp, sizeof(float));
    e->tok_end = malloc(p->vocab * sizeof(uint32_t));
    e->tok_bytes = malloc(tok_end[p->vocab - 1]);
    int ok = e->logits && e->mixed && e->ex && e->freq && e->dl && e->tok_end && e->tok_bytes;
    if (ok) {
        memcpy(e->tok_end, tok_end, p->vocab * sizeof(uint32_t));
        memcpy(e->tok_bytes, tok_bytes, tok_end[p->vocab - 1]);
    }
    /* A second thread computes gradients (the training pipeline); the
     * model's own loops run on the thread that calls them. */
    uint32_t caller_mode = fp_mode_enter(); /* the initial weights too */
    int model_ok = ok && smx_model_init(&e->model, p, e->k) == 0;
    int ngram_ok = model_ok && smx_ngram_init(&e->ngram, p) == 0;
    int mixer_ok = ngram_ok && smx_tokenmix_init(&e->mixer, p) == 0;
    int match_ok = mixer_ok && smx_match_init(&e->match, p) == 0;
    int ctx_ok = match_ok && smx_ssm_context_init(&e->ctx, p) == 0;
    smx_history_init(&e->hist);
    int bin_ok = ctx_ok && (p->bin_bits == 0 || smx_predictor_init(&e->pred, p, e->k, &e->hist) == 0);
    fp_mode_leave(caller_mode);
    if (!bin_ok) {
        if (ctx_ok) smx_ssm_context_free(&e->ctx);
        if (match_ok) smx_match_free(&e->match);
        if (mixer_ok) smx_tokenmix_free(&e->mixer);
        if (ngram_ok) smx_ngram_free(&e->ngram);
        if (model_ok) smx_model_free(&e->model);
        free(e->logits); free(e->mixed); free(e->ex); free(e->freq); free(e->dl); free(e->tok_end); free(e->tok_bytes);
        free(e);
        set_err(err, errlen, "out of memory creating the model");
        return NULL;
    }
    if (e->threads > 1) prefault_start(e);
    return e;
}

void smx_engine_free(smx_engine *e) {
    if (!e) return;
    prefault_stop(e);
    worker_stop(e);
    if (e->p.bin_bits) smx_predictor_free(&e->pred);
    smx_ssm_context_free(&e->ctx);
    smx_match_free(&e->match);
    smx_tokenmix_free(&e->mixer);
    smx_ngram_free(&e->ngram);
    smx_model_free(&e->model);
    free(e->logits); free(e->mixed); free(e->ex); free(e->freq); free(e->dl); free(e->tok_end); free(e->tok_bytes);
    free(e);
}

const char *smx_engine_isa(const smx_engine *e) { return e->k->name; }

/* A token costs at most 4 bytes as one symbol (2^-24 floor), and in the
 * binary stage at most 16 bits (a tree over 2^16 ids) of at most 20 bits
 * each (BIT_P_FLOOR): 40 bytes. The container checks frames against the
 * same bound (container.payload_bound). */
#define BIT_P_FLOOR 16u /* of BIT_TOTAL: a bit costs at most 20 bits */
#define BIT_TOTAL (1u << 24)
size_t smx_encode_bound(size_t n_tokens) { return 40 * n_tokens + 16; }

void smx_engine_stats(const smx_engine *e, smx_stats *out) { *out = e->stats; }

/* ---- training pipeline --------------------------------------------------- */

/* The training step of the chunk just predicted (m->prev): its gradient,
 * plus a replayed earlier chunk's, then the Adam step into the next
 * parameters. Runs on the worker, or inline with one thread. */
static void train_prev(smx_engine *e) {
    smx_model_chunk_gradient(&e->model, e->model.prev, e->grad_n);
    smx_model_replay_gradient(&e->model, e->grad_chunk, e->p.replay);
    smx_adam_step_aside(&e->model, &e->p);
}

/* The two threads hand a job back and forth once per chunk (16 tokens, about
 * half a millisecond). Putting a thread to sleep and waking it costs the
 * waker tens of microseconds in the kernel on a virtual machine, on the
 * coding thread's path when the worker is the one asleep. So a waiting thread
 * first spins, for longer than a chunk takes (65,536 pause rounds, about
 * 1.6 ms here), so that neither thread sleeps while the engine codes; an
 * engine left idle (between frames, a stream waiting for input) sleeps
 * after that. Every 256 rounds the spinner yields the core: where the two
 * threads share one core (a machine busy with other work, a container with
 * less CPU than cores), the thread it waits for then runs instead of
 * waiting out the spin. The flags are sequentially consistent atomics: a
 * setter that reads sleepers == 0 after its store knows the waiter will see
 * the new value before it sleeps. */
#define SPIN_ROUNDS 65536u
#define YIELD_ROUNDS 256u

static int worker_flag_is(const smx_engine *e, atomic_int *flag, int want, int or_quit) {
    return atomic_load(flag) == want || (or_quit && atomic_load(&e->worker.quit));
}

static void worker_wait_flag(smx_engine *e, atomic_int *flag, int want, int or_quit) {
    for (uint32_t i = 0; i < SPIN_ROUNDS; i++) {
        if (worker_flag_is(e, flag, want, or_quit)) return;
        _mm_pause();
        if (i % YIELD_ROUNDS == YIELD_ROUNDS - 1) sched_yield();
    }
    pthread_mutex_lock(&e->worker.mu);
    atomic_fetch_add(&e->worker.sleepers, 1);
    while (!worker_flag_is(e, flag, want, or_quit)) pthread_cond_wait(&e->worker.cv, &e->worker.mu);
    atomic_fetch_sub(&e->worker.sleepers, 1);
    pthread_mutex_unlock(&e->worker.mu);
}

static void worker_set_flag(smx_engine *e, atomic_int *flag, int value) {
    atomic_store(flag, value);
    if (atomic_load(&e->worker.sleepers)) {
        pthread_mutex_lock(&e->worker.mu);
        pthread_cond_broadcast(&e->worker.cv);
        pthread_mutex_unlock(&e->worker.mu);
    }
}

static uint32_t steps_for_chunk(const smx_params *p, uint64_t chunk);

/* The worker's step takes less time than the coding thread's chunk on
 * average, but not on every chunk: where it takes more, the coding thread
 * waits for it, and where less, the worker waits. So once its step is
 * handed back, the worker does the forward passes of the next step's
 * replayed chunks ahead, with the parameters it has just written, which that
 * step will use (model.h, smx_model_replay_prepare); what the step computes
 * does not change. The next step is the next chunk's if that chunk is learnt
 * in one step, by the worker; the chunk is assumed full, so stored once
 * more. Everything read here is read before the hand-back, after which the
 * coding thread may swap the parameters and store a chunk. */
static void *worker_main(void *arg) {
    smx_engine *e = arg;
    smx_model *m = &e->model;
    fp_mode_enter(); /* the worker is ours: no mode to give back */
    for (;;) {
        worker_wait_flag(e, &e->worker.busy, 1, 1);
        if (atomic_load(&e->worker.quit)) break;
        train_prev(e);
        const uint64_t next = e->grad_chunk + 1, stored = m->replay_stored + 1, adam_steps = m->adam_steps;
        const int ahead = e->p.replay > 0.0f && steps_for_chunk(&e->p, next) == 1;
        const float *th = m->theta_next, *a_neg = m->a_neg_next;
        worker_set_flag(e, &e->worker.busy, 0);
        if (ahead) smx_model_replay_prepare(m, th, a_neg, next, stored, adam_steps, e->p.replay);
    }
    return NULL;
}

static int worker_start(smx_engine *e) {
    atomic_init(&e->worker.busy, 0);
    atomic_init(&e->worker.quit, 0);
    atomic_init(&e->worker.sleepers, 0);
    if (pthread_mutex_init(&e->worker.mu, NULL)) return -1;
    if (pthread_cond_init(&e->worker.cv, NULL)) {
        pthread_mutex_destroy(&e->worker.mu);
        return -1;
    }
    if (pthread_create(&e->worker.thread, NULL, worker_main, e)) {
        pthread_cond_destroy(&e->worker.cv);
        pthread_mutex_destroy(&e->worker.mu);
        return -1;
    }
    e->worker.started = 1;
    return 0;
}

/* Waits until the posted step is finished: its parameters are written.
 * The worker need not be idle then (worker_main): nothing may reset the
 * replay buffers or the stored chunks it reads after this returns. */
static void worker_wait(smx_engine *e) {
    if (e->worker.started) worker_wait_flag(e, &e->worker.busy, 0, 0);
}

static void worker_stop(smx_engine *e) {
    if (!e->worker.started) return;
    worker_wait(e);
    worker_set_flag(e, &e->worker.quit, 1);
    pthread_join(e->worker.thread, NULL);
    pthread_cond_destroy(&e->worker.cv);
    pthread_mutex_destroy(&e->worker.mu);
    e->worker.started = 0;
}

/* Computes the gradient of m->prev and the Adam step it makes, into the
 * model's next parameters: on the worker if there is one (or one can be
 * started), else right here. */
static void gradient_start(smx_engine *e, uint32_t n) {
    e->grad_n = n;
    e->grad_chunk = e->chunks_done;
    e->grad_pending = 1;
    if (e->threads > 1 && (e->worker.started || worker_start(e) == 0)) {
        worker_set_flag(e, &e->worker.busy, 1);
        return;
    }
    train_prev(e);
}

static void gradient_apply(smx_engine *e) {
    if (!e->grad_pending) return;
    worker_wait(e);
    smx_model_swap_params(&e->model);
    e->grad_pending = 0;
}

static uint32_t steps_for_chunk(const smx_params *p, uint64_t chunk) {
    if (chunk < p->chunks_first) return p->steps_first;
    if (chunk < (uint64_t)p->chunks_first + p->chunks_second) return p->steps_second;
    return p->steps_rest;
}

/* A chunk of n positions has been predicted and coded. */
static void end_chunk(smx_engine *e, uint32_t n) {
    smx_model *m = &e->model;
    gradient_apply(e);
    if (m->touched_overflow) e->failed = 1; /* model.c's bound on a step's rows is wrong */
    uint32_t steps = steps_for_chunk(&e->p, e->chunks_done);
    smx_model_next_chunk(m, n);
    smx_model_replay_store(m, m->prev, n);
    if (steps == 1)
        gradient_start(e, n);
    else if (steps > 1) /* warm-up: several steps, each seeing the last one's weights */
        smx_model_train_chunk(m, &e->p, n, steps);
    e->chunks_done++;
    e->chunk_pos = 0;
}

_Static_assert(SMX_CONTEXT_PAIR == 0 && SMX_SLOT_PAIR + SMX_CONTEXT_WORD == SMX_SLOT_WORD &&
                   SMX_SLOT_PAIR + SMX_CONTEXT_NEST == SMX_SLOT_NEST && SMX_CONTEXTS == 3,
               "the hashed contexts fill the model's slots in their own order");

/* The SSM's input rows (model.h): the previous token; with ssm_cost_input
 * the bucket of what it cost to code (none before the first token), measured
 * on enwik8 and the mixed corpus in buckets of 2 nats (bench/README.md,
 * "Format 12"); with ssm_guess_input what the match model and the n-gram
 * tables expect next ("Format 13"); with ssm_context_bits the hashed
 * contexts' rows ("Format 14"; with ssm_nest_context also the text's
 * structure, "Format 22"). The n-gram contexts must be looked up. Call
 * once per position (it counts the contexts' visits). */
static void model_input(smx_engine *e, uint32_t *rows) {
    const smx_model *m = &e->model;
    const uint32_t n = e->p.ssm_cost_input;
    for (uint32_t i = 0; i < SMX_INPUT_MAX_ROWS; i++) rows[i] = SMX_ROW_NONE;
    rows[SMX_SLOT_TOKEN] = e->hist.tok[0];
    if (n != 0 && e->stats.tokens != 0) {
        const float c = e->tok_cost * (1.0f / COST_INPUT_NATS);
        const uint32_t bucket = c < (float)(n - 1) ? (uint32_t)c : n - 1; /* NaN: the last */
        rows[SMX_SLOT_COST] = smx_row_cost(m, bucket);
    }
    if (e->p.ssm_guess_input) {
        const int64_t match_tok = smx_match_predicted(&e->match);
        if (match_tok >= 0) rows[SMX_SLOT_MATCH] = smx_row_match_guess(m, (uint32_t)match_tok);
        uint32_t order_index, tok;
        if (smx_ngram_guess(&e->ngram, &order_index, &tok))
            rows[SMX_SLOT_NGRAM] = smx_row_ngram_guess(m, order_index, tok);
    }
    if (e->p.ssm_context_bits) {
        uint32_t ctx[SMX_CONTEXTS];
        smx_ssm_context_rows(&e->ctx, &e->hist, ctx);
        for (uint32_t i = 0; i < SMX_CONTEXTS; i++)
            if (ctx[i] != SMX_CONTEXT_NONE) rows[SMX_SLOT_PAIR + i] = smx_row_context(m, ctx[i]);
    }
}

/* Step 1, and step 2 without the binary stage: leaves the mixture in
 * e->ex / e->ex_sum and, without the binary stage, frequencies in e->freq. */
static void predict(smx_engine *e) {
    smx_model *m = &e->model;
    const uint32_t V = e->p.vocab;
    if (e->chunk_pos == 0) smx_model_begin_chunk(m);
    smx_ngram_lookup(&e->ngram);
    uint32_t rows[SMX_INPUT_MAX_ROWS];
    model_input(e, rows);
    smx_model_forward(m, e->chunk_pos, rows, e->logits);
    float *probs = m->cur->probs + (size_t)e->chunk_pos * m->Vp;
    float entropy = smx_softmax(e->k, e->logits, probs, m->Vp, NULL);
    for (size_t v = V; v < m->Vp; v++) probs[v] = 0.0f;

    const float *hidden = m->cur->xf + (size_t)e->chunk_pos * m->DM;
    smx_tokenmix_mix(&e->mixer, &e->ngram, &e->match, hidden, e->logits, probs, entropy, e->mixed);

    float zmax = e->k->max(e->mixed, V);
    float sum_ez;
    e->k->exp_sum(e->mixed, zmax, e->ex, V, &e->ex_sum, &sum_ez);
    if (e->p.bin_bits) return;
    /* The largest exponential is 1, so a finite sum is about in [1, V]. A model
     * that diverged (NaN logits) leaves none: scaled by it, every frequency
     * would be 2^31 + 1 and their 32-bit total would wrap, and the encoder
     * would write what no decoder reads. Both sides then code this token
     * with the uniform distribution instead. */
    if (!(e->ex_sum >= 0.5f && e->ex_sum <= 2.0f * (float)V)) {
        for (uint32_t v = 0; v < V; v++) e->freq[v] = 1;
        e->total = V;
        return;
    }
    e->k->to_freq(e->ex, FREQ_SCALE / e->ex_sum, e->freq, V);
    uint32_t total = 0;
    for (uint32_t v = 0; v < V; v++) total += e->freq[v];
    e->total = total;
}

/* ssm_cost_focus: the weight of the current position in the SSM's loss
 * (see COST_MEAN_START); updates the running mean. */
static float cost_weight(smx_engine *e) {
    const float c = e->tok_cost < COST_MAX ? e->tok_cost : COST_MAX; /* NaN too */
    float w = 1.0f + e->p.ssm_cost_focus * (c / e->mean_cost - 1.0f);
    if (w < COST_WEIGHT_MIN) w = COST_WEIGHT_MIN;
    if (w > COST_WEIGHT_MAX) w = COST_WEIGHT_MAX;
    e->mean_cost = e->mean_cost + COST_MEAN_RATE * (c - e->mean_cost);
    if (e->mean_cost < COST_MEAN_MIN) e->mean_cost = COST_MEAN_MIN;
    return w;
}

/* Replaces the SSM's probabilities at the current position by the gradient
 * its training takes: ssm_coded of the coded loss's gradient (through the
 * binary stage's path, or the mixture's softmax without it) and the rest
 * of its own smoothed cross-entropy, averaged over the chunk. */
static void ssm_dlogits(smx_engine *e, uint32_t tok) {
    smx_model *m = &e->model;
    const uint32_t V = e->p.vocab;
    float *row = m->cur->probs + (size_t)e->chunk_pos * m->Vp; /* the SSM's probabilities */
    const float r = e->p.ssm_coded;
    float scale = 1.0f / (float)e->p.chunk;
    if (e->p.ssm_cost_focus > 0.0f) scale = scale * cost_weight(e);
    if (r > 0.0f) {
        /* the mixture reads the SSM's logits times their weight w_s */
        const float w_s = smx_tokenmix_ssm_weight(&e->mixer), inv_q = w_s / e->ex_sum;
        float *dl = e->dl;
        if (e->p.bin_bits) {
            for (uint32_t v = 0; v < V; v++) dl[v] = 0.0f;
            /* st = log(right mass) - log(left mass): d st / d z_v is v's
             * share of its side's mass, + on the right and - on the left */
            for (uint32_t i = 0; i < e->path_len; i++) {
                const uint32_t lo = e->path[i].lo, mid = e->path[i].mid, hi = e->path[i].hi;
                const float gs = e->path[i].g_ssm, gm = e->path[i].g_mix;
                const float sl = gs / e->path[i].ps_left, sr = gs / e->path[i].ps_right;
                const float ml = gm * inv_q / e->path[i].q_left, mr = gm * inv_q / e->path[i].q_right;
                for (uint32_t v = lo; v < mid; v++) dl[v] = dl[v] - (row[v] * sl + e->ex[v] * ml);
                for (uint32_t v = mid; v < hi; v++) dl[v] = dl[v] + (row[v] * sr + e->ex[v] * mr);
            }
        } else {
            /* the token was coded with the mixture q = softmax(w_s * ssm + biases) */
            for (uint32_t v = 0; v < V; v++) dl[v] = e->ex[v] * inv_q;
            dl[tok] = dl[tok] - w_s;
        }
        smx_model_own_dlogits(m, row, tok, e->p.label_smoothing, scale * (1.0f - r), row);
        for (uint32_t v = 0; v < V; v++) row[v] = row[v] + (scale * r) * dl[v];
    } else {
        smx_model_own_dlogits(m, row, tok, e->p.label_smoothing, scale, row);
    }
}

/* Step 4. */
static void learn(smx_engine *e, uint32_t tok) {
    smx_model *m = &e->model;
    e->stats.tokens++;
    if (!e->p.bin_bits) {
        e->tok_cost = -smx_log(e->ex[tok] / e->ex_sum);
        e->stats.model_bits += (double)e->tok_cost * 1.4426950408889634;
        e->stats.coded_bits -= (double)smx_log((float)e->freq[tok] / (float)e->total) * 1.4426950408889634;
    }

    ssm_dlogits(e, tok);
    m->cur->target[e->chunk_pos] = tok;
    smx_tokenmix_learn(&e->mixer, &e->ngram, e->ex, e->ex_sum, tok);
    smx_ngram_update(&e->ngram, tok);
    smx_match_update(&e->match, tok);
    const uint32_t lo = tok ? e->tok_end[tok - 1] : 0;
    smx_history_push(&e->hist, tok, e->tok_bytes + lo, e->tok_end[tok] - lo);
    if (++e->chunk_pos == e->p.chunk) end_chunk(e, e->p.chunk);
}

/* The masses of the node's two halves, [lo, mid) and [mid, hi) with
 * hi - mid <= mid - lo, in the mixture q and in the SSM's ps. Each of the
 * four is one sum in index order, as a loop of its own would add it; they
 * run side by side so that the adder's latency is waited on once for all
 * four instead of once for each. */
static void half_masses(const float *q, const float *ps, uint32_t lo, uint32_t mid, uint32_t hi, float out[4]) {
    float ql = 0.0f, qr = 0.0f, pl = 0.0f, pr = 0.0f;
    const uint32_t both = hi - mid;
    for (uint32_t i = 0; i < both; i++) {
        ql = ql + q[lo + i];
        qr = qr + q[mid + i];
        pl = pl + ps[lo + i];
        pr = pr + ps[mid + i];
    }
    for (uint32_t i = lo + both; i < mid; i++) {
        ql = ql + q[i];
        pl = pl + ps[i];
    }
    out[0] = ql;
    out[1] = qr;
    out[2] = pl;
    out[3] = pr;
}

/* The mixture's favourite token: the first of those with the largest q. q
 * holds exponentials (exp_sum's), never NaN, so the vector maximum is one of
 * them exactly. */
static uint32_t favourite(const smx_kernels *k, const float *q, uint32_t V) {
    const float best = k->max(q, V);
    for (uint32_t v = 0; v < V; v++)
        if (q[v] == best) return v;
    return 0;
}

/* Probability bucket of the mixture's favourite token, a context of the binary stage. */
static uint32_t top_bucket(float q) {
    static const float edges[7] = {0.1f, 0.2f, 0.3f, 0.45f, 0.6f, 0.75f, 0.9f};
    uint32_t b = 0;
    while (b < 7 && q >= edges[b]) b++;
    return b;
}

/* Codes (enc != NULL) or decodes (dec != NULL) one token as its path of
 * bits through the id tree, the binary stage predicting each bit. */
static uint32_t code_bits(smx_engine *e, uint32_t tok, smx_rc_encoder *enc, smx_rc_decoder *dec) {
    smx_predictor *b = &e->pred;
    const uint32_t V = e->p.vocab, D = b->depth;
    const float *q = e->ex;
    const float *ps = e->model.cur->probs + (size_t)e->chunk_pos * e->model.Vp;
    const uint32_t top = favourite(e->k, q, V);
    int64_t match_tok = smx_match_predicted(&e->match);
    smx_token_guess guess = {
        .match_tok = match_tok,
        .match_len = e->match.len,
        .match_bucket = match_tok >= 0 ? smx_match_bucket(&e->match) : 0,
        .top_tok = top,
        .top_bucket = top_bucket(q[top] / e->ex_sum),
        .evidence_set = e->mixer.set,
        .ssm_state = e->model.cur->xf + (size_t)e->chunk_pos * e->model.DM,
    };
    smx_predictor_begin(b, &guess);
    e->path_len = 0;
    e->tok_cost = 0.0f;
    uint32_t lo = 0, node = 1;
    for (uint32_t d = 0; d < D; d++) {
        uint32_t half = 1u << (D - 1 - d), mid = lo + half;
        if (mid >= V) { /* the right subtree holds no token: the bit is 0 */
            node = 2 * node;
            continue;
        }
        uint32_t hi = mid + half < V ? mid + half : V;
        float mass[4];
        half_masses(q, ps, lo, mid, hi, mass);
        float q_left = mass[0], q_right = mass[1];
        float ps_left = mass[2] + 1e-30f, ps_right = mass[3] + 1e-30f;
        float st_tok = smx_log(q_right) - smx_log(q_left);
        float st_ssm = smx_log(ps_right) - smx_log(ps_left);
        float p1 = smx_predictor_p(b, node, d, st_tok, st_ssm);
        /* p1 is NaN once a diverged SSM's hidden vector reaches the mixer
         * (ssm_hidden). Converting NaN to an integer is undefined: it takes
         * the floor, as x86-64's conversion (to 0) did, so files written so
         * decode alike. */
        const float scaled = p1 * (float)BIT_TOTAL;
        uint32_t f1 = scaled >= 0.0f ? (uint32_t)scaled : 0u;
        if (f1 < BIT_P_FLOOR) f1 = BIT_P_FLOOR;
        if (f1 > BIT_TOTAL - BIT_P_FLOOR) f1 = BIT_TOTAL - BIT_P_FLOOR;
        uint32_t f0 = BIT_TOTAL - f1, bit;
        if (enc) {
            bit = (tok >> (D - 1 - d)) & 1u;
            smx_rc_encode(enc, bit ? f0 : 0, bit ? f1 : f0, BIT_TOTAL);
        } else {
            bit = smx_rc_decode_target(dec, BIT_TOTAL) >= f0;
            smx_rc_decode_consume(dec, bit ? f0 : 0, bit ? f1 : f0);
        }
        const float bit_cost = -smx_log(bit ? p1 : 1.0f - p1);
        e->tok_cost = e->tok_cost + bit_cost;
        e->stats.model_bits += (double)bit_cost * 1.4426950408889634;
        e->stats.coded_bits -= (double)smx_log((float)(bit ? f1 : f0) / (float)BIT_TOTAL) * 1.4426950408889634;
        if (b->input_grads) { /* only ssm_dlogits (coded-loss training) reads the path */
            float g_ssm, g_mix;
            smx_predictor_input_grads(b, bit, &g_ssm, &g_mix);
            e->path[e->path_len++] = (struct smx_path_node){lo, mid, hi, ps_left, ps_right, q_left, q_right,
                                                            g_ssm, g_mix};
        }
        smx_predictor_update(b, bit);
        node = 2 * node + bit;
        if (bit) lo = mid;
    }
    smx_predictor_end(b, lo);
    return lo;
}

int64_t smx_encode(smx_engine *e, const uint32_t *tokens, size_t n, uint8_t *out, size_t out_cap) {
    if (e->failed) return -1;
    for (size_t i = 0; i < n; i++)
        if (tokens[i] >= e->p.vocab) return -1;
    uint32_t caller_mode = fp_mode_enter();
    smx_rc_encoder rc;
    smx_rc_encoder_init(&rc, out, out_cap);
    for (size_t i = 0; i < n; i++) {
        uint32_t tok = tokens[i];
        predict(e);
        if (e->p.bin_bits) {
            code_bits(e, tok, &rc, NULL);
        } else {
            uint32_t cum = 0;
            for (uint32_t v = 0; v < tok; v++) cum += e->freq[v];
            smx_rc_encode(&rc, cum, e->freq[tok], e->total);
        }
        learn(e, tok);
    }
    int64_t written = smx_rc_encoder_finish(&rc);
    if (written < 0) e->failed = 1;
    fp_mode_leave(caller_mode);
    return e->failed ? -1 : written;
}

int64_t smx_decode(smx_engine *e, const uint8_t *in, size_t in_len, uint32_t *tokens, size_t n) {
    if (e->failed) return -1;
    uint32_t caller_mode = fp_mode_enter();
    smx_rc_decoder rc;
    smx_rc_decoder_init(&rc, in, in_len);
    const uint32_t V = e->p.vocab;
    for (size_t i = 0; i < n; i++) {
        predict(e);
        uint32_t tok = 0;
        if (e->p.bin_bits) {
            tok = code_bits(e, 0, NULL, &rc);
        } else {
            uint32_t target = smx_rc_decode_target(&rc, e->total);
            uint32_t cum = 0;
            while (tok + 1 < V && cum + e->freq[tok] <= target) cum += e->freq[tok++];
            smx_rc_decode_consume(&rc, cum, e->freq[tok]);
        }
        tokens[i] = tok;
        learn(e, tok);
    }
    fp_mode_leave(caller_mode);
    return e->failed ? -1 : (int64_t)rc.pos;
}
