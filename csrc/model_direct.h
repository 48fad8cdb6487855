/* Direct low-order maps: an adaptive probability per (context, tree node)
 * for orders 0, 1 and 2 (the last 0-2 bytes), learned with a step that
 * shrinks with the count. Where a low-order context has been seen
 * thousands of times, its probability is known more finely than a bit
 * history's 227 states can say. */
#ifndef SMX_MODEL_DIRECT_H
#define SMX_MODEL_DIRECT_H

#include <stdint.h>

#include "bitstate.h"
#include "history.h"

#define SMX_DIRECT_ORDERS 3
#define SMX_DIRECT_INPUTS (2 * SMX_DIRECT_ORDERS)

typedef struct smx_direct {
    const smx_states *states;
    uint32_t depth;
    smx_statemap map[SMX_DIRECT_ORDERS];
    uint32_t order2_bits;
    uint64_t c1, c2;       /* the last byte and the last two, set at the token boundary */
    uint32_t entry[SMX_DIRECT_ORDERS];
} smx_direct;

int smx_direct_init(smx_direct *m, const smx_states *s, uint32_t depth, uint32_t order2_bits);
void smx_direct_free(smx_direct *m);
uint64_t smx_direct_memory(uint32_t depth, uint32_t order2_bits);

void smx_direct_begin(smx_direct *m, const smx_history *h);
/* Adds SMX_DIRECT_INPUTS inputs for the bit at node. */
void smx_direct_predict(smx_direct *m, uint32_t node, float *x);
void smx_direct_update(smx_direct *m, uint32_t bit);

#endif
