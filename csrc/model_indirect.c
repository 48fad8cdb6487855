/* Indirect contexts: what followed the last byte, and the last two bytes,
 * the previous times they occurred, together with them. Where a byte's
 * successors repeat ("q" then "u", "</" then the tag just opened), this
 * predicts the next byte from one occurrence, before the order-2 and
 * order-3 counts have seen enough. */
#include "family.h"

static void set_indirect(smx_ctxmap *m, const smx_token_view *v) {
    const smx_history *h = v->h;
    const uint32_t c1 = (uint32_t)(h->c8 & 0xff), c21 = (uint32_t)(h->c8 & 0xffff);
    const uint32_t a1 = h->after1[c1], a2 = h->after2[c21];
    smx_ctxmap_set(m, 0, smx_hash(smx_hash(41, c1), a1));
    smx_ctxmap_set(m, 1, smx_hash(smx_hash(42, c21), a2));
    smx_ctxmap_set(m, 2, smx_hash(smx_hash(43, c21), a1 & 0xff));
}

const smx_family smx_family_indirect = {"indirect", 3, set_indirect};
