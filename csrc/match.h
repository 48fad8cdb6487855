/* Long-range match model: finds the most recent earlier occurrence of the
 * last `min_len` tokens and predicts the token that followed it, for as long
 * as the prediction keeps coming true. The mixer gives the predicted token a
 * logit bonus learned per match length, so long, reliable matches (repeated
 * boilerplate, quotations) become nearly free while short ones stay cheap to
 * be wrong about. */
#ifndef SMX_MATCH_H
#define SMX_MATCH_H

#include <stdint.h>

#include "statesmix.h"
#include "table_alloc.h"

#define SMX_MATCH_BUCKETS 24

typedef struct smx_match {
    uint32_t min_len;      /* 0 = model off */
    uint32_t *hist;        /* ring of past tokens */
    uint64_t hist_mask;
    uint32_t *table;       /* context hash -> position of the token that followed, + 1 */
    uint32_t table_mask;
    uint64_t n;            /* tokens seen */
    uint64_t ptr;          /* position whose token is predicted next */
    uint32_t len;          /* length of the current match, 0 = none */
} smx_match;

int smx_match_init(smx_match *mm, const smx_params *p);
/* Bytes smx_match_init allocates for p. */
uint64_t smx_match_memory(const smx_params *p);
void smx_match_free(smx_match *mm);
/* Adds the history and the context table to l (table_alloc.h). */
void smx_match_tables(const smx_match *mm, smx_table_list *l);

/* The predicted token, or -1 when there is no match. */
static inline int64_t smx_match_predicted(const smx_match *mm) {
    return mm->len ? (int64_t)mm->hist[mm->ptr & mm->hist_mask] : -1;
}

/* Which learned weight applies to the current match. */
static inline uint32_t smx_match_bucket(const smx_match *mm) {
    uint32_t l = mm->len;
    if (l < 16) return l;                       /* 1..15 one bucket each */
    uint32_t b = 16;
    for (uint32_t x = l >> 5; x && b < SMX_MATCH_BUCKETS - 1; x >>= 1) b++;
    return b;                                   /* 16..31 -> 16, 32..63 -> 17, ... */
}

void smx_match_update(smx_match *mm, uint32_t tok);

#endif
