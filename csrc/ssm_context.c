/* Hashed contexts in the SSM's input: see ssm_context.h. */
#include "ssm_context.h"

#include <stdlib.h>

int smx_ssm_context_init(smx_ssm_context *c, const smx_params *p) {
    *c = (smx_ssm_context){.bits = p->ssm_context_bits, .min_seen = p->ssm_context_min, .vocab = p->vocab,
                           .nest = p->ssm_nest_context};
    if (!c->bits) return 0;
    c->seen = calloc((size_t)1 << c->bits, 1);
    return c->seen ? 0 : -1;
}

uint64_t smx_ssm_context_memory(const smx_params *p) {
    return p->ssm_context_bits ? (uint64_t)1 << p->ssm_context_bits : 0;
}

void smx_ssm_context_free(smx_ssm_context *c) {
    free(c->seen);
    c->seen = NULL;
}

/* Multiplicative hashing: the top bits of the product mix every input bit. */
static uint32_t top_bits(uint32_t h, uint32_t bits) {
    h = (h ^ (h >> 15)) * 0x9E3779B1u;
    return h >> (32u - bits);
}

/* The column in 12 buckets: each of the first eight, then 8-15, 16-31,
 * 32-63 and beyond. */
static uint32_t column_bucket(uint64_t column) {
    return column < 8 ? (uint32_t)column : column < 16 ? 8u : column < 32 ? 9u : column < 64 ? 10u : 11u;
}

/* Where the text stands: the innermost open bracket, the depth (up to 7),
 * inside a quote or not, the column's bucket. */
static uint32_t nest_key(const smx_history *h) {
    const uint32_t depth = h->depth < 7u ? h->depth : 7u;
    return (h->open & 0xFFu) | depth << 8 | (h->quote & 1u) << 11 | column_bucket(smx_history_column(h)) << 12;
}

void smx_ssm_context_rows(smx_ssm_context *c, const smx_history *h, uint32_t rows[SMX_CONTEXTS]) {
    rows[SMX_CONTEXT_PAIR] = top_bits((h->tok[1] * c->vocab + h->tok[0] + 1u) * 0x85EBCA6Bu, c->bits);
    rows[SMX_CONTEXT_WORD] = top_bits((h->alnum_word + 7u) * 0x6A09E667u, c->bits);
    /* the offset keeps the structure's small keys off the other contexts' rows */
    rows[SMX_CONTEXT_NEST] = c->nest ? top_bits((nest_key(h) + 11u) * 0x3C6EF372u + 0x1234567u, c->bits)
                                     : SMX_CONTEXT_NONE;
    for (uint32_t i = 0; i < SMX_CONTEXTS; i++) {
        if (rows[i] == SMX_CONTEXT_NONE) continue;
        uint8_t *seen = &c->seen[rows[i]];
        const uint32_t before = *seen;
        if (*seen < UINT8_MAX) (*seen)++;
        if (before < c->min_seen) rows[i] = SMX_CONTEXT_NONE;
    }
}
