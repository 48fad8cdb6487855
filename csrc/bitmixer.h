/* The mixing network of the binary stage: logistic mixing in two layers.
 *
 * Every model adds its inputs (log-odds, natural units) for the next bit.
 * The first layer has several weight sets per selector; each selector
 * (the tree node, the match state, the previous byte...) picks one row of
 * weights, whose dot product with the inputs is that row's log-odds. The
 * second layer mixes the rows' log-odds with weights chosen by the tree
 * depth. Every row in use learns online from its own error, by gradient
 * descent on the coding cost: w += lr * (bit - p) * x, faster while the
 * row is new.
 *
 * Dot products go through the kernels' fixed summation order (kernels.h),
 * so the scalar and AVX2 paths agree bit for bit. */
#ifndef SMX_BITMIXER_H
#define SMX_BITMIXER_H

#include <stdint.h>

#include "kernels.h"

#define SMX_MIX_SELECTORS 8

typedef struct smx_bitmixer {
    const smx_kernels *k;
    uint32_t n;                 /* inputs, a multiple of 8 */
    uint32_t added;             /* inputs added for the current bit */
    float *x;
    uint32_t n_sel;
    uint32_t rows[SMX_MIX_SELECTORS];
    float *w[SMX_MIX_SELECTORS];   /* rows[s] x n */
    uint32_t *uses[SMX_MIX_SELECTORS]; /* rows[s]: times each row has learned (capped) */
    uint32_t pick[SMX_MIX_SELECTORS];
    float st[SMX_MIX_SELECTORS], p[SMX_MIX_SELECTORS];
    uint32_t rows2;
    float *w2;                  /* rows2 x SMX_MIX_SELECTORS */
    uint32_t pick2;
    float st_out, p_out;
    float lr, lr2;
    uint64_t updates;
} smx_bitmixer;

/* n_inputs inputs; rows[s] weight rows for selector s; rows2 rows for the
 * second layer. init (n_inputs values) are the starting weights of every row. */
int smx_bitmixer_init(smx_bitmixer *m, const smx_kernels *k, uint32_t n_inputs, uint32_t n_sel,
                      const uint32_t *rows, uint32_t rows2, const float *init, float lr);
void smx_bitmixer_free(smx_bitmixer *m);
uint64_t smx_bitmixer_memory(uint32_t n_inputs, uint32_t n_sel, const uint32_t *rows, uint32_t rows2);

/* The input vector to fill for the next bit (n floats, zeroed). */
static inline float *smx_bitmixer_inputs(smx_bitmixer *m) { return m->x; }

/* Chooses row r of selector s for the next bit. */
static inline void smx_bitmixer_select(smx_bitmixer *m, uint32_t s, uint32_t r) { m->pick[s] = r; }
static inline void smx_bitmixer_select2(smx_bitmixer *m, uint32_t r) { m->pick2 = r; }

/* Mixes the inputs; returns the log-odds of a 1 (p_out = its probability). */
float smx_bitmixer_mix(smx_bitmixer *m);

/* d(st_out)/d(input i) at the last mix, through both layers (0 where a
 * clamp was active): how much the output moves with that input. */
float smx_bitmixer_slope(const smx_bitmixer *m, uint32_t i);

/* Learns from the bit; clears the inputs for the next one. */
void smx_bitmixer_update(smx_bitmixer *m, uint32_t bit);

#endif
