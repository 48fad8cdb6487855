#include "model_direct.h"

#include <string.h>

#define LIMIT 1023u

uint64_t smx_direct_memory(uint32_t depth, uint32_t order2_bits) {
    return smx_statemap_memory(1u << depth) + smx_statemap_memory(256u << depth)
           + smx_statemap_memory(1u << order2_bits);
}

int smx_direct_init(smx_direct *m, const smx_states *s, uint32_t depth, uint32_t order2_bits) {
    memset(m, 0, sizeof *m);
    m->states = s;
    m->depth = depth;
    m->order2_bits = order2_bits;
    if (smx_statemap_init(&m->map[0], 1u << depth, LIMIT) || smx_statemap_init(&m->map[1], 256u << depth, LIMIT)
        || smx_statemap_init(&m->map[2], 1u << order2_bits, LIMIT)) {
        smx_direct_free(m);
        return -1;
    }
    return 0;
}

void smx_direct_free(smx_direct *m) {
    for (uint32_t j = 0; j < SMX_DIRECT_ORDERS; j++) smx_statemap_free(&m->map[j]);
}

void smx_direct_begin(smx_direct *m, const smx_history *h) {
    m->c1 = h->c8 & 0xff;
    m->c2 = h->c8 & 0xffff;
}

void smx_direct_predict(smx_direct *m, uint32_t node, float *x) {
    m->entry[0] = node;
    m->entry[1] = ((uint32_t)m->c1 << m->depth) | node;
    m->entry[2] = (uint32_t)(smx_hash(m->c2 + 0x10000u, node) >> (64 - m->order2_bits));
    for (uint32_t j = 0; j < SMX_DIRECT_ORDERS; j++) {
        uint32_t p = smx_statemap_p(&m->map[j], m->entry[j]);
        x[2 * j] = smx_stretch22(m->states, p);
        x[2 * j + 1] = ((float)p - (float)(1u << (SMX_P_BITS - 1))) * (2.0f / (float)(1u << SMX_P_BITS));
    }
}

void smx_direct_update(smx_direct *m, uint32_t bit) {
    for (uint32_t j = 0; j < SMX_DIRECT_ORDERS; j++) smx_statemap_update(&m->map[j], m->entry[j], bit);
}
