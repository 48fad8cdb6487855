/* Adaptive probability maps (secondary estimation): a probability is
 * refined by what has followed it in a small context. Each context row
 * holds 33 cells over log-odds -8..8; the input's log-odds interpolate
 * between two cells, and both move toward the bit that came. */
#ifndef SMX_APM_H
#define SMX_APM_H

#include <stddef.h>
#include <stdint.h>

#define SMX_APM_CELLS 33

typedef struct smx_apm {
    float *t;
    uint32_t rows;
    float rate;
    uint32_t cell;   /* the lower cell used by the last refine */
    float frac;
} smx_apm;

int smx_apm_init(smx_apm *a, uint32_t rows, float rate);
void smx_apm_free(smx_apm *a);
uint64_t smx_apm_memory(uint32_t rows);

/* Asks for row's cells ahead of a refine that will read them: one request
 * every 64 bytes. A row (132 bytes) starts at most 60 bytes into a cache
 * line, since floats are 4-byte aligned, so the last request (at byte 128)
 * is in the line that holds its last byte too. */
static inline void smx_apm_fetch(const smx_apm *a, uint32_t row) {
    const char *cells = (const char *)(a->t + (size_t)row * SMX_APM_CELLS);
    for (uint32_t b = 0; b < SMX_APM_CELLS * sizeof(float); b += 64) __builtin_prefetch(cells + b);
}

/* The refined probability of a 1 for input log-odds st in context row. */
float smx_apm_refine(smx_apm *a, float st, uint32_t row);
void smx_apm_update(smx_apm *a, uint32_t bit);

#endif
