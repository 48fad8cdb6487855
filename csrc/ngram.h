/* Sparse n-gram statistics: for each context order, which tokens followed
 * that context and how often. Only tokens seen after a context get a logit
 * bias (softmax ignores a constant shift, so the rest need none).
 *
 * Each order has an open-addressing table of context slots (linear probing,
 * a 32-bit check word from the context hash to reject collisions) and a
 * pool holding each context's list of (token, count) pairs. Table and pool
 * are sized from the parameters and allocated once, so memory is bounded
 * and the decoder can never run out of memory where the encoder did not. */
#ifndef SMX_NGRAM_H
#define SMX_NGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "statesmix.h"
#include "table_alloc.h"

#define SMX_NGRAM_LUT 4096     /* feature values tabulated for counts below this */
#define SMX_NGRAM_HISTORY 64   /* tokens of history kept (>= the largest order) */

typedef struct smx_ngram_slot {
    uint32_t check;   /* 0 = empty */
    uint32_t off;     /* first entry in the pool */
    uint32_t len, cap;
} smx_ngram_slot;

typedef struct smx_ngram_order {
    uint32_t order;
    uint32_t mask;
    smx_ngram_slot *slots;
    uint32_t *pool;          /* entries: token << 16 | count */
    size_t pool_len, pool_limit;
    float lut[SMX_NGRAM_LUT]; /* log(1 + count / alpha) */
    smx_ngram_slot *found;   /* context of the current position, or NULL */
    uint64_t hash;
    uint32_t slot_index;     /* where `found` is, or where it would go */
    int can_insert;
} smx_ngram_order;

typedef struct smx_ngram {
    uint32_t vocab;
    uint32_t n_orders;
    smx_ngram_order o[SMX_MAX_ORDERS];
    uint32_t history[SMX_NGRAM_HISTORY]; /* ring buffer of past tokens */
    uint64_t n_seen;
    uint32_t *unigram;       /* count per token */
    float uni_lut[SMX_NGRAM_LUT]; /* log(1 + count) */
} smx_ngram;

int smx_ngram_init(smx_ngram *g, const smx_params *p);
/* Bytes smx_ngram_init allocates for p. */
uint64_t smx_ngram_memory(const smx_params *p);
void smx_ngram_free(smx_ngram *g);
/* Adds every order's slots and pool to l (table_alloc.h). */
void smx_ngram_tables(const smx_ngram *g, smx_table_list *l);

/* Finds the contexts of the next position in every order. */
void smx_ngram_lookup(smx_ngram *g);

/* Number of entries and the entries of order k's current context. */
static inline uint32_t smx_ngram_count(const smx_ngram *g, uint32_t k) {
    return g->o[k].found ? g->o[k].found->len : 0;
}
static inline const uint32_t *smx_ngram_entries(const smx_ngram *g, uint32_t k) {
    return g->o[k].pool + g->o[k].found->off;
}
static inline float smx_ngram_feature(const smx_ngram_order *o, uint32_t count) {
    return o->lut[count < SMX_NGRAM_LUT ? count : SMX_NGRAM_LUT - 1];
}
static inline float smx_unigram_feature(const smx_ngram *g, uint32_t tok) {
    uint32_t c = g->unigram[tok];
    return g->uni_lut[c < SMX_NGRAM_LUT ? c : SMX_NGRAM_LUT - 1];
}

/* The longest order whose context (from smx_ngram_lookup) has been seen,
 * in *order_index, and the token that most often followed it (the first
 * of equals), in *tok; 0 if no order's context has been seen. */
int smx_ngram_guess(const smx_ngram *g, uint32_t *order_index, uint32_t *tok);

/* Records that tok followed the current contexts and appends it to the history. */
void smx_ngram_update(smx_ngram *g, uint32_t tok);

#endif
