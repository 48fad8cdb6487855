#include "mixer.h"

#include <stdlib.h>
#include <string.h>

#define GRAD_CLIP 8.0f
#define W_MIN (-2.0f)
#define W_MAX 8.0f

int smx_mixer_init(smx_mixer *x, const smx_params *p) {
    memset(x, 0, sizeof *x);
    x->V = p->vocab;
    x->Vp = (p->vocab + 7u) & ~7u;
    x->n_orders = p->n_orders;
    x->n_sets = p->n_orders + 1;
    x->n_weights = p->n_orders + 1;
    x->lr = p->mix_lr;
    x->w = calloc((size_t)x->n_sets * x->n_weights, sizeof(float));
    x->bias = calloc(x->Vp, sizeof(float));
    if (!x->w || !x->bias) {
        smx_mixer_free(x);
        return -1;
    }
    for (uint32_t s = 0; s < x->n_sets; s++) {
        float *w = x->w + (size_t)s * x->n_weights;
        for (uint32_t k = 0; k < p->n_orders; k++) w[k] = p->lambda[k];
        w[p->n_orders] = p->unigram_weight;
    }
    return 0;
}

void smx_mixer_free(smx_mixer *x) {
    free(x->w);
    free(x->bias);
    memset(x, 0, sizeof *x);
}

static float entropy_scale(float h) {
    float s = 0.4f + 0.6f * h / 5.5f;
    s = s > 0.2f ? s : 0.2f;
    return s < 2.5f ? s : 2.5f;
}

void smx_mixer_mix(smx_mixer *x, const smx_ngram *g, const float *ssm, float entropy, float *out) {
    uint32_t set = 0;
    for (uint32_t k = 0; k < x->n_orders; k++)
        if (smx_ngram_count(g, k)) set = k + 1;
    x->set = set;
    x->scale = entropy_scale(entropy);
    const float *w = x->w + (size_t)set * x->n_weights;

    float wu = w[x->n_orders];
    for (uint32_t j = 0; j < x->V; j++) x->bias[j] = wu * smx_unigram_feature(g, j);
    for (uint32_t k = 0; k < x->n_orders; k++) {
        uint32_t n = smx_ngram_count(g, k);
        if (!n) continue;
        const uint32_t *e = smx_ngram_entries(g, k);
        const smx_ngram_order *o = &g->o[k];
        for (uint32_t i = 0; i < n; i++) {
            uint32_t tok = e[i] >> 16;
            x->bias[tok] = x->bias[tok] + w[k] * smx_ngram_feature(o, e[i] & 0xffffu);
        }
    }
    float s = x->scale;
    for (uint32_t j = 0; j < x->V; j++) out[j] = ssm[j] + s * x->bias[j];
    for (uint32_t j = x->V; j < x->Vp; j++) out[j] = ssm[j];
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

void smx_mixer_learn(smx_mixer *x, const smx_ngram *g, const float *ex, float sum, uint32_t tok) {
    if (x->lr == 0.0f) return;
    float *w = x->w + (size_t)x->set * x->n_weights;
    const float inv = 1.0f / sum;
    const float s = x->scale;
    /* dLoss/dw_k = s * sum_j (q_j - [j == tok]) * f_k(j) */
    for (uint32_t k = 0; k < x->n_orders; k++) {
        uint32_t n = smx_ngram_count(g, k);
        if (!n) continue;
        const uint32_t *e = smx_ngram_entries(g, k);
        const smx_ngram_order *o = &g->o[k];
        float grad = 0.0f;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t t = e[i] >> 16;
            float q = ex[t] * inv;
            if (t == tok) q = q - 1.0f;
            grad = grad + q * smx_ngram_feature(o, e[i] & 0xffffu);
        }
        grad = clampf(grad * s, -GRAD_CLIP, GRAD_CLIP);
        w[k] = clampf(w[k] - x->lr * grad, W_MIN, W_MAX);
    }
    float grad = -smx_unigram_feature(g, tok);
    for (uint32_t j = 0; j < x->V; j++) grad = grad + ex[j] * inv * smx_unigram_feature(g, j);
    grad = clampf(grad * s, -GRAD_CLIP, GRAD_CLIP);
    w[x->n_orders] = clampf(w[x->n_orders] - x->lr * grad, W_MIN, W_MAX);
}
