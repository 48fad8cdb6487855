#include "apm.h"

#include <stdlib.h>

#include "smx_math.h"

#define SPAN 8.0f

uint64_t smx_apm_memory(uint32_t rows) { return (uint64_t)rows * SMX_APM_CELLS * sizeof(float); }

int smx_apm_init(smx_apm *a, uint32_t rows, float rate) {
    a->rows = rows;
    a->rate = rate;
    a->cell = 0;
    a->frac = 0.0f;
    a->t = malloc(smx_apm_memory(rows));
    if (!a->t) return -1;
    /* start as the identity: cell j holds squash of its own log-odds */
    for (uint32_t r = 0; r < rows; r++)
        for (uint32_t j = 0; j < SMX_APM_CELLS; j++)
            a->t[(size_t)r * SMX_APM_CELLS + j] =
                1.0f / (1.0f + smx_exp(-((float)j - 16.0f) * (SPAN / 16.0f)));
    return 0;
}

void smx_apm_free(smx_apm *a) {
    free(a->t);
    a->t = NULL;
}

float smx_apm_refine(smx_apm *a, float st, uint32_t row) {
    float s = st < -SPAN ? -SPAN : (st > SPAN ? SPAN : st);
    float pos = (s + SPAN) * (16.0f / SPAN);
    /* pos is NaN only when the model has diverged (a NaN input reached the
     * mixer). Converting NaN to an integer is undefined: it takes cell 0,
     * what x86-64's conversion gave, so files written so decode alike. */
    uint32_t j = pos >= 0.0f ? (uint32_t)pos : 0u;
    if (j > SMX_APM_CELLS - 2) j = SMX_APM_CELLS - 2;
    float f = pos - (float)j;
    a->cell = row * SMX_APM_CELLS + j;
    a->frac = f;
    return a->t[a->cell] * (1.0f - f) + a->t[a->cell + 1] * f;
}

void smx_apm_update(smx_apm *a, uint32_t bit) {
    float y = (float)bit;
    float *t = a->t + a->cell;
    t[0] = t[0] + a->rate * (1.0f - a->frac) * (y - t[0]);
    t[1] = t[1] + a->rate * a->frac * (y - t[1]);
}
