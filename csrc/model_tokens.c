/* Whole tokens: the last one to three token ids (with a BPE vocabulary a
 * token is a word or a piece of one), and what the token-level stages
 * guess: the match model's next token with its length, and the token
 * mixture's favourite with how sure it is. */
#include "family.h"

static void set_tokens(smx_ctxmap *m, const smx_token_view *v) {
    const uint32_t *t = v->h->tok;
    uint64_t h1 = smx_hash(31, t[0] + 1u);
    uint64_t h2 = smx_hash(h1, t[1] + 1u);
    smx_ctxmap_set(m, 0, h1);
    smx_ctxmap_set(m, 1, h2);
    smx_ctxmap_set(m, 2, smx_hash(h2, t[2] + 1u));
    uint32_t ml = v->match_len < 15 ? v->match_len : 15;
    smx_ctxmap_set(m, 3, smx_hash(smx_hash(32, (uint64_t)(v->match_tok + 1)), ml));
    smx_ctxmap_set(m, 4, smx_hash(smx_hash(33, v->top_tok), v->top_bucket));
}

const smx_family smx_family_tokens = {"tokens", 5, set_tokens};
