/* The binary stage: codes a token as the path to its leaf in a binary tree
 * over the ids (most significant bit first) and predicts every bit on the
 * way from
 *   - the token-level mixture (tokenmix.h) and the SSM's own softmax, each
 *     summed over the two children's ids and given as log-odds;
 *   - the context model families (family.h), each a context map of hashed
 *     contexts over the bytes, words, lines and tokens seen so far;
 *   - the match model's token read bit by bit (model_match.h);
 *   - direct adaptive probabilities for byte orders 0-2 (model_direct.h);
 * mixed by a two-layer network (bitmixer.h) and refined by adaptive
 * probability maps (apm.h).
 *
 * Which families run is a parameter (bin_models), so the ablation can
 * switch each off; the file records it like every other parameter. */
#ifndef SMX_PREDICTOR_H
#define SMX_PREDICTOR_H

#include <stdint.h>

#include "apm.h"
#include "bitmixer.h"
#include "bitstate.h"
#include "family.h"
#include "history.h"
#include "kernels.h"
#include "model_direct.h"
#include "model_match.h"
#include "statesmix.h"

#define SMX_MAX_FAMILIES 8
#define SMX_PRED_APMS 3

/* bin_models bits */
#define SMX_BIN_ORDERS (1u << 0)
#define SMX_BIN_WORDS (1u << 1)
#define SMX_BIN_SPARSE (1u << 2)
#define SMX_BIN_RECORDS (1u << 3)
#define SMX_BIN_TOKENS (1u << 4)
#define SMX_BIN_MATCH (1u << 5)
#define SMX_BIN_INDIRECT (1u << 6)
#define SMX_BIN_NEST (1u << 7)
#define SMX_BIN_LINES (1u << 8)
#define SMX_BIN_ALL 0x1ffu

/* What the token-level stages tell the binary stage before a token's first bit. */
typedef struct smx_token_guess {
    int64_t match_tok;       /* -1: no match */
    uint32_t match_len;
    uint32_t match_bucket;
    uint32_t top_tok;        /* the mixture's favourite */
    uint32_t top_bucket;     /* 0..7, how sure it is */
    uint32_t evidence_set;   /* the token mixer's weight set (n-gram evidence) */
    const float *ssm_state;  /* the SSM's final hidden vector here (d_model values) */
} smx_token_guess;

typedef struct smx_predictor {
    uint32_t vocab, depth, models;
    smx_states states;
    const smx_history *hist;     /* the engine's: the tokens and bytes coded so far */
    uint32_t n_families;
    const smx_family *family[SMX_MAX_FAMILIES];
    smx_ctxmap map[SMX_MAX_FAMILIES];
    uint32_t orders_map;         /* index of the orders family's map, or n_families */
    smx_bitmatch match;
    smx_bitmixer mixer;
    smx_apm apm[SMX_PRED_APMS];
    uint32_t n_inputs;
    uint32_t in_hidden, n_hidden; /* where the SSM's hidden vector enters the mixer, and its length */
    float hidden_scale;
    const float *ssm_state;
    uint32_t evidence_set;
    int top_select;              /* bin_top_select: a weight set chosen by top_tok */
    uint32_t top_tok;            /* the token mixture's favourite for this token */
    smx_direct direct;
    uint32_t misses;             /* whether each of the last 16 bits was mispredicted, newest lowest */
    float p_final;
    float p_mix;
    float slope_ssm, slope_mix;  /* d st_out / d input at the last bit, 0 if clamped */
    int input_grads;             /* compute the slopes: only the SSM's coded-loss training reads them */
} smx_predictor;

int smx_predictor_init(smx_predictor *b, const smx_params *p, const smx_kernels *k,
                       const smx_history *hist);
void smx_predictor_free(smx_predictor *b);
/* Adds the context maps' tables to l (table_alloc.h); the mixer's weights
 * are written whole at init, so they are in already. */
void smx_predictor_tables(const smx_predictor *b, smx_table_list *l);
uint64_t smx_predictor_memory(const smx_params *p);

/* Before a token's first bit. */
void smx_predictor_begin(smx_predictor *b, const smx_token_guess *g);

/* Probability that the bit at node (heap order, root 1; depth d) is a 1.
 * st_mix and st_ssm: log-odds of a 1 under the token mixture and the SSM. */
float smx_predictor_p(smx_predictor *b, uint32_t node, uint32_t d, float st_mix, float st_ssm);

/* d(cost of the bit)/d(st_ssm) and d(...)/d(st_mix) once the bit is known
 * (call before smx_predictor_update): the mixer's error times its slope,
 * 0 where the input was clamped. They let the SSM learn from what is coded;
 * with ssm_coded = 0 the slopes are not computed and both are 0. */
void smx_predictor_input_grads(const smx_predictor *b, uint32_t bit, float *g_ssm, float *g_mix);

/* Learns the bit that came. */
void smx_predictor_update(smx_predictor *b, uint32_t bit);

/* After a token's last bit. */
void smx_predictor_end(smx_predictor *b, uint32_t tok);

#endif
