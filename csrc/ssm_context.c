/* Hashed contexts in the SSM's input: see ssm_context.h. */
#include "ssm_context.h"

#include <stdlib.h>

int smx_ssm_context_init(smx_ssm_context *c, const smx_params *p) {
    *c = (smx_ssm_context){.bits = p->ssm_context_bits, .min_seen = p->ssm_context_min, .vocab = p->vocab};
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

void smx_ssm_context_rows(smx_ssm_context *c, const smx_history *h, uint32_t rows[SMX_CONTEXTS]) {
    rows[SMX_CONTEXT_PAIR] = top_bits((h->tok[1] * c->vocab + h->tok[0] + 1u) * 0x85EBCA6Bu, c->bits);
    rows[SMX_CONTEXT_WORD] = top_bits((h->alnum_word + 7u) * 0x6A09E667u, c->bits);
    for (uint32_t i = 0; i < SMX_CONTEXTS; i++) {
        uint8_t *seen = &c->seen[rows[i]];
        const uint32_t before = *seen;
        if (*seen < UINT8_MAX) (*seen)++;
        if (before < c->min_seen) rows[i] = SMX_CONTEXT_NONE;
    }
}
