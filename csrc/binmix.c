#include "binmix.h"

#include <stdlib.h>
#include <string.h>

#include "mixer.h"
#include "smx_math.h"

/* Tuned on the first 1 MB of enwik8 (bench/README.md has the ablation). */
#define STRETCH_MAX 12.0f
#define HISTORY_RATE 0.005f       /* step of the (n0, n1) -> probability maps */
#define APM_RATE 0.04f
#define APM_SPAN 8.0f             /* APM cells cover log-odds -8 .. 8, every 0.5 */
#define SMX_APM_PREV_BITS 16
#define APM_NODE_SHARE 0.4f       /* final p = 0.2 mixed + 0.4 each APM */
#define APM_PREV_SHARE 0.4f
#define W_LIMIT 8.0f
#define HISTORY_MAX 15u           /* n0 and n1 saturate here */
#define N_EVIDENCE_SETS ((SMX_MAX_ORDERS + 1) * SMX_MIX_CONF_BUCKETS)
#define N_CONFIDENCE_SETS (8 * 4) /* mixture confidence bucket x match state */

static const uint32_t CONTEXT_ORDERS[6] = {0, 1, 2, 3, 4, 6};

static float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }
static float squash(float s) { return 1.0f / (1.0f + smx_exp(-s)); }

static uint32_t mix32(uint32_t h) {
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

/* Log-odds of a probability in (0, 1), read from a table at 12-bit resolution. */
static float stretch_q(const smx_binmix *b, float p) {
    int32_t i = (int32_t)(p * (float)SMX_STRETCH_LUT);
    i = i < 0 ? 0 : (i >= SMX_STRETCH_LUT ? SMX_STRETCH_LUT - 1 : i);
    return b->stretch_lut[i];
}

static void apm_init(float *t, size_t rows) {
    for (size_t r = 0; r < rows; r++)
        for (uint32_t j = 0; j < SMX_APM_CELLS; j++)
            t[r * SMX_APM_CELLS + j] = squash(((float)j - 16.0f) * (APM_SPAN / 16.0f));
}

static void init_weights(float *w, size_t rows) {
    /* start as the token mixture alone */
    for (size_t r = 0; r < rows; r++) w[r * SMX_BIN_INPUTS] = 1.0f;
}

int smx_binmix_init(smx_binmix *b, const smx_params *p) {
    memset(b, 0, sizeof *b);
    uint32_t depth = 1;
    while ((1u << depth) < p->vocab) depth++;
    b->depth = depth;
    b->mask = (1u << p->bin_bits) - 1u;
    b->lr = p->bin_lr;
    size_t rows1 = (size_t)N_EVIDENCE_SETS * SMX_BIN_DEPTH_MAX;
    size_t rows2 = (size_t)N_CONFIDENCE_SETS * SMX_BIN_DEPTH_MAX;
    size_t node_rows = (size_t)2 << depth, prev_rows = (size_t)1 << SMX_APM_PREV_BITS;
    b->slots = calloc((size_t)SMX_BIN_CONTEXTS << p->bin_bits, sizeof(uint32_t));
    b->w_evidence = calloc(rows1 * SMX_BIN_INPUTS, sizeof(float));
    b->w_confidence = calloc(rows2 * SMX_BIN_INPUTS, sizeof(float));
    b->apm_node = malloc(node_rows * SMX_APM_CELLS * sizeof(float));
    b->apm_prev = malloc(prev_rows * SMX_APM_CELLS * sizeof(float));
    if (!b->slots || !b->w_evidence || !b->w_confidence || !b->apm_node || !b->apm_prev) {
        smx_binmix_free(b);
        return -1;
    }
    init_weights(b->w_evidence, rows1);
    init_weights(b->w_confidence, rows2);
    apm_init(b->apm_node, node_rows);
    apm_init(b->apm_prev, prev_rows);
    for (uint32_t c = 0; c < SMX_BIN_CONTEXTS; c++)
        for (uint32_t h = 0; h < 256; h++) {
            float n0 = (float)(h >> 4), n1 = (float)(h & 15u);
            b->history_p[c][h] = (n1 + 0.4f) / (n0 + n1 + 0.8f);
        }
    for (uint32_t i = 0; i < SMX_STRETCH_LUT; i++) {
        float p = ((float)i + 0.5f) / (float)SMX_STRETCH_LUT;
        b->stretch_lut[i] = smx_log(p) - smx_log(1.0f - p);
    }
    return 0;
}

void smx_binmix_free(smx_binmix *b) {
    free(b->slots);
    free(b->w_evidence);
    free(b->w_confidence);
    free(b->apm_node);
    free(b->apm_prev);
    memset(b, 0, sizeof *b);
}

void smx_binmix_begin(smx_binmix *b, const smx_binmix_context *c) {
    const uint32_t *hist = c->history;
    uint32_t n = c->n_hist;
    for (uint32_t i = 0; i < 6; i++) {
        uint32_t k = CONTEXT_ORDERS[i];
        if (k > n) k = n; /* at the start of the stream the shorter context stands in */
        uint32_t h = 0x9e3779b9u * (i + 1);
        for (uint32_t j = 0; j < k; j++) h = mix32(h ^ (hist[j] + 1u)) + j;
        b->ctx[i] = h;
    }
    uint32_t ml = c->match_len < 15 ? c->match_len : 15;
    b->ctx[6] = mix32(0x51ed270bu ^ (uint32_t)(c->match_tok + 1) ^ (ml << 20));
    b->ctx[7] = mix32(0x2545f491u ^ c->top_tok ^ (c->top_bucket << 20));
    b->ctx[8] = n > 1 ? mix32(0x7f4a7c15u ^ hist[1]) : 0x7f4a7c15u;
    b->ctx[9] = n > 2 ? mix32(0x3c6ef372u ^ hist[1] ^ mix32(hist[2] + 7u)) : 0x3c6ef372u;
    uint32_t match_state = c->match_tok < 0 ? 0 : (c->match_len < 5 ? 1 : (c->match_len < 16 ? 2 : 3));
    b->evidence_row = c->evidence_set * SMX_BIN_DEPTH_MAX;
    b->confidence_row = (c->top_bucket * 4 + match_state) * SMX_BIN_DEPTH_MAX;
    b->prev_tok = n ? hist[0] : 0;
}

static float apm_predict(const float *t, float st, uint32_t row, uint32_t *cell, float *frac) {
    float pos = (clampf(st, -APM_SPAN + 1e-3f, APM_SPAN - 1e-3f) + APM_SPAN) * (16.0f / APM_SPAN);
    uint32_t j = (uint32_t)pos;
    float f = pos - (float)j;
    *cell = row * SMX_APM_CELLS + j;
    *frac = f;
    return t[*cell] * (1.0f - f) + t[*cell + 1] * f;
}

static void apm_update(float *t, uint32_t cell, float frac, float y) {
    t[cell] = t[cell] + APM_RATE * (1.0f - frac) * (y - t[cell]);
    t[cell + 1] = t[cell + 1] + APM_RATE * frac * (y - t[cell + 1]);
}

static float dot_inputs(const float *w, const float *x) {
    float acc = 0.0f;
    for (uint32_t i = 0; i < SMX_BIN_INPUTS; i++) acc = acc + w[i] * x[i];
    return clampf(acc, -STRETCH_MAX, STRETCH_MAX);
}

float smx_binmix_predict(smx_binmix *b, uint32_t node, uint32_t d, float st_mix, float st_ssm) {
    float *x = b->x;
    x[0] = clampf(st_mix, -STRETCH_MAX, STRETCH_MAX);
    x[1] = clampf(st_ssm, -STRETCH_MAX, STRETCH_MAX);
    x[2] = 0.25f;
    for (uint32_t c = 0; c < SMX_BIN_CONTEXTS; c++) {
        uint32_t h = mix32(b->ctx[c] + node * 0x9e3779b1u);
        uint32_t i = c * (b->mask + 1u) + (h & b->mask);
        uint32_t check = h >> 24;
        uint32_t s = b->slots[i];
        if ((s & 0xffu) != check) { /* a new context, or another one took the slot */
            s = (32768u << 16) | check;
            b->slots[i] = s;
        }
        b->slot_i[c] = i;
        x[3 + c] = stretch_q(b, ((float)(s >> 16) + 0.5f) * (1.0f / 65536.0f));
        x[3 + SMX_BIN_CONTEXTS + c] = stretch_q(b, b->history_p[c][(s >> 8) & 0xffu]);
    }
    b->w1 = b->w_evidence + (size_t)(b->evidence_row + d) * SMX_BIN_INPUTS;
    b->w2 = b->w_confidence + (size_t)(b->confidence_row + d) * SMX_BIN_INPUTS;
    float st1 = dot_inputs(b->w1, x), st2 = dot_inputs(b->w2, x);
    b->p1 = squash(st1);
    b->p2 = squash(st2);
    float st = 0.5f * (st1 + st2);
    b->p_mix = squash(st);
    uint32_t prev_row = mix32(b->prev_tok * 0x10001u + node) & ((1u << SMX_APM_PREV_BITS) - 1u);
    float a_node = apm_predict(b->apm_node, st, node, &b->apm_cell[0], &b->apm_frac[0]);
    float a_prev = apm_predict(b->apm_prev, st, prev_row, &b->apm_cell[1], &b->apm_frac[1]);
    return (1.0f - APM_NODE_SHARE - APM_PREV_SHARE) * b->p_mix + APM_NODE_SHARE * a_node
           + APM_PREV_SHARE * a_prev;
}

/* One bit model: a probability with step 2 / (2 (n0 + n1) + 3), and a bit
 * history whose counts of the other bit shrink when a bit comes, so a
 * context that changes its mind is soon read as changed. */
static uint32_t slot_update(uint32_t s, uint32_t bit) {
    uint32_t p16 = s >> 16, n0 = (s >> 12) & 15u, n1 = (s >> 8) & 15u;
    int32_t target = bit ? 65535 : 0;
    int32_t step = (int32_t)(131072u / (2u * (n0 + n1) + 3u));
    int32_t np = (int32_t)p16 + (int32_t)(((int64_t)(target - (int32_t)p16) * step) >> 16);
    np = np < 0 ? 0 : (np > 65535 ? 65535 : np);
    if (bit) {
        if (n1 < HISTORY_MAX) n1++;
        if (n0 > 2) n0 = n0 / 2 + 1;
    } else {
        if (n0 < HISTORY_MAX) n0++;
        if (n1 > 2) n1 = n1 / 2 + 1;
    }
    return ((uint32_t)np << 16) | (n0 << 12) | (n1 << 8) | (s & 0xffu);
}

void smx_binmix_update(smx_binmix *b, uint32_t bit) {
    float y = (float)bit;
    float e1 = b->lr * (y - b->p1), e2 = b->lr * (y - b->p2);
    for (uint32_t i = 0; i < SMX_BIN_INPUTS; i++) {
        b->w1[i] = clampf(b->w1[i] + e1 * b->x[i], -W_LIMIT, W_LIMIT);
        b->w2[i] = clampf(b->w2[i] + e2 * b->x[i], -W_LIMIT, W_LIMIT);
    }
    apm_update(b->apm_node, b->apm_cell[0], b->apm_frac[0], y);
    apm_update(b->apm_prev, b->apm_cell[1], b->apm_frac[1], y);
    for (uint32_t c = 0; c < SMX_BIN_CONTEXTS; c++) {
        uint32_t s = b->slots[b->slot_i[c]];
        float *hp = &b->history_p[c][(s >> 8) & 0xffu];
        *hp = *hp + HISTORY_RATE * (y - *hp);
        b->slots[b->slot_i[c]] = slot_update(s, bit);
    }
}
