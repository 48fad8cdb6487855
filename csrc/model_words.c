/* Words, for text: the letters of the current word so far, alone and after
 * the one or two words before it, and the word before next to the current
 * one (skipping one); and the two words before, without the current one.
 * Between words, the current word is the byte that ended the last one. */
#include "family.h"

static void set_words(smx_ctxmap *m, const smx_token_view *v) {
    const smx_history *h = v->h;
    uint64_t cur = h->word_len ? h->word[0] : smx_hash(0x3c6ef372, smx_history_byte(h, 1));
    smx_ctxmap_set(m, 0, smx_hash(1, cur));
    smx_ctxmap_set(m, 1, smx_hash(smx_hash(2, cur), h->word[1]));
    smx_ctxmap_set(m, 2, smx_hash(smx_hash(smx_hash(3, cur), h->word[1]), h->word[2]));
    smx_ctxmap_set(m, 3, smx_hash(smx_hash(4, cur), h->word[2]));
    smx_ctxmap_set(m, 4, smx_hash(smx_hash(5, h->word[1]), h->word[2]));
}

const smx_family smx_family_words = {"words", 5, set_words};
