/* Lines as records: the column and the byte above it in the previous line,
 * for tables, logs and aligned text. */
#include "family.h"

static void set_records(smx_ctxmap *m, const smx_token_view *v) {
    const smx_history *h = v->h;
    uint64_t col = smx_history_column(h);
    uint8_t above = smx_history_above(h);
    smx_ctxmap_set(m, 0, smx_hash(smx_hash(21, col < 255 ? col : 255), above));
    smx_ctxmap_set(m, 1, smx_hash(smx_hash(22, above), smx_history_byte(h, 1)));
}

const smx_family smx_family_records = {"records", 2, set_records};
