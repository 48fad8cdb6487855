#include "ngram.h"

#include <stdlib.h>
#include <string.h>

#include "smx_math.h"
#include "table_alloc.h"

#define PROBE_DEPTH 8
#define COUNT_MAX 0xffffu

uint64_t smx_ngram_memory(const smx_params *p) {
    uint64_t per_order = ((uint64_t)sizeof(smx_ngram_slot) << p->table_bits) + (uint64_t)p->pool_limit * sizeof(uint32_t);
    return (uint64_t)p->vocab * sizeof(uint32_t) + p->n_orders * per_order;
}

int smx_ngram_init(smx_ngram *g, const smx_params *p) {
    memset(g, 0, sizeof *g);
    g->vocab = p->vocab;
    g->n_orders = p->n_orders;
    g->unigram = calloc(p->vocab, sizeof(uint32_t));
    if (!g->unigram) return -1;
    for (uint32_t c = 0; c < SMX_NGRAM_LUT; c++) g->uni_lut[c] = smx_log(1.0f + (float)c);
    for (uint32_t k = 0; k < p->n_orders; k++) {
        smx_ngram_order *o = &g->o[k];
        o->order = p->orders[k];
        o->mask = (1u << p->table_bits) - 1u;
        /* pages are mapped lazily: untouched capacity costs no memory */
        o->slots = smx_table_alloc(((size_t)o->mask + 1) * sizeof(smx_ngram_slot));
        o->pool_limit = p->pool_limit;
        o->pool = smx_table_alloc((size_t)p->pool_limit * sizeof(uint32_t));
        if (!o->slots || !o->pool) {
            smx_ngram_free(g);
            return -1;
        }
        for (uint32_t c = 0; c < SMX_NGRAM_LUT; c++)
            o->lut[c] = smx_log(1.0f + (float)c / p->alpha[k]);
    }
    return 0;
}

void smx_ngram_free(smx_ngram *g) {
    for (uint32_t k = 0; k < SMX_MAX_ORDERS; k++) {
        smx_table_free(g->o[k].slots);
        smx_table_free(g->o[k].pool);
    }
    free(g->unigram);
    memset(g, 0, sizeof *g);
}

void smx_ngram_tables(const smx_ngram *g, smx_table_list *l) {
    for (uint32_t k = 0; k < g->n_orders; k++) {
        smx_table_list_add(l, g->o[k].slots);
        smx_table_list_add(l, g->o[k].pool);
    }
}

void smx_ngram_lookup(smx_ngram *g) {
    /* One pass back through the history hashes every order's context. */
    uint64_t h = 0x243f6a8885a308d3ull;
    uint32_t depth = 0;
    for (uint32_t k = 0; k < g->n_orders; k++) {
        smx_ngram_order *o = &g->o[k];
        o->found = NULL;
        o->can_insert = 0;
        if (g->n_seen < o->order) continue;
        while (depth < o->order) {
            uint32_t tok = g->history[(g->n_seen - 1 - depth) % SMX_NGRAM_HISTORY];
            h = (h ^ ((uint64_t)tok + 1)) * 0x9e3779b97f4a7c15ull;
            h ^= h >> 29;
            depth++;
        }
        uint64_t hk = (h ^ (uint64_t)o->order) * 0xff51afd7ed558ccdull;
        hk ^= hk >> 32;
        o->hash = hk;
        uint32_t check = (uint32_t)hk | 1u;
        uint32_t idx = (uint32_t)(hk >> 32);
        for (uint32_t probe = 0; probe < PROBE_DEPTH; probe++) {
            uint32_t s = (idx + probe) & o->mask;
            smx_ngram_slot *slot = &o->slots[s];
            if (slot->check == check) {
                o->found = slot;
                o->slot_index = s;
                break;
            }
            if (slot->check == 0) {
                o->slot_index = s;
                o->can_insert = 1;
                break;
            }
        }
    }
}

/* Appends tok with count 1 to a slot's list, moving the list to a larger
 * region of the pool when it is full. Returns 0 when the pool is spent. */
static int list_append(smx_ngram_order *o, smx_ngram_slot *slot, uint32_t tok) {
    if (slot->len == slot->cap) {
        uint32_t new_cap = slot->cap ? slot->cap * 2 : 2;
        if (o->pool_len + new_cap > o->pool_limit) return 0;
        memcpy(o->pool + o->pool_len, o->pool + slot->off, slot->len * sizeof(uint32_t));
        slot->off = (uint32_t)o->pool_len;
        slot->cap = new_cap;
        o->pool_len += new_cap;
    }
    o->pool[slot->off + slot->len++] = (tok << 16) | 1u;
    return 1;
}

void smx_ngram_update(smx_ngram *g, uint32_t tok) {
    for (uint32_t k = 0; k < g->n_orders; k++) {
        smx_ngram_order *o = &g->o[k];
        smx_ngram_slot *slot = o->found;
        if (!slot) {
            if (!o->can_insert) continue;
            if (o->pool_len + 2 > o->pool_limit) continue;
            slot = &o->slots[o->slot_index];
            slot->check = (uint32_t)o->hash | 1u;
            slot->off = 0;
            slot->len = slot->cap = 0;
        }
        uint32_t *e = o->pool + slot->off;
        uint32_t i = 0;
        while (i < slot->len && (e[i] >> 16) != tok) i++;
        if (i < slot->len) {
            if ((e[i] & COUNT_MAX) == COUNT_MAX)
                for (uint32_t j = 0; j < slot->len; j++)
                    e[j] = (e[j] & ~COUNT_MAX) | (((e[j] & COUNT_MAX) + 1) >> 1);
            e[i] += 1;
        } else {
            list_append(o, slot, tok);
        }
    }
    if (g->unigram[tok] < 0xffffffffu) g->unigram[tok]++;
    g->history[g->n_seen % SMX_NGRAM_HISTORY] = tok;
    g->n_seen++;
}

int smx_ngram_guess(const smx_ngram *g, uint32_t *order_index, uint32_t *tok) {
    for (uint32_t k = g->n_orders; k-- > 0;) {
        const uint32_t n = smx_ngram_count(g, k);
        if (n == 0) continue;
        const uint32_t *entries = smx_ngram_entries(g, k);
        uint32_t best = entries[0];
        for (uint32_t i = 1; i < n; i++)
            if ((entries[i] & 0xffffu) > (best & 0xffffu)) best = entries[i];
        *order_index = k;
        *tok = best >> 16;
        return 1;
    }
    return 0;
}
