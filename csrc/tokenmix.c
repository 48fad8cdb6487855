#include "tokenmix.h"

#include <stdlib.h>
#include <string.h>

#include "smx_math.h"

#define GRAD_CLIP 8.0f
#define W_MIN (-2.0f)
#define W_MAX 8.0f
/* Match weights see one feature, not a sum over a context's list, so they
 * take larger steps to learn at a similar pace. */
#define MATCH_LR_BOOST 8.0f
/* The gate reads the SSM's normalised hidden state (entries of order 1) and
 * sums DM of them, so it learns with a smaller step than the base weights. */
#define GATE_LR_SCALE 0.25f
/* mix_ssm_prior divides a count by at least 1/50 of the uniform probability:
 * below that, a single count of a token the SSM all but ruled out would
 * outweigh everything (1/10 to 1/1000 of uniform wrote the same bytes within
 * 0.01% on enwik8, bench/README.md "Format 18"). */
#define PRIOR_FLOOR_OF_UNIFORM 0.02f

/* Evidence in the highest-order context that has been seen: its total count. */
static uint32_t confidence_bucket(uint32_t total) {
    if (total < 2) return 0;
    if (total < 4) return 1;
    if (total < 16) return 2;
    return 3;
}

/* One weight per order and the unigram's, and the SSM's with mix_ssm_weight. */
static uint32_t weights_of(const smx_params *p) { return p->n_orders + 1 + (p->mix_ssm_weight ? 1 : 0); }

uint64_t smx_tokenmix_memory(const smx_params *p) {
    uint64_t n_weights = weights_of(p), n_sets = (uint64_t)(p->n_orders + 1) * SMX_MIX_CONF_BUCKETS;
    uint64_t vp = (p->vocab + 7u) & ~7u;
    uint64_t feat = p->mix_ssm_prior ? (uint64_t)p->n_orders * vp : 0;
    return (n_sets * n_weights + n_weights * p->d_model + 2 * n_weights + vp + feat) * sizeof(float);
}

int smx_tokenmix_init(smx_tokenmix *x, const smx_params *p) {
    memset(x, 0, sizeof *x);
    x->V = p->vocab;
    x->Vp = (p->vocab + 7u) & ~7u;
    x->DM = p->d_model;
    x->n_orders = p->n_orders;
    x->n_sets = (p->n_orders + 1) * SMX_MIX_CONF_BUCKETS;
    x->n_weights = weights_of(p);
    x->ssm_weighted = p->mix_ssm_weight != 0;
    x->lr = p->mix_lr;
    x->w = calloc((size_t)x->n_sets * x->n_weights, sizeof(float));
    x->gate = calloc((size_t)x->n_weights * x->DM, sizeof(float));
    x->w_eff = calloc(x->n_weights, sizeof(float));
    x->grad = calloc(x->n_weights, sizeof(float));
    x->bias = calloc(x->Vp, sizeof(float));
    x->ssm_prior = p->mix_ssm_prior != 0;
    /* without orders no feature is ever computed or read: no buffer, as
     * smx_tokenmix_memory counts it */
    const int needs_feat = x->ssm_prior && x->n_orders;
    if (needs_feat) x->feat = calloc((size_t)x->n_orders * x->Vp, sizeof(float));
    if (!x->w || !x->gate || !x->w_eff || !x->grad || !x->bias || (needs_feat && !x->feat)) {
        smx_tokenmix_free(x);
        return -1;
    }
    for (uint32_t s = 0; s < x->n_sets; s++) {
        float *w = x->w + (size_t)s * x->n_weights;
        for (uint32_t k = 0; k < p->n_orders; k++) w[k] = p->lambda[k];
        w[p->n_orders] = p->unigram_weight;
        if (x->ssm_weighted) w[p->n_orders + 1] = 1.0f;
    }
    for (uint32_t k = 0; k < p->n_orders; k++) x->inv_alpha_v[k] = 1.0f / (p->alpha[k] * (float)x->V);
    x->p_floor = PRIOR_FLOOR_OF_UNIFORM / (float)x->V;
    for (uint32_t b = 0; b < SMX_MATCH_BUCKETS; b++) x->match_w[b] = p->match_weight;
    x->match_tok = -1;
    return 0;
}

void smx_tokenmix_free(smx_tokenmix *x) {
    free(x->w);
    free(x->gate);
    free(x->w_eff);
    free(x->grad);
    free(x->bias);
    free(x->feat);
    memset(x, 0, sizeof *x);
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

static float entropy_scale(float h) {
    float s = 0.4f + 0.6f * h / 5.5f;
    return clampf(s, 0.2f, 2.5f);
}

/* Order k's feature for each entry of its list: with the SSM's prior into
 * f (what learn reads back), each added to the bias at weight wk. */
static void add_order(smx_tokenmix *x, const smx_ngram *g, uint32_t k, float wk, const float *ssm_probs) {
    const uint32_t n = smx_ngram_count(g, k);
    const uint32_t *e = smx_ngram_entries(g, k);
    const smx_ngram_order *o = &g->o[k];
    if (!x->ssm_prior) {
        for (uint32_t i = 0; i < n; i++) {
            uint32_t tok = e[i] >> 16;
            x->bias[tok] = x->bias[tok] + wk * smx_ngram_feature(o, e[i] & 0xffffu);
        }
        return;
    }
    float *f = x->feat + (size_t)k * x->Vp;
    const float ia = x->inv_alpha_v[k];
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t tok = e[i] >> 16;
        const float p = ssm_probs[tok] < x->p_floor ? x->p_floor : ssm_probs[tok];
        f[i] = smx_log(1.0f + (float)(e[i] & 0xffffu) * ia / p);
        x->bias[tok] = x->bias[tok] + wk * f[i];
    }
}

/* The feature of entry i of order k's list, as add_order computed it. */
static float order_feature(const smx_tokenmix *x, const smx_ngram *g, uint32_t k, uint32_t i, uint32_t entry) {
    if (x->ssm_prior) return x->feat[(size_t)k * x->Vp + i];
    return smx_ngram_feature(&g->o[k], entry & 0xffffu);
}

void smx_tokenmix_mix(smx_tokenmix *x, const smx_ngram *g, const smx_match *mm, const float *hidden,
                   const float *ssm, const float *ssm_probs, float entropy, float *out) {
    uint32_t top = 0, total = 0;
    for (uint32_t k = 0; k < x->n_orders; k++)
        if (smx_ngram_count(g, k)) top = k + 1;
    if (top) {
        uint32_t n = smx_ngram_count(g, top - 1);
        const uint32_t *e = smx_ngram_entries(g, top - 1);
        for (uint32_t i = 0; i < n; i++) total += e[i] & 0xffffu;
    }
    x->set = top * SMX_MIX_CONF_BUCKETS + confidence_bucket(total);
    x->scale = entropy_scale(entropy);
    x->hidden = hidden;

    /* effective weight = the set's weight + gate . hidden state; the
     * weights' dot products run side by side (in w_eff), each summed in
     * order of d, so that no one waits on its own additions */
    const float *w = x->w + (size_t)x->set * x->n_weights;
    float *acc = x->w_eff;
    for (uint32_t k = 0; k < x->n_weights; k++) acc[k] = 0.0f;
    for (uint32_t d = 0; d < x->DM; d++) {
        const float h = hidden[d];
        for (uint32_t k = 0; k < x->n_weights; k++) acc[k] = acc[k] + x->gate[(size_t)k * x->DM + d] * h;
    }
    for (uint32_t k = 0; k < x->n_weights; k++) x->w_eff[k] = w[k] + acc[k];

    float wu = x->w_eff[x->n_orders];
    for (uint32_t j = 0; j < x->V; j++) x->bias[j] = wu * smx_unigram_feature(g, j);
    for (uint32_t k = 0; k < x->n_orders; k++)
        if (smx_ngram_count(g, k)) add_order(x, g, k, x->w_eff[k], ssm_probs);
    float s = x->scale;
    x->ssm = ssm;
    const float ws = smx_tokenmix_ssm_weight(x);
    for (uint32_t j = 0; j < x->V; j++) out[j] = ws * ssm[j] + s * x->bias[j];
    for (uint32_t j = x->V; j < x->Vp; j++) out[j] = ssm[j];
    x->match_tok = smx_match_predicted(mm);
    if (x->match_tok >= 0) {
        x->match_bucket = smx_match_bucket(mm);
        out[x->match_tok] = out[x->match_tok] + x->match_w[x->match_bucket];
    }
}

void smx_tokenmix_learn(smx_tokenmix *x, const smx_ngram *g, const float *ex, float sum, uint32_t tok) {
    if (x->lr == 0.0f) return;
    const float inv = 1.0f / sum;
    const float s = x->scale;
    /* dLoss/dw_k = s * sum_j (q_j - [j == tok]) * f_k(j) */
    for (uint32_t k = 0; k < x->n_orders; k++) {
        x->grad[k] = 0.0f;
        uint32_t n = smx_ngram_count(g, k);
        if (!n) continue;
        const uint32_t *e = smx_ngram_entries(g, k);
        float grad = 0.0f;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t t = e[i] >> 16;
            float q = ex[t] * inv;
            if (t == tok) q = q - 1.0f;
            grad = grad + q * order_feature(x, g, k, i, e[i]);
        }
        x->grad[k] = clampf(grad * s, -GRAD_CLIP, GRAD_CLIP);
    }
    /* The unigram's gradient and the SSM weight's, dLoss/dw_s = sum_j (q_j -
     * [j == tok]) * ssm[j], in one pass over the vocabulary; each sum keeps
     * its order. */
    float grad_u = -smx_unigram_feature(g, tok);
    if (x->ssm_weighted) {
        float grad_s = -x->ssm[tok];
        for (uint32_t j = 0; j < x->V; j++) {
            const float q = ex[j] * inv;
            grad_u = grad_u + q * smx_unigram_feature(g, j);
            grad_s = grad_s + q * x->ssm[j];
        }
        x->grad[x->n_orders + 1] = clampf(grad_s, -GRAD_CLIP, GRAD_CLIP);
    } else {
        for (uint32_t j = 0; j < x->V; j++) grad_u = grad_u + ex[j] * inv * smx_unigram_feature(g, j);
    }
    x->grad[x->n_orders] = clampf(grad_u * s, -GRAD_CLIP, GRAD_CLIP);

    float *w = x->w + (size_t)x->set * x->n_weights;
    const float glr = x->lr * GATE_LR_SCALE;
    for (uint32_t k = 0; k < x->n_weights; k++) {
        float gk = x->grad[k];
        if (gk == 0.0f) continue;
        w[k] = clampf(w[k] - x->lr * gk, W_MIN, W_MAX);
        float *gate = x->gate + (size_t)k * x->DM;
        for (uint32_t d = 0; d < x->DM; d++)
            gate[d] = clampf(gate[d] - glr * gk * x->hidden[d], -W_MAX, W_MAX);
    }
    if (x->match_tok >= 0) {
        /* feature 1 on the predicted token: gradient q - [it came] */
        float q = ex[x->match_tok] * inv - (x->match_tok == (int64_t)tok ? 1.0f : 0.0f);
        float *mw = &x->match_w[x->match_bucket];
        *mw = clampf(*mw - x->lr * MATCH_LR_BOOST * q, W_MIN, 2.0f * W_MAX);
    }
}

float smx_tokenmix_ssm_weight(const smx_tokenmix *x) {
    return x->ssm_weighted ? x->w_eff[x->n_orders + 1] : 1.0f;
}
