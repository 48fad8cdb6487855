/* A family of context models: it looks at the history at each token
 * boundary and names a few contexts (64-bit hashes); a context map
 * (ctxmap.h) turns their statistics into the mixer's inputs bit by bit.
 * Adding a model means writing one `set` function in a file of its own and
 * listing the family in predictor.c. */
#ifndef SMX_FAMILY_H
#define SMX_FAMILY_H

#include <stdint.h>

#include "ctxmap.h"
#include "history.h"

/* What the token-level stages know about the next token before its first bit. */
typedef struct smx_token_view {
    const smx_history *h;
    uint32_t vocab;
    int64_t match_tok;       /* the match model's predicted token, -1 if none */
    uint32_t match_len;
    uint32_t top_tok;        /* the token mixture's most likely token */
    uint32_t top_bucket;     /* its probability, bucketed 0..7 */
} smx_token_view;

typedef struct smx_family {
    const char *name;
    uint32_t n_contexts;
    /* Sets contexts 0..n_contexts-1 of m for the next token. */
    void (*set)(smx_ctxmap *m, const smx_token_view *v);
} smx_family;

extern const smx_family smx_family_orders;  /* model_orders.c: the last 0-6 bytes */
extern const smx_family smx_family_words;   /* model_words.c: the current and previous words */
extern const smx_family smx_family_sparse;  /* model_sparse.c: bytes with gaps */
extern const smx_family smx_family_records; /* model_records.c: columns of lines */
extern const smx_family smx_family_tokens;  /* model_tokens.c: the last tokens, the token stages' guesses */
extern const smx_family smx_family_indirect; /* model_indirect.c: what followed the last bytes before */
extern const smx_family smx_family_nest;     /* model_nest.c: open brackets */
extern const smx_family smx_family_lines;    /* model_lines.c: how the line began, which field */

#endif
