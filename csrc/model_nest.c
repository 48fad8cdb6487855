/* Nesting, for markup, source code and data: the innermost open brackets
 * ((, [, {, <), how deep they go and whether a "string" is open, with the
 * last byte, the last two, the current word and the column. Inside a link, a template, a tag, an
 * argument list or a JSON object the next bytes follow different rules. */
#include "family.h"

static void set_nest(smx_ctxmap *m, const smx_token_view *v) {
    const smx_history *h = v->h;
    uint64_t nest = smx_hash(61 + h->quote, ((uint64_t)(h->depth < 15 ? h->depth : 15) << 32) | (h->open & 0xffffff));
    uint64_t cur = h->word_len ? h->word[0] : 0;
    uint64_t col = smx_history_column(h);
    smx_ctxmap_set(m, 0, smx_hash(nest, h->c8 & 0xff));
    smx_ctxmap_set(m, 1, smx_hash(smx_hash(nest, cur), 1));
    smx_ctxmap_set(m, 2, smx_hash(nest, h->c8 & 0xffff));
    smx_ctxmap_set(m, 3, smx_hash(smx_hash(nest, col < 64 ? col : 64), 2));
}

const smx_family smx_family_nest = {"nest", 4, set_nest};
