#include "model_match.h"

#include "match.h"

#define NO_ENTRY 0xffffffffu
#define LIMIT 1023u

uint64_t smx_bitmatch_memory(uint32_t depth) { return smx_statemap_memory(SMX_MATCH_BUCKETS * depth * 2); }

int smx_bitmatch_init(smx_bitmatch *b, const smx_states *s, uint32_t depth) {
    b->states = s;
    b->depth = depth;
    b->tok = -1;
    b->agree = 0;
    b->sm_i = NO_ENTRY;
    if (smx_statemap_init(&b->sm, SMX_MATCH_BUCKETS * depth * 2, LIMIT)) return -1;
    /* a match of length l starts at about (l + 1) : 1 for its bit */
    for (uint32_t i = 0; i < b->sm.size; i++) {
        uint32_t bucket = i / (depth * 2), bit = i & 1u;
        uint32_t l = bucket < 16 ? bucket : 16u << (bucket - 16);
        uint32_t p = (uint32_t)(((uint64_t)(l + 1) << SMX_P_BITS) / (l + 2));
        b->sm.t[i] = (bit ? p : (1u << SMX_P_BITS) - p) << 10;
    }
    return 0;
}

void smx_bitmatch_free(smx_bitmatch *b) { smx_statemap_free(&b->sm); }

void smx_bitmatch_begin(smx_bitmatch *b, int64_t tok, uint32_t len, uint32_t bucket) {
    b->tok = tok;
    b->len = len;
    b->bucket = bucket;
    b->agree = tok >= 0;
}

void smx_bitmatch_predict(smx_bitmatch *b, uint32_t node, uint32_t d, float *x) {
    b->sm_i = NO_ENTRY;
    if (b->tok < 0 || !b->agree) {
        x[0] = 0.0f;
        x[1] = 0.0f;
        return;
    }
    uint32_t path = (uint32_t)b->tok | (1u << b->depth);
    if ((path >> (b->depth - d)) != node) {
        b->agree = 0;
        x[0] = 0.0f;
        x[1] = 0.0f;
        return;
    }
    uint32_t bit = (path >> (b->depth - 1 - d)) & 1u;
    b->sm_i = (b->bucket * b->depth + d) * 2 + bit;
    x[0] = smx_stretch22(b->states, smx_statemap_p(&b->sm, b->sm_i));
    float conf = (float)(b->len < 32 ? b->len : 32) * (1.0f / 16.0f);
    x[1] = bit ? conf : -conf;
}

void smx_bitmatch_update(smx_bitmatch *b, uint32_t bit) {
    if (b->sm_i != NO_ENTRY) smx_statemap_update(&b->sm, b->sm_i, bit);
}
