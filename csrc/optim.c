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

/* One Adam step on theta (in place) from m->grad, then its a_neg. */
static void adam(smx_model *m, const smx_params *p, float *theta, float *a_neg) {
    const smx_kernels *k = m->k;
    /* The norm is one sequential reduction in the kernels' lane order. */
    float norm = smx_sqrt(k->sumsq(m->grad, m->n_params));
    float gscale = (norm > p->clip) ? p->clip / norm : 1.0f;

    m->adam_steps++;
    m->b1_pow = m->b1_pow * p->beta1;
    m->b2_pow = m->b2_pow * p->beta2;
    float lr_t = p->lr * smx_sqrt(1.0f - m->b2_pow) / (1.0f - m->b1_pow);

    for (size_t i0 = 0; i0 < m->n_params; i0 += ADAM_BLOCK) {
        size_t len = m->n_params - i0 < ADAM_BLOCK ? m->n_params - i0 : ADAM_BLOCK;
        k->adam(theta + i0, m->grad + i0, m->adam_m + i0, m->adam_v + i0, len, lr_t, p->beta1, p->beta2,
                p->eps, gscale);
    }
    refresh_derived(m, theta, a_neg);
}

void smx_adam_step(smx_model *m, const smx_params *p) { adam(m, p, m->theta, m->a_neg); }

void smx_adam_step_aside(smx_model *m, const smx_params *p) {
    memcpy(m->theta_next, m->theta, m->n_params * sizeof(float));
    adam(m, p, m->theta_next, m->a_neg_next);
}
