#include "ctxmap.h"

#include <stdlib.h>
#include <string.h>

#include "table_alloc.h"

#define SLOTS_PER_BUCKET 4u
#define STATE_LIMIT 1023u   /* state maps average over about this many updates */
#define RUN_LIMIT 255u
#define NO_ENTRY 0xffffffffu

static uint64_t mix64(uint64_t h) {
    h ^= h >> 31;
    h *= 0x7fb5d329728ea185ull;
    h ^= h >> 27;
    h *= 0x81dadef4bc2dd44dull;
    h ^= h >> 33;
    return h;
}

uint64_t smx_ctxmap_memory(uint32_t n_contexts, uint32_t slot_bits, uint32_t run_bits) {
    return ((uint64_t)sizeof(smx_slot) << slot_bits) + ((uint64_t)sizeof(smx_run) << run_bits)
           + smx_statemap_memory(n_contexts * SMX_STATES)
           + smx_statemap_memory(n_contexts * (SMX_RUN_CAP + 1) * 2);
}

int smx_ctxmap_init(smx_ctxmap *m, const smx_states *s, uint32_t n_contexts, uint32_t depth,
                    uint32_t slot_bits, uint32_t run_bits) {
    memset(m, 0, sizeof *m);
    if (n_contexts == 0 || n_contexts > SMX_CTXMAP_MAX || slot_bits < 2) return -1;
    m->states = s;
    m->n = n_contexts;
    m->depth = depth;
    m->slots = smx_table_alloc(sizeof(smx_slot) << slot_bits);
    m->bucket_mask = ((uint64_t)1 << (slot_bits - 2)) - 1;
    m->runs = smx_table_alloc(sizeof(smx_run) << run_bits);
    m->run_mask = ((uint64_t)1 << run_bits) - 1;
    int ok = m->slots && m->runs;
    ok = ok && smx_statemap_init_states(&m->sm, s, n_contexts, STATE_LIMIT) == 0;
    ok = ok && smx_statemap_init(&m->run_sm, n_contexts * (SMX_RUN_CAP + 1) * 2, RUN_LIMIT) == 0;
    if (!ok) {
        smx_ctxmap_free(m);
        return -1;
    }
    /* A run of length c predicting bit b starts at (c + 1) : 1 odds for b. */
    for (uint32_t i = 0; i < m->run_sm.size; i++) {
        uint32_t c = (i >> 1) % (SMX_RUN_CAP + 1), b = i & 1u;
        uint32_t p = (uint32_t)(((uint64_t)(c + 1) << SMX_P_BITS) / (c + 2));
        m->run_sm.t[i] = (b ? p : (1u << SMX_P_BITS) - p) << 10;
    }
    return 0;
}

void smx_ctxmap_free(smx_ctxmap *m) {
    smx_table_free(m->slots);
    smx_table_free(m->runs);
    smx_statemap_free(&m->sm);
    smx_statemap_free(&m->run_sm);
    memset(m, 0, sizeof *m);
}

void smx_ctxmap_tables(const smx_ctxmap *m, smx_table_list *l) {
    smx_table_list_add(l, m->slots);
    smx_table_list_add(l, m->runs);
}

/* The slot of hash h: the one in its bucket with h's check byte, or, if
 * none has it, the one that has seen least, emptied for h. */
static smx_slot *find_slot(const smx_ctxmap *m, uint64_t h) {
    smx_slot *b = m->slots + (size_t)((h >> 20) & m->bucket_mask) * SLOTS_PER_BUCKET;
    uint8_t check = (uint8_t)(h >> 56);
    uint32_t victim = 0, least = 256;
    for (uint32_t i = 0; i < SLOTS_PER_BUCKET; i++) {
        if (b[i].check == check) return &b[i];
        uint32_t seen = m->states->total[b[i].state[0]];
        if (seen < least) {
            least = seen;
            victim = i;
        }
    }
    memset(&b[victim], 0, sizeof b[victim]);
    b[victim].check = check;
    return &b[victim];
}

static uint64_t group_hash(uint64_t h, uint32_t group_root, uint32_t group) {
    return group ? mix64(h + 0x9e3779b97f4a7c15ull * group_root) : h;
}

void smx_ctxmap_fetch(smx_ctxmap *m) {
    for (uint32_t i = 0; i < m->n; i++) {
        m->hash[i] = mix64(m->hash[i] + i);
        __builtin_prefetch(m->slots + (size_t)((m->hash[i] >> 20) & m->bucket_mask) * SLOTS_PER_BUCKET);
        __builtin_prefetch(m->runs + (m->hash[i] & m->run_mask));
    }
}

void smx_ctxmap_begin(smx_ctxmap *m) {
    for (uint32_t i = 0; i < m->n; i++) {
        m->slot[i] = find_slot(m, m->hash[i]);
        smx_run *r = m->runs + (m->hash[i] & m->run_mask);
        uint8_t check = (uint8_t)(m->hash[i] >> 48);
        if (r->check != check) {
            r->check = check;
            r->count = 0;
            r->tok = 0;
        }
        m->run[i] = r;
    }
    m->group = 0;
}

void smx_ctxmap_predict(smx_ctxmap *m, uint32_t node, uint32_t d, float *x) {
    const smx_states *s = m->states;
    const uint32_t group = d >> 2, r = d & 3u;
    const uint32_t local = (1u << r) | (node & ((1u << r) - 1u));
    if (group != m->group) {
        /* the first coded bit of a new group: fetch every context's slot for it */
        const uint32_t root = node >> r;
        for (uint32_t i = 0; i < m->n; i++)
            __builtin_prefetch(m->slots + (size_t)((group_hash(m->hash[i], root, group) >> 20) & m->bucket_mask)
                                              * SLOTS_PER_BUCKET);
        for (uint32_t i = 0; i < m->n; i++) m->slot[i] = find_slot(m, group_hash(m->hash[i], root, group));
        m->group = group;
    }
    if (r == 3 && d + 1 < m->depth) {
        /* the next bit starts a new group under one of two roots: fetch both early */
        for (uint32_t i = 0; i < m->n; i++) {
            __builtin_prefetch(m->slots + (size_t)((group_hash(m->hash[i], 2 * node, group + 1) >> 20) & m->bucket_mask)
                                              * SLOTS_PER_BUCKET);
            __builtin_prefetch(m->slots + (size_t)((group_hash(m->hash[i], 2 * node + 1, group + 1) >> 20)
                                                   & m->bucket_mask) * SLOTS_PER_BUCKET);
        }
    }
    const uint32_t shift = m->depth - d;
    uint32_t known = 0, pattern = 0, p3 = 1;
    for (uint32_t i = 0; i < m->n; i++, x += SMX_CTXMAP_INPUTS) {
        uint8_t *cell = &m->slot[i]->state[local - 1];
        m->cell[i] = cell;
        uint32_t st = *cell;
        m->sm_i[i] = i * SMX_STATES + st;
        if (st) {
            uint32_t p = smx_statemap_p(&m->sm, m->sm_i[i]);
            x[0] = smx_stretch22(s, p);
            x[1] = ((float)p - (float)(1u << (SMX_P_BITS - 1))) * (2.0f / (float)(1u << SMX_P_BITS));
            known++;
            pattern += p3 * ((s->n0[st] && s->n1[st]) ? 2u : 1u);
        } else {
            x[0] = 0.0f;
            x[1] = 0.0f;
        }
        p3 *= 3;
        const smx_run *run = m->run[i];
        uint32_t tok_path = (uint32_t)run->tok | (1u << m->depth);
        if (run->count && (tok_path >> shift) == node) {
            uint32_t bit = (run->tok >> (shift - 1)) & 1u;
            uint32_t c = run->count < SMX_RUN_CAP ? run->count : SMX_RUN_CAP;
            m->run_i[i] = (i * (SMX_RUN_CAP + 1) + c) * 2 + bit;
            x[2] = smx_stretch22(s, smx_statemap_p(&m->run_sm, m->run_i[i]));
        } else {
            m->run_i[i] = NO_ENTRY;
            x[2] = 0.0f;
        }
    }
    m->known = known;
    m->pattern = pattern;
}

void smx_ctxmap_update(smx_ctxmap *m, uint32_t bit) {
    const smx_states *s = m->states;
    for (uint32_t i = 0; i < m->n; i++) {
        uint8_t *cell = m->cell[i];
        smx_statemap_update(&m->sm, m->sm_i[i], bit);
        *cell = s->next[*cell][bit];
        if (m->run_i[i] != NO_ENTRY) smx_statemap_update(&m->run_sm, m->run_i[i], bit);
    }
}

void smx_ctxmap_end(smx_ctxmap *m, uint32_t tok) {
    for (uint32_t i = 0; i < m->n; i++) {
        smx_run *r = m->run[i];
        if (r->count && r->tok == tok) {
            if (r->count < 255) r->count++;
        } else {
            r->tok = (uint16_t)tok;
            r->count = 1;
        }
    }
}
