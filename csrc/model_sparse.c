/* Sparse contexts: bytes further back with gaps between them, which see
 * through a changing byte to a fixed structure (fields of binary records,
 * the second byte of UTF-16 or of 16-bit samples). */
#include "family.h"

static void set_sparse(smx_ctxmap *m, const smx_token_view *v) {
    const uint64_t c = v->h->c8;
    smx_ctxmap_set(m, 0, smx_hash(11, (c >> 8) & 0xff));        /* byte 2 back */
    smx_ctxmap_set(m, 1, smx_hash(12, (c >> 16) & 0xff));       /* byte 3 back */
    smx_ctxmap_set(m, 2, smx_hash(13, (c >> 8) & 0xffff));      /* bytes 2-3 back */
    smx_ctxmap_set(m, 3, smx_hash(14, c & 0xff00ff));           /* bytes 1 and 3 back */
}

const smx_family smx_family_sparse = {"sparse", 4, set_sparse};
