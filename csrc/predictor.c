#include "predictor.h"

#include <stdlib.h>
#include <string.h>

#include "match.h"
#include "tokenmix.h"
#include "smx_math.h"

/* Mixer inputs before the families': a bias, the token mixture, the SSM, the match model. */
#define IN_BIAS 0
#define IN_MIX 1
#define IN_SSM 2
#define IN_MATCH 3
#define IN_DIRECT (IN_MATCH + SMX_BITMATCH_INPUTS)
#define IN_FAMILIES (IN_DIRECT + SMX_DIRECT_INPUTS)

#define BYTE_CLASSES 5
#define APM_HASH_BITS 16
#define APM_RATE 0.02f
#define DIRECT_ORDER2_BITS 22
#define ORDERS_PATTERNS 2187u  /* 3^7: the orders family's contexts, each empty, one-sided or mixed */
#define N_EVIDENCE_SETS ((SMX_MAX_ORDERS + 1) * SMX_MIX_CONF_BUCKETS)

/* Every family the predictor knows, with its bin_models bit. */
static const struct {
    const smx_family *family;
    uint32_t bit;
} FAMILIES[] = {
    {&smx_family_orders, SMX_BIN_ORDERS},   {&smx_family_words, SMX_BIN_WORDS},
    {&smx_family_sparse, SMX_BIN_SPARSE},   {&smx_family_records, SMX_BIN_RECORDS},
    {&smx_family_tokens, SMX_BIN_TOKENS},   {&smx_family_indirect, SMX_BIN_INDIRECT},
    {&smx_family_nest, SMX_BIN_NEST},       {&smx_family_lines, SMX_BIN_LINES},
};
#define N_KNOWN_FAMILIES (sizeof FAMILIES / sizeof FAMILIES[0])

static uint32_t tree_depth(uint32_t vocab) {
    uint32_t d = 1;
    while ((1u << d) < vocab) d++;
    return d;
}

/* Slots of a family's context map: 2^bin_bits per context, rounded down to a power of two. */
static uint32_t slot_bits(const smx_params *p, uint32_t n_contexts) {
    uint32_t b = p->bin_bits;
    while ((2u << (b - p->bin_bits)) <= n_contexts) b++;
    return b;
}

static uint32_t run_bits(const smx_params *p) { return p->bin_bits > 2 ? p->bin_bits - 2 : 1; }

/* The favourite token picks among at most this many rows per depth and
 * agreement (its id modulo this): bounds the weight set for large vocabularies. */
#define TOP_KEYS 1024u

#define N_SELECTORS 7
static void selector_rows(uint32_t depth, int top_select, uint32_t rows[N_SELECTORS]) {
    rows[0] = 1u << depth;                       /* the tree node */
    /* match state, depth; or with bin_top_select, which took its place
     * (it predicts as well with it as beside it, at one weight row less a bit):
     * the mixture's favourite token, whether the bits so far are its, depth */
    rows[1] = top_select ? 2 * ((1u << depth) < TOP_KEYS ? (1u << depth) : TOP_KEYS) * depth
                         : (SMX_MATCH_BUCKETS + 1) * depth;
    rows[2] = (SMX_CTXMAP_MAX + 1) * BYTE_CLASSES * depth; /* known orders, last byte's class, depth */
    rows[3] = 256 * depth;                       /* last byte, depth */
    rows[4] = N_EVIDENCE_SETS * depth;           /* token n-gram evidence, depth */
    rows[5] = ORDERS_PATTERNS;                   /* what each order's context has seen at this node */
    rows[6] = 8u << depth;                       /* recent mispredictions, the tree node */
}

/* The SSM's hidden vector enters the mixer as d_model inputs after the families'. */
static uint32_t hidden_inputs(const smx_params *p) { return p->ssm_hidden > 0.0f ? p->d_model : 0; }

static uint32_t family_inputs_end(const smx_params *p) {
    uint32_t n = IN_FAMILIES;
    for (uint32_t f = 0; f < N_KNOWN_FAMILIES; f++)
        if (p->bin_models & FAMILIES[f].bit) n += FAMILIES[f].family->n_contexts * SMX_CTXMAP_INPUTS;
    return n;
}

static uint32_t count_inputs(const smx_params *p) { return family_inputs_end(p) + hidden_inputs(p); }

uint64_t smx_predictor_memory(const smx_params *p) {
    uint32_t depth = tree_depth(p->vocab), rows[N_SELECTORS];
    selector_rows(depth, p->bin_top_select != 0, rows);
    uint64_t total = smx_bitmixer_memory(count_inputs(p), N_SELECTORS, rows, depth);
    for (uint32_t f = 0; f < N_KNOWN_FAMILIES; f++)
        if (p->bin_models & FAMILIES[f].bit) {
            uint32_t n = FAMILIES[f].family->n_contexts;
            total += smx_ctxmap_memory(n, slot_bits(p, n), run_bits(p));
        }
    total += smx_bitmatch_memory(depth) + smx_direct_memory(depth, DIRECT_ORDER2_BITS);
    total += smx_apm_memory(1u << depth) + 2 * smx_apm_memory(1u << APM_HASH_BITS);
    return total;
}

int smx_predictor_init(smx_predictor *b, const smx_params *p, const smx_kernels *k,
                       const smx_history *hist) {
    memset(b, 0, sizeof *b);
    b->vocab = p->vocab;
    b->depth = tree_depth(p->vocab);
    b->input_grads = p->ssm_coded > 0.0f;
    b->top_select = p->bin_top_select != 0;
    b->models = p->bin_models;
    b->hist = hist;
    smx_states_init(&b->states);
    b->orders_map = SMX_MAX_FAMILIES;
    int ok = 1;
    for (uint32_t f = 0; f < N_KNOWN_FAMILIES && ok; f++) {
        if (!(p->bin_models & FAMILIES[f].bit)) continue;
        const smx_family *fam = FAMILIES[f].family;
        if (fam == &smx_family_orders) b->orders_map = b->n_families;
        b->family[b->n_families] = fam;
        ok = smx_ctxmap_init(&b->map[b->n_families], &b->states, fam->n_contexts, b->depth,
                             slot_bits(p, fam->n_contexts), run_bits(p)) == 0;
        if (ok) b->n_families++;
    }
    ok = ok && smx_bitmatch_init(&b->match, &b->states, b->depth) == 0;
    ok = ok && smx_direct_init(&b->direct, &b->states, b->depth, DIRECT_ORDER2_BITS) == 0;

    b->n_inputs = count_inputs(p);
    b->in_hidden = family_inputs_end(p);
    b->n_hidden = hidden_inputs(p);
    b->hidden_scale = p->ssm_hidden;
    float *init = calloc(b->n_inputs, sizeof(float));
    ok = ok && init;
    if (ok) {
        /* start near the token mixture alone, with a little trust in every context */
        init[IN_BIAS] = 0.0f;
        init[IN_MIX] = 0.6f;
        for (uint32_t i = IN_FAMILIES; i < b->in_hidden; i += SMX_CTXMAP_INPUTS) init[i] = 0.1f;
        uint32_t rows[N_SELECTORS];
        selector_rows(b->depth, b->top_select, rows);
        ok = smx_bitmixer_init(&b->mixer, k, b->n_inputs, N_SELECTORS, rows, b->depth, init, p->bin_lr) == 0;
    }
    free(init);
    ok = ok && smx_apm_init(&b->apm[0], 1u << b->depth, APM_RATE) == 0;
    ok = ok && smx_apm_init(&b->apm[1], 1u << APM_HASH_BITS, APM_RATE) == 0;
    ok = ok && smx_apm_init(&b->apm[2], 1u << APM_HASH_BITS, APM_RATE) == 0;
    if (!ok) {
        smx_predictor_free(b);
        return -1;
    }
    return 0;
}

void smx_predictor_free(smx_predictor *b) {
    for (uint32_t f = 0; f < SMX_MAX_FAMILIES; f++) smx_ctxmap_free(&b->map[f]);
    smx_bitmatch_free(&b->match);
    smx_bitmixer_free(&b->mixer);
    for (uint32_t a = 0; a < SMX_PRED_APMS; a++) smx_apm_free(&b->apm[a]);
    smx_direct_free(&b->direct);
    memset(b, 0, sizeof *b);
}

void smx_predictor_tables(const smx_predictor *b, smx_table_list *l) {
    for (uint32_t f = 0; f < b->n_families; f++) smx_ctxmap_tables(&b->map[f], l);
}

void smx_predictor_begin(smx_predictor *b, const smx_token_guess *g) {
    smx_token_view v = {
        .h = b->hist,
        .vocab = b->vocab,
        .match_tok = g->match_tok,
        .match_len = g->match_len,
        .top_tok = g->top_tok,
        .top_bucket = g->top_bucket,
    };
    for (uint32_t f = 0; f < b->n_families; f++) {
        b->family[f]->set(&b->map[f], &v);
        smx_ctxmap_fetch(&b->map[f]);
    }
    for (uint32_t f = 0; f < b->n_families; f++) smx_ctxmap_begin(&b->map[f]);
    if (b->models & SMX_BIN_MATCH)
        smx_bitmatch_begin(&b->match, g->match_tok, g->match_len, g->match_bucket);
    else
        smx_bitmatch_begin(&b->match, -1, 0, 0);
    b->evidence_set = g->evidence_set < N_EVIDENCE_SETS ? g->evidence_set : N_EVIDENCE_SETS - 1;
    b->ssm_state = g->ssm_state;
    b->top_tok = g->top_tok;
    smx_direct_begin(&b->direct, b->hist);
}

static uint32_t byte_class(uint8_t c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 0;
    if (c >= '0' && c <= '9') return 1;
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') return 2;
    return c < 128 ? 3 : 4;
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

static uint32_t apm_row(uint64_t ctx, uint32_t node) {
    uint64_t h = smx_hash(ctx, node);
    return (uint32_t)(h >> (64 - APM_HASH_BITS));
}

float smx_predictor_p(smx_predictor *b, uint32_t node, uint32_t d, float st_mix, float st_ssm) {
    /* the hashed APMs' rows are known now and read last: their cache misses
     * overlap with the models' work */
    const uint8_t c1 = smx_history_byte(b->hist, 1);
    const uint64_t c2 = b->hist->c8 & 0xffff;
    const uint32_t apm1_row = apm_row(c1 + 0x100u, node), apm2_row = apm_row(c2 + 0x20000u, node);
    smx_apm_fetch(&b->apm[1], apm1_row);
    smx_apm_fetch(&b->apm[2], apm2_row);
    float *x = smx_bitmixer_inputs(&b->mixer);
    x[IN_BIAS] = 0.25f;
    x[IN_MIX] = clampf(st_mix, -SMX_STRETCH_MAX, SMX_STRETCH_MAX);
    x[IN_SSM] = clampf(st_ssm, -SMX_STRETCH_MAX, SMX_STRETCH_MAX);
    smx_bitmatch_predict(&b->match, node, d, x + IN_MATCH);
    smx_direct_predict(&b->direct, node, x + IN_DIRECT);
    float *xf = x + IN_FAMILIES;
    for (uint32_t f = 0; f < b->n_families; f++) {
        smx_ctxmap_predict(&b->map[f], node, d, xf);
        xf += b->map[f].n * SMX_CTXMAP_INPUTS;
    }
    /* The SSM's hidden vector (layernormed, entries of order 1) as plain
     * inputs: each weight set learns its own linear read-out of the SSM's
     * state for the bits it codes, beside the SSM's own head. */
    if (b->n_hidden && b->ssm_state) {
        float *xh = x + b->in_hidden;
        for (uint32_t j = 0; j < b->n_hidden; j++)
            xh[j] = clampf(b->ssm_state[j] * b->hidden_scale, -SMX_STRETCH_MAX, SMX_STRETCH_MAX);
    }
    const uint32_t known = b->orders_map < b->n_families ? b->map[b->orders_map].known : 0;
    smx_bitmixer *m = &b->mixer;
    smx_bitmixer_select(m, 0, node);
    if (b->top_select) {
        /* node is 1 followed by the d bits coded so far */
        const uint32_t agree = (node ^ (1u << d)) == (b->top_tok >> (b->depth - d));
        smx_bitmixer_select(m, 1, ((b->top_tok % TOP_KEYS) * 2 + agree) * b->depth + d);
    } else {
        smx_bitmixer_select(m, 1, smx_bitmatch_state(&b->match) * b->depth + d);
    }
    smx_bitmixer_select(m, 2, (known * BYTE_CLASSES + byte_class(c1)) * b->depth + d);
    smx_bitmixer_select(m, 3, (uint32_t)c1 * b->depth + d);
    smx_bitmixer_select(m, 4, b->evidence_set * b->depth + d);
    smx_bitmixer_select(m, 5, b->orders_map < b->n_families ? b->map[b->orders_map].pattern % ORDERS_PATTERNS : 0);
    /* whether the last bit, the 7 before and the 8 before those were mispredicted */
    const uint32_t ms = b->misses;
    const uint32_t missed = (ms & 1u) | ((ms & 0xfeu) != 0) << 1 | ((ms & 0xff00u) != 0) << 2;
    smx_bitmixer_select(m, 6, (missed << b->depth) | node);
    smx_bitmixer_select2(m, d);
    float st = smx_bitmixer_mix(m);
    b->p_mix = m->p_out;
    if (b->input_grads) {
        b->slope_ssm = (st_ssm > -SMX_STRETCH_MAX && st_ssm < SMX_STRETCH_MAX) ? smx_bitmixer_slope(m, IN_SSM) : 0.0f;
        b->slope_mix = (st_mix > -SMX_STRETCH_MAX && st_mix < SMX_STRETCH_MAX) ? smx_bitmixer_slope(m, IN_MIX) : 0.0f;
    }

    float a0 = smx_apm_refine(&b->apm[0], st, node);
    float a1 = smx_apm_refine(&b->apm[1], st, apm1_row);
    float a2 = smx_apm_refine(&b->apm[2], st, apm2_row);
    b->p_final = 0.25f * (b->p_mix + a0 + a1 + a2);
    return b->p_final;
}

void smx_predictor_input_grads(const smx_predictor *b, uint32_t bit, float *g_ssm, float *g_mix) {
    float err = b->p_mix - (float)bit; /* d(-log p(bit)) / d(st_out) */
    *g_ssm = err * b->slope_ssm;
    *g_mix = err * b->slope_mix;
}

void smx_predictor_update(smx_predictor *b, uint32_t bit) {
    smx_direct_update(&b->direct, bit);
    b->misses = ((b->misses << 1) | ((b->p_final >= 0.5f) != (bit != 0))) & 0xffffu;
    smx_bitmixer_update(&b->mixer, bit);
    for (uint32_t a = 0; a < SMX_PRED_APMS; a++) smx_apm_update(&b->apm[a], bit);
    smx_bitmatch_update(&b->match, bit);
    for (uint32_t f = 0; f < b->n_families; f++) smx_ctxmap_update(&b->map[f], bit);
}

void smx_predictor_end(smx_predictor *b, uint32_t tok) {
    for (uint32_t f = 0; f < b->n_families; f++) smx_ctxmap_end(&b->map[f], tok);
}
