/* The predict -> code -> update loop. Encoder and decoder run exactly the
 * same steps for every token:
 *   1. the model predicts (SSM logits, n-gram lookups, mixing),
 *   2. the mixed distribution becomes integer frequencies,
 *   3. the token is coded (or decoded),
 *   4. the mixer, the n-gram tables and, every chunk, the SSM learn from it. */
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "match.h"
#include "mixer.h"
#include "model.h"
#include "ngram.h"
#include "rangecoder.h"
#include "smx_math.h"
#include "statesmix.h"

/* Frequencies total about 2^24: a token gets at least 2^-24 probability
 * and each frequency is floor(p * FREQ_SCALE) + 1. */
#define FREQ_SCALE 16711680.0f /* 2^24 - 2^16 */

struct smx_engine {
    smx_params p;
    const smx_kernels *k;
    int threads;
    smx_model model;
    smx_ngram ngram;
    smx_mixer mixer;
    smx_match match;
    uint32_t prev_tok;
    uint32_t chunk_pos;
    uint64_t chunks_done;
    float *logits;   /* Vp: SSM logits */
    float *mixed;    /* Vp: mixed logits */
    float *ex;       /* V: exp(mixed - max) */
    float ex_sum;
    uint32_t *freq;  /* V */
    uint32_t total;
    smx_stats stats;
    int failed;
};

static void set_err(char *err, size_t errlen, const char *msg) {
    if (err && errlen) {
        size_t n = strlen(msg);
        if (n >= errlen) n = errlen - 1;
        memcpy(err, msg, n);
        err[n] = 0;
    }
}

static int finite_in(float v, float lo, float hi) { return v >= lo && v <= hi; }

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
    REQUIRE(p->n_orders <= SMX_MAX_ORDERS, "too many n-gram orders");
    for (uint32_t k = 0; k < p->n_orders; k++) {
        REQUIRE(p->orders[k] >= 1 && p->orders[k] < 64, "n-gram orders must be in [1, 63]");
        REQUIRE(k == 0 || p->orders[k] > p->orders[k - 1], "n-gram orders must ascend");
        REQUIRE(finite_in(p->lambda[k], -16.0f, 16.0f), "n-gram lambda out of range");
        REQUIRE(finite_in(p->alpha[k], 1e-6f, 1e6f), "n-gram alpha out of range");
    }
    REQUIRE(finite_in(p->unigram_weight, -16.0f, 16.0f), "unigram weight out of range");
    /* table_bits sizes both the n-gram tables and the match model's history */
    REQUIRE((p->n_orders == 0 && p->match_min_len == 0) || (p->table_bits >= 4 && p->table_bits <= 24),
            "table_bits must be in [4, 24]");
    REQUIRE(p->n_orders == 0 || (p->pool_limit >= 16 && p->pool_limit <= (1u << 27)),
            "pool_limit must be in [16, 2^27]");
    REQUIRE(finite_in(p->mix_lr, 0.0f, 1.0f), "mix_lr must be in [0, 1]");
    REQUIRE(p->match_min_len <= 32, "match_min_len must be at most 32");
    REQUIRE(finite_in(p->match_weight, -16.0f, 16.0f), "match_weight out of range");
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

smx_engine *smx_engine_new(const smx_params *p, int threads, char *err, size_t errlen) {
    if (smx_params_check(p, err, errlen)) return NULL;
    smx_engine *e = calloc(1, sizeof *e);
    if (!e) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    e->p = *p;
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
    int ok = e->logits && e->mixed && e->ex && e->freq;
    int model_ok = ok && smx_model_init(&e->model, p, e->k, e->threads) == 0;
    int ngram_ok = model_ok && smx_ngram_init(&e->ngram, p) == 0;
    int mixer_ok = ngram_ok && smx_mixer_init(&e->mixer, p) == 0;
    int match_ok = mixer_ok && smx_match_init(&e->match, p) == 0;
    if (!match_ok) {
        if (mixer_ok) smx_mixer_free(&e->mixer);
        if (ngram_ok) smx_ngram_free(&e->ngram);
        if (model_ok) smx_model_free(&e->model);
        free(e->logits); free(e->mixed); free(e->ex); free(e->freq);
        free(e);
        set_err(err, errlen, "out of memory creating the model");
        return NULL;
    }
    return e;
}

void smx_engine_free(smx_engine *e) {
    if (!e) return;
    smx_match_free(&e->match);
    smx_mixer_free(&e->mixer);
    smx_ngram_free(&e->ngram);
    smx_model_free(&e->model);
    free(e->logits); free(e->mixed); free(e->ex); free(e->freq);
    free(e);
}

const char *smx_engine_isa(const smx_engine *e) { return e->k->name; }

size_t smx_encode_bound(size_t n) { return 4 * n + 16; }

void smx_engine_stats(const smx_engine *e, smx_stats *out) { *out = e->stats; }

/* Steps 1 and 2: fills e->freq / e->total for the next token. */
static void predict(smx_engine *e) {
    smx_model *m = &e->model;
    const uint32_t V = e->p.vocab;
    if (e->chunk_pos == 0) smx_model_begin_chunk(m);
    smx_model_forward(m, e->chunk_pos, e->prev_tok, e->logits);
    float *probs = m->probs + (size_t)e->chunk_pos * m->Vp;
    float entropy = smx_softmax(e->k, e->logits, probs, m->Vp, NULL);
    for (size_t v = V; v < m->Vp; v++) probs[v] = 0.0f;

    smx_ngram_lookup(&e->ngram);
    const float *hidden = m->xf + (size_t)e->chunk_pos * m->DM;
    smx_mixer_mix(&e->mixer, &e->ngram, &e->match, hidden, e->logits, entropy, e->mixed);

    float zmax = e->k->max(e->mixed, V);
    float sum_ez;
    e->k->exp_sum(e->mixed, zmax, e->ex, V, &e->ex_sum, &sum_ez);
    e->k->to_freq(e->ex, FREQ_SCALE / e->ex_sum, e->freq, V);
    uint32_t total = 0;
    for (uint32_t v = 0; v < V; v++) total += e->freq[v];
    e->total = total;
}

static uint32_t steps_for_chunk(const smx_params *p, uint64_t chunk) {
    if (chunk < p->chunks_first) return p->steps_first;
    if (chunk < (uint64_t)p->chunks_first + p->chunks_second) return p->steps_second;
    return p->steps_rest;
}

/* Step 4. */
static void learn(smx_engine *e, uint32_t tok) {
    smx_model *m = &e->model;
    e->stats.tokens++;
    e->stats.model_bits -= (double)smx_log(e->ex[tok] / e->ex_sum) * 1.4426950408889634;
    e->stats.coded_bits -= (double)smx_log((float)e->freq[tok] / (float)e->total) * 1.4426950408889634;

    m->target[e->chunk_pos] = tok;
    smx_mixer_learn(&e->mixer, &e->ngram, e->ex, e->ex_sum, tok);
    smx_ngram_update(&e->ngram, tok);
    smx_match_update(&e->match, tok);
    e->prev_tok = tok;
    if (++e->chunk_pos == e->p.chunk) {
        uint32_t steps = steps_for_chunk(&e->p, e->chunks_done);
        smx_model_train_chunk(m, &e->p, e->p.chunk, steps);
        e->chunks_done++;
        e->chunk_pos = 0;
    }
}

int64_t smx_encode(smx_engine *e, const uint32_t *tokens, size_t n, uint8_t *out, size_t out_cap) {
    if (e->failed) return -1;
    for (size_t i = 0; i < n; i++)
        if (tokens[i] >= e->p.vocab) return -1;
    smx_rc_encoder rc;
    smx_rc_encoder_init(&rc, out, out_cap);
    for (size_t i = 0; i < n; i++) {
        uint32_t tok = tokens[i];
        predict(e);
        uint32_t cum = 0;
        for (uint32_t v = 0; v < tok; v++) cum += e->freq[v];
        smx_rc_encode(&rc, cum, e->freq[tok], e->total);
        learn(e, tok);
    }
    int64_t written = smx_rc_encoder_finish(&rc);
    if (written < 0) e->failed = 1;
    return written;
}

int64_t smx_decode(smx_engine *e, const uint8_t *in, size_t in_len, uint32_t *tokens, size_t n) {
    if (e->failed) return -1;
    smx_rc_decoder rc;
    smx_rc_decoder_init(&rc, in, in_len);
    const uint32_t V = e->p.vocab;
    for (size_t i = 0; i < n; i++) {
        predict(e);
        uint32_t target = smx_rc_decode_target(&rc, e->total);
        uint32_t cum = 0, tok = 0;
        while (tok + 1 < V && cum + e->freq[tok] <= target) cum += e->freq[tok++];
        smx_rc_decode_consume(&rc, cum, e->freq[tok]);
        tokens[i] = tok;
        learn(e, tok);
    }
    return (int64_t)rc.pos;
}
