/* Binary context mixing: the stage that turns the token-level mixture into
 * the probabilities the coder uses.
 *
 * A token is coded as the path to its leaf in a binary tree over the ids,
 * most significant bit first. At every node the next bit is predicted from
 *   - the token-level mixture (mixer.h) and the SSM's own softmax, each
 *     summed over the two children's ids;
 *   - bit models, one per context: the node together with a hash of the
 *     last k tokens (k = 0, 1, 2, 3, 4, 6), of the tokens 2 back and 2-3
 *     back (sparse contexts), of the match model's predicted token and of
 *     the mixture's favourite token. Each model gives two inputs: a
 *     probability adapted with step 1/(n + 1.5) (fast to learn where the
 *     token-level counts are slow) and what its recent bit history (n0, n1)
 *     has meant across all contexts of that kind (indirect modelling, which
 *     reads a context seen once or twice far better than its counts do);
 * mixes them in the logistic domain with two weight sets learned online
 * (chosen by the n-gram evidence and by the mixture's confidence and the
 * match state), and refines the result with two adaptive probability maps.
 *
 * With the mixture's weight at 1 and all others at 0, as initialised, it
 * codes exactly as the token-level mixture would: everything it adds is
 * learned from the coding loss of the bits. */
#ifndef SMX_BINMIX_H
#define SMX_BINMIX_H

#include <stdint.h>

#include "statesmix.h"

#define SMX_BIN_CONTEXTS 10
#define SMX_BIN_INPUTS (2 * SMX_BIN_CONTEXTS + 3) /* + mixture, SSM, bias */
#define SMX_BIN_DEPTH_MAX 16                      /* tree depth for 2^16 ids */
#define SMX_APM_CELLS 33
#define SMX_STRETCH_LUT 4096

typedef struct smx_binmix {
    uint32_t depth;          /* bits per token: ceil(log2 vocab) */
    uint32_t mask;           /* slots per bit-model table - 1 */
    uint32_t *slots;         /* SMX_BIN_CONTEXTS tables of p16 << 16 | n0 << 12 | n1 << 8 | check */
    float lr;
    float *w_evidence;       /* weight sets by n-gram evidence and depth */
    float *w_confidence;     /* weight sets by the mixture's confidence, match state and depth */
    float *apm_node;         /* (2^(depth+1)) x SMX_APM_CELLS, by tree node */
    float *apm_prev;         /* 2^SMX_APM_PREV_BITS x SMX_APM_CELLS, by node and previous token */
    float history_p[SMX_BIN_CONTEXTS][256]; /* (n0, n1) -> probability of a 1, per context kind */
    float stretch_lut[SMX_STRETCH_LUT];
    /* the current token */
    uint32_t ctx[SMX_BIN_CONTEXTS];
    uint32_t evidence_row, confidence_row, prev_tok;
    /* the current bit */
    uint32_t slot_i[SMX_BIN_CONTEXTS];
    float x[SMX_BIN_INPUTS];
    float *w1, *w2;
    float p1, p2, p_mix;
    uint32_t apm_cell[2];
    float apm_frac[2];
} smx_binmix;

int smx_binmix_init(smx_binmix *b, const smx_params *p);
void smx_binmix_free(smx_binmix *b);

/* What the binary stage knows about the next token before its first bit. */
typedef struct smx_binmix_context {
    const uint32_t *history; /* history[0] = previous token, history[1] the one before, ... */
    uint32_t n_hist;         /* how many of them exist (at most 8 are read) */
    int64_t match_tok;       /* the match model's prediction, -1 if none */
    uint32_t match_len;
    uint32_t top_tok;        /* the mixture's most likely token */
    uint32_t top_bucket;     /* bucket (0..7) of that token's probability */
    uint32_t evidence_set;   /* the token mixer's weight set (highest n-gram order seen, its count) */
} smx_binmix_context;

void smx_binmix_begin(smx_binmix *b, const smx_binmix_context *c);

/* Probability that the bit at tree node `node` (root 1, depth d) is a 1.
 * st_mix and st_ssm are the log-odds of a 1 under the token mixture and
 * under the SSM's softmax. */
float smx_binmix_predict(smx_binmix *b, uint32_t node, uint32_t d, float st_mix, float st_ssm);

/* Learns from the bit that came at the node of the last predict. */
void smx_binmix_update(smx_binmix *b, uint32_t bit);

#endif
