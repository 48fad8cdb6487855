#include "match.h"

#include <stdlib.h>
#include <string.h>

#include "table_alloc.h"

#define MATCH_MAX_LEN 65535u

uint64_t smx_match_memory(const smx_params *p) {
    return p->match_min_len ? (uint64_t)2 * sizeof(uint32_t) << p->table_bits : 0;
}

int smx_match_init(smx_match *mm, const smx_params *p) {
    memset(mm, 0, sizeof *mm);
    mm->min_len = p->match_min_len;
    if (!mm->min_len) return 0;
    uint32_t bits = p->table_bits;
    mm->hist_mask = ((uint64_t)1 << bits) - 1;
    mm->table_mask = (1u << bits) - 1u;
    mm->hist = smx_table_alloc(((size_t)mm->hist_mask + 1) * sizeof(uint32_t));
    mm->table = smx_table_alloc(((size_t)mm->table_mask + 1) * sizeof(uint32_t));
    if (!mm->hist || !mm->table) {
        smx_match_free(mm);
        return -1;
    }
    return 0;
}

void smx_match_free(smx_match *mm) {
    smx_table_free(mm->hist);
    smx_table_free(mm->table);
    memset(mm, 0, sizeof *mm);
}

void smx_match_tables(const smx_match *mm, smx_table_list *l) {
    smx_table_list_add(l, mm->hist);
    smx_table_list_add(l, mm->table);
}

static uint32_t context_hash(const smx_match *mm) {
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (uint32_t i = 1; i <= mm->min_len; i++)
        h = (h ^ mm->hist[(mm->n - i) & mm->hist_mask]) * 0xff51afd7ed558ccdull;
    return (uint32_t)(h >> 32) & mm->table_mask;
}

void smx_match_update(smx_match *mm, uint32_t tok) {
    if (!mm->min_len) return;
    if (mm->len) {
        if (mm->hist[mm->ptr & mm->hist_mask] == tok) {
            mm->ptr++;
            if (mm->len < MATCH_MAX_LEN) mm->len++;
        } else {
            mm->len = 0;
        }
    }
    mm->hist[mm->n & mm->hist_mask] = tok;
    mm->n++;
    if (mm->n < mm->min_len) return;
    uint32_t h = context_hash(mm);
    if (!mm->len && mm->table[h]) {
        uint64_t cand = mm->table[h] - 1; /* position of the token that followed */
        /* A candidate must still be in the ring and really share the context. */
        if (mm->n - cand <= mm->hist_mask && cand >= mm->min_len) {
            uint32_t l = 0;
            while (l < 32 && l < cand && mm->hist[(cand - 1 - l) & mm->hist_mask] ==
                                             mm->hist[(mm->n - 1 - l) & mm->hist_mask])
                l++;
            if (l >= mm->min_len) {
                mm->ptr = cand;
                mm->len = l;
            }
        }
    }
    mm->table[h] = (uint32_t)(mm->n + 1);
}
