#include "optim.h"

#include <string.h>

#include "smx_math.h"

/* Parameters are updated in fixed blocks (elementwise work: the blocking
 * only keeps each kernel call's working set small). */
#define ADAM_BLOCK 16384

/* a_neg = -exp(A_log) of the parameters theta. */
static void refresh_derived(smx_model *m, const float *theta, float *a_neg) {
    size_t n = (size_t)m->DI * m->DS;
    for (uint32_t l = 0; l < m->NL; l++) {
        const float *a_log = theta + m->L[l].a_log;
        float *out = a_neg + l * n;
        m->k->exp_array(a_log, out, n);
        for (size_t i = 0; i < n; i++) out[i] = -out[i];
    }
}

void smx_refresh_derived(smx_model *m) { refresh_derived(m, m->theta, m->a_neg); }

/* Adam over [lo, hi), elementwise, in fixed blocks: from src into theta
 * (the same buffer, or the coding parameters into the next ones). */
static void adam_span(smx_model *m, const smx_params *p, float *theta, const float *src, size_t lo, size_t hi,
                      float lr_t, float gscale) {
    for (size_t i0 = lo; i0 < hi; i0 += ADAM_BLOCK) {
        size_t len = hi - i0 < ADAM_BLOCK ? hi - i0 : ADAM_BLOCK;
        /* without momentum the first moments are neither read nor written */
        float *first = p->beta1 != 0.0f ? m->adam_m + i0 : NULL;
        m->k->adam(theta + i0, src + i0, m->grad + i0, first, m->adam_v + i0, len, lr_t, p->beta1, p->beta2,
                   p->eps, gscale);
    }
}

/* A rate with Adam's bias correction at the current step. */
static float corrected(const smx_model *m, float lr) {
    return lr * smx_sqrt(1.0f - m->b2_pow) / (1.0f - m->b1_pow);
}

/* b^n by squaring: the same multiplications on every machine. */
static float power(float b, uint64_t n) {
    float r = 1.0f;
    for (; n; n >>= 1, b = b * b)
        if (n & 1) r = r * b;
    return r;
}

/* The squared norm of the gradient: one sequential reduction in the
 * kernels' lane order over the dense spans, then each touched sparse row in
 * the order it was first touched (the rows not touched are zero). */
static float grad_sumsq(const smx_model *m) {
    const smx_kernels *k = m->k;
    /* without sparse rows, one reduction as before: older formats' bytes */
    if (m->sparse_end == m->sparse_off) return k->sumsq(m->grad, m->n_params);
    float ss = k->sumsq(m->grad, m->sparse_off) + k->sumsq(m->grad + m->sparse_end, m->n_params - m->sparse_end);
    for (uint32_t i = 0; i < m->n_touched; i++)
        ss = ss + k->sumsq(m->grad + m->sparse_off + (size_t)m->touched[i] * m->DM, m->DM);
    return ss;
}

/* adam_surge: the factor on this step's rates. Adam divides each gradient
 * by the root of its running mean square, so a gradient far larger than
 * the ones before it moves its weight by up to sqrt(1 / (1 - beta2)) (about
 * 32) times the rate. That is what happens to every weight at once when
 * the data changes after a long stretch the SSM had learnt to predict
 * (2 MB of zeros, then text: the moments have decayed towards 0), and in
 * the rest of the file the SSM wins back little of what those steps undo
 * (bench/README.md, "Format 19").
 * The whole gradient's squared norm against its own running mean detects
 * it; the rare new row in ordinary data, whose own large first steps help
 * it learn, leaves the norm alone. Called once per step, after b2_pow has
 * advanced. */
static float surge_scale(smx_model *m, const smx_params *p, float grad_sq) {
    m->grad_sq_mean = p->beta2 * m->grad_sq_mean + (1.0f - p->beta2) * grad_sq;
    if (p->adam_surge <= 0.0f) return 1.0f;
    const float mean = m->grad_sq_mean / (1.0f - m->b2_pow);
    const float cap = p->adam_surge * p->adam_surge;
    if (!(grad_sq > cap * mean)) return 1.0f;
    return p->adam_surge * smx_sqrt(mean / grad_sq);
}

/* One Adam step on theta from m->grad, then its a_neg. If theta is the
 * parameters being read (in place), the sparse rows it changes are copied
 * to theta_next too; if it is theta_next (aside), it first takes every row
 * it may not hold yet from theta: the dense spans, the rows the last aside
 * step changed, and the rows this one changes. */
static void adam(smx_model *m, const smx_params *p, float *theta, float *a_neg) {
    const size_t DM = m->DM, lo = m->sparse_off, hi = m->sparse_end;
    const int aside = theta != m->theta;
    float norm = smx_sqrt(grad_sumsq(m));
    float gscale = (norm > p->clip) ? p->clip / norm : 1.0f;

    m->adam_steps++;
    m->b1_pow = m->b1_pow * p->beta1;
    m->b2_pow = m->b2_pow * p->beta2;
    const float surge = surge_scale(m, p, norm * norm * gscale * gscale);
    const float lr_t = corrected(m, p->lr) * surge;
    /* the tokens' and cost buckets' rows: a step moves only the few its
     * chunks read, and they learn faster at a larger rate (emb_lr_scale) */
    const float lr_rows = p->emb_lr_scale > 0.0f ? corrected(m, p->lr * p->emb_lr_scale) * surge : lr_t;

    if (aside) { /* the dense spans step from m->theta below; the sparse rows the last step left behind */
        for (uint32_t i = 0; i < m->n_stale; i++) {
            const size_t r = lo + (size_t)m->stale[i] * DM;
            memcpy(theta + r, m->theta + r, DM * sizeof(float));
        }
    }
    /* the embedding's dense rows: it starts the parameters (layout), so [0, lo) is all of them */
    adam_span(m, p, theta, m->theta, 0, lo, lr_rows, gscale);
    adam_span(m, p, theta, m->theta, hi, m->n_params, lr_t, gscale);
    for (uint32_t i = 0; i < m->n_touched; i++) {
        const size_t r = lo + (size_t)m->touched[i] * DM;
        /* the moments' decay over the steps that skipped this row */
        const uint64_t missed = m->adam_steps - 1 - m->row_step[m->touched[i]];
        if (missed) {
            const float d2 = power(p->beta2, missed);
            if (p->beta1 != 0.0f) {
                const float d1 = power(p->beta1, missed);
                for (size_t j = r; j < r + DM; j++) m->adam_m[j] = m->adam_m[j] * d1;
            }
            for (size_t j = r; j < r + DM; j++) m->adam_v[j] = m->adam_v[j] * d2;
        }
        m->row_step[m->touched[i]] = m->adam_steps;
        adam_span(m, p, theta, m->theta, r, r + DM, lr_t, gscale);
        if (!aside) memcpy(m->theta_next + r, theta + r, DM * sizeof(float));
    }
    if (aside) { /* after the swap, the other buffer lacks exactly these rows */
        if (m->n_touched) memcpy(m->stale, m->touched, m->n_touched * sizeof(uint32_t)); /* NULL without sparse rows */
        m->n_stale = m->n_touched;
    }
    refresh_derived(m, theta, a_neg);
}

void smx_adam_step(smx_model *m, const smx_params *p) { adam(m, p, m->theta, m->a_neg); }

void smx_adam_step_aside(smx_model *m, const smx_params *p) {
    adam(m, p, m->theta_next, m->a_neg_next);
}
