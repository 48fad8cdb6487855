/* The match model's token (match.h), read bit by bit: while the bits coded
 * so far agree with the predicted token, its next bit is predicted with a
 * confidence learned per match length and tree depth. */
#ifndef SMX_MODEL_MATCH_H
#define SMX_MODEL_MATCH_H

#include <stdint.h>

#include "bitstate.h"

#define SMX_BITMATCH_INPUTS 2

typedef struct smx_bitmatch {
    const smx_states *states;
    uint32_t depth;
    smx_statemap sm;       /* (length bucket, depth, predicted bit) -> p(1) */
    int64_t tok;           /* predicted token, -1: none */
    uint32_t bucket;       /* its length bucket (match.h) */
    uint32_t len;
    int agree;             /* the bits so far agree with tok */
    uint32_t sm_i;         /* entry read for the current bit, 0xffffffff: none */
} smx_bitmatch;

int smx_bitmatch_init(smx_bitmatch *b, const smx_states *s, uint32_t depth);
void smx_bitmatch_free(smx_bitmatch *b);
uint64_t smx_bitmatch_memory(uint32_t depth);

void smx_bitmatch_begin(smx_bitmatch *b, int64_t tok, uint32_t len, uint32_t bucket);
/* Adds SMX_BITMATCH_INPUTS inputs for the bit at node (depth d). */
void smx_bitmatch_predict(smx_bitmatch *b, uint32_t node, uint32_t d, float *x);
void smx_bitmatch_update(smx_bitmatch *b, uint32_t bit);

/* 0: no match; 1 + length bucket while the bits agree; the mixer's selector. */
static inline uint32_t smx_bitmatch_state(const smx_bitmatch *b) {
    return (b->tok >= 0 && b->agree) ? 1u + b->bucket : 0u;
}

#endif
