#include "bitmixer.h"

#include <stdlib.h>
#include <string.h>

#include "smx_math.h"
#include "table_alloc.h"

#define ST_CLAMP 16.0f   /* a row's log-odds are clamped to +-16 */
#define W_CLAMP 16.0f
/* Measured on enwik8 and a mixed set (bench/README.md): the second layer
 * learns at a tenth of the first layer's rate, and a row learns up to
 * 1 + BOOST times faster while it is new, the boost halving after
 * BOOST_TAU updates of that row. */
#define LR2_SHARE 0.1f
#define BOOST 4.0f
#define BOOST_TAU 64.0f

static float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }
static float squash(float st) { return smx_sigmoid(st); }

uint64_t smx_bitmixer_memory(uint32_t n_inputs, uint32_t n_sel, const uint32_t *rows, uint32_t rows2) {
    uint64_t n = (n_inputs + 7u) & ~7u, total = n;
    for (uint32_t s = 0; s < n_sel; s++) total += (uint64_t)rows[s] * n;
    total += (uint64_t)rows2 * SMX_MIX_SELECTORS;
    return total * sizeof(float);
}

int smx_bitmixer_init(smx_bitmixer *m, const smx_kernels *k, uint32_t n_inputs, uint32_t n_sel,
                      const uint32_t *rows, uint32_t rows2, const float *init, float lr) {
    memset(m, 0, sizeof *m);
    if (n_sel == 0 || n_sel > SMX_MIX_SELECTORS) return -1;
    m->k = k;
    m->n = (n_inputs + 7u) & ~7u;
    m->n_sel = n_sel;
    m->rows2 = rows2;
    m->lr = lr;
    m->lr2 = lr * LR2_SHARE;
    m->x = calloc(m->n, sizeof(float));
    m->w2 = malloc((size_t)rows2 * SMX_MIX_SELECTORS * sizeof(float));
    int ok = m->x && m->w2;
    for (uint32_t s = 0; s < n_sel && ok; s++) {
        m->rows[s] = rows[s];
        m->w[s] = smx_table_alloc((size_t)rows[s] * m->n * sizeof(float));
        m->uses[s] = calloc(rows[s], sizeof(uint32_t));
        if (!m->w[s] || !m->uses[s]) ok = 0;
        else
            for (uint32_t r = 0; r < rows[s]; r++) memcpy(m->w[s] + (size_t)r * m->n, init, n_inputs * sizeof(float));
    }
    if (!ok) {
        smx_bitmixer_free(m);
        return -1;
    }
    for (size_t i = 0; i < (size_t)rows2 * SMX_MIX_SELECTORS; i++)
        m->w2[i] = (i % SMX_MIX_SELECTORS) < n_sel ? 1.0f / (float)n_sel : 0.0f;
    return 0;
}

void smx_bitmixer_free(smx_bitmixer *m) {
    free(m->x);
    free(m->w2);
    for (uint32_t s = 0; s < SMX_MIX_SELECTORS; s++) {
        smx_table_free(m->w[s]);
        free(m->uses[s]);
    }
    memset(m, 0, sizeof *m);
}

float smx_bitmixer_mix(smx_bitmixer *m) {
    uint32_t s = 0;
    for (; s + 2 <= m->n_sel; s += 2) { /* two rows at a time: x is read once for both */
        float dots[2];
        m->k->dot2(m->w[s] + (size_t)m->pick[s] * m->n, m->w[s + 1] + (size_t)m->pick[s + 1] * m->n, m->x,
                   m->n, dots);
        m->st[s] = clampf(dots[0], -ST_CLAMP, ST_CLAMP);
        m->st[s + 1] = clampf(dots[1], -ST_CLAMP, ST_CLAMP);
    }
    for (; s < m->n_sel; s++)
        m->st[s] = clampf(m->k->dot(m->w[s] + (size_t)m->pick[s] * m->n, m->x, m->n), -ST_CLAMP, ST_CLAMP);
    /* every row's squash at once: the sigmoid kernel is squash lane by lane,
     * and a full vector of SMX_MIX_SELECTORS rows (the unused ones at 0) runs
     * as one AVX2 call */
    for (s = m->n_sel; s < SMX_MIX_SELECTORS; s++) m->st[s] = 0.0f;
    m->k->sigmoid(m->st, m->p, SMX_MIX_SELECTORS);
    const float *w2 = m->w2 + (size_t)m->pick2 * SMX_MIX_SELECTORS;
    float acc = 0.0f;
    for (s = 0; s < m->n_sel; s++) acc = acc + w2[s] * m->st[s];
    m->st_out = clampf(acc, -ST_CLAMP, ST_CLAMP);
    m->p_out = squash(m->st_out);
    return m->st_out;
}

float smx_bitmixer_slope(const smx_bitmixer *m, uint32_t i) {
    if (m->st_out <= -ST_CLAMP || m->st_out >= ST_CLAMP) return 0.0f;
    const float *w2 = m->w2 + (size_t)m->pick2 * SMX_MIX_SELECTORS;
    float acc = 0.0f;
    for (uint32_t s = 0; s < m->n_sel; s++) {
        if (m->st[s] <= -ST_CLAMP || m->st[s] >= ST_CLAMP) continue;
        acc = acc + w2[s] * m->w[s][(size_t)m->pick[s] * m->n + i];
    }
    return acc;
}

void smx_bitmixer_update(smx_bitmixer *m, uint32_t bit) {
    const float y = (float)bit;
    float *w2 = m->w2 + (size_t)m->pick2 * SMX_MIX_SELECTORS;
    const float e2 = m->lr2 * (y - m->p_out);
    for (uint32_t s = 0; s < m->n_sel; s++) w2[s] = clampf(w2[s] + e2 * m->st[s], -W_CLAMP, W_CLAMP);
    for (uint32_t s = 0; s < m->n_sel; s++) {
        float *w = m->w[s] + (size_t)m->pick[s] * m->n;
        uint32_t *u = &m->uses[s][m->pick[s]];
        float lr = m->lr * (1.0f + BOOST * BOOST_TAU / (BOOST_TAU + (float)*u));
        if (*u < 0xffffffu) (*u)++;
        m->k->axpy(w, lr * (y - m->p[s]), m->x, m->n);
    }
    memset(m->x, 0, m->n * sizeof(float));
    m->updates++;
}
