/* Byte orders 0-6: the last k bytes, whatever tokens they came in. */
#include "family.h"

#define ORDERS 7

static void set_orders(smx_ctxmap *m, const smx_token_view *v) {
    const smx_history *h = v->h;
    uint64_t hash = 0;
    smx_ctxmap_set(m, 0, 0);
    for (uint32_t k = 1; k < ORDERS; k++) {
        hash = smx_hash(hash + k, smx_history_byte(h, k) + 1u);
        smx_ctxmap_set(m, k, hash);
    }
}

const smx_family smx_family_orders = {"orders", ORDERS, set_orders};
