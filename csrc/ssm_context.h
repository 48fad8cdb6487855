/* Hashed contexts in the SSM's input (ssm_context_bits): a table of learnt
 * embedding rows, one read per position for the last two tokens together,
 * one for the bytes of the current word so far and, with ssm_nest_context,
 * one for where the text stands (the innermost open bracket, how deep,
 * inside a quote, the column in buckets): what the SSM's small state keeps
 * of the structure only loosely. The SSM itself sees only
 * a few recent tokens through its small state; the rows give it a memory of
 * what it has seen follow each such context, which it learns to combine
 * with its state. A context's row is read (and trained) only once the
 * context has come ssm_context_min times: on inputs where most contexts are
 * rare (audio), rows trained on one or two visits add noise
 * (bench/README.md, "Format 14"). */
#ifndef SMX_SSM_CONTEXT_H
#define SMX_SSM_CONTEXT_H

#include <stdint.h>

#include "history.h"
#include "statesmix.h"

/* In the order of the model's input slots SMX_SLOT_PAIR, SMX_SLOT_WORD,
 * SMX_SLOT_NEST (model.h; engine.c asserts it). */
enum { SMX_CONTEXT_PAIR, SMX_CONTEXT_WORD, SMX_CONTEXT_NEST, SMX_CONTEXTS };
#define SMX_CONTEXT_NONE UINT32_MAX

typedef struct smx_ssm_context {
    uint32_t bits;      /* 0: off */
    uint32_t min_seen;
    uint32_t vocab;
    uint32_t nest;      /* ssm_nest_context */
    uint8_t *seen;      /* 2^bits: how often each row's context came, saturating */
} smx_ssm_context;

int smx_ssm_context_init(smx_ssm_context *c, const smx_params *p);
/* Bytes smx_ssm_context_init allocates for p. */
uint64_t smx_ssm_context_memory(const smx_params *p);
void smx_ssm_context_free(smx_ssm_context *c);

/* The rows (in [0, 2^bits)) the next position reads, by SMX_CONTEXT_*, or
 * SMX_CONTEXT_NONE, from the tokens and bytes coded so far. Counts the
 * visit: call once per position. */
void smx_ssm_context_rows(smx_ssm_context *c, const smx_history *h, uint32_t rows[SMX_CONTEXTS]);

#endif
