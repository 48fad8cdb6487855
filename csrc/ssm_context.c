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

void smx_ssm_context_rows(smx_ssm_context *c, uint32_t rows[SMX_CONTEXTS]) {
    rows[SMX_CONTEXT_PAIR] = top_bits((c->prev_tok2 * c->vocab + c->prev_tok + 1u) * 0x85EBCA6Bu, c->bits);
    rows[SMX_CONTEXT_WORD] = top_bits((c->word + 7u) * 0x6A09E667u, c->bits);
    for (uint32_t i = 0; i < SMX_CONTEXTS; i++) {
        uint8_t *seen = &c->seen[rows[i]];
        const uint32_t before = *seen;
        if (*seen < UINT8_MAX) (*seen)++;
        if (before < c->min_seen) rows[i] = SMX_CONTEXT_NONE;
    }
}

/* A word: ASCII letters (either case) and digits, and every byte >= 128,
 * so the letters of UTF-8 text join words too. */
static int word_byte(uint32_t b) {
    return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b >= 128;
}

void smx_ssm_context_update(smx_ssm_context *c, uint32_t tok, const uint8_t *bytes, uint32_t n) {
    c->prev_tok2 = c->prev_tok;
    c->prev_tok = tok;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t b = bytes[i];
        if (!word_byte(b)) {
            c->word = 0;
            continue;
        }
        if (b >= 'A' && b <= 'Z') b += 'a' - 'A';
        c->word = (c->word + b + 1u) * 0x2F0B4C27u;
    }
}
