/* Lines by their kind: how the line began (a list item, a table row, a
 * heading, a log's timestamp, an indented block) and which field of a
 * delimited line this is (separators , ; tab | counted), with the last
 * byte and the current word. */
#include "family.h"

static void set_lines(smx_ctxmap *m, const smx_token_view *v) {
    const smx_history *h = v->h;
    uint64_t head = smx_hash(71, h->line_head);
    uint64_t field = smx_hash(72, h->fields < 31 ? h->fields : 31);
    uint64_t cur = h->word_len ? h->word[0] : 0;
    smx_ctxmap_set(m, 0, smx_hash(head, h->c8 & 0xff));
    smx_ctxmap_set(m, 1, smx_hash(smx_hash(field, h->c8 & 0xff), 3));
    smx_ctxmap_set(m, 2, smx_hash(smx_hash(head, cur), 4));
}

const smx_family smx_family_lines = {"lines", 3, set_lines};
