/* The token mixer turns the SSM's logits and the n-gram statistics into the
 * distribution the coder uses:
 *
 *   logit[j] = w_s * ssm[j] + s(H) * ( sum_k w_k * f_k(j) + w_u * log(1 + unigram[j]) )
 *              + m_len * [j == token predicted by the match model]
 *
 * f_k(j) = log(1 + count_k[j] / alpha_k), or with mix_ssm_prior
 * log(1 + count_k[j] / (alpha_k V p(j))), p the SSM's probability of j: the
 * increment a Dirichlet prior of strength alpha_k V centred on the SSM gets
 * from the counts, so a count moves a token the SSM did not expect further
 * than one it did (with a uniform SSM both are the same).
 *
 * s(H) = clip(0.4 + 0.6 H / 5.5, 0.2, 2.5) grows with the SSM's entropy H, so
 * the counts speak louder when the SSM is unsure. The weights w start at the
 * published lambdas and are learned online from the coding loss by SGD. The
 * weight set in force is chosen by the highest order whose context has been
 * seen and by how often it has been seen, and a learned gate lets the SSM's
 * hidden state shift every weight (contextual mixing). The match bonus m_len
 * is learned per match-length bucket. The SSM's weight w_s is 1, or with
 * mix_ssm_weight learned like the orders' weights: the SSM trains on its own
 * loss and comes out more confident than the mixture can use (w_s settles
 * near 0.65 on enwik8). */
#ifndef SMX_TOKENMIX_H
#define SMX_TOKENMIX_H

#include <stdint.h>

#include "match.h"
#include "ngram.h"

#define SMX_MIX_CONF_BUCKETS 4

typedef struct smx_tokenmix {
    uint32_t V, Vp, DM, n_orders, n_sets, n_weights;
    float *w;       /* n_sets x n_weights: one per order, the unigram weight, then
                       with ssm_weighted the SSM's */
    int ssm_weighted;
    const float *ssm; /* the SSM's logits at the current position */
    float *gate;    /* n_weights x DM: how the SSM's hidden state shifts each weight */
    float *w_eff;   /* n_weights: weights in force at the current position */
    float *grad;    /* n_weights: scratch */
    const float *hidden; /* the SSM's final hidden state at the current position */
    float lr;
    uint32_t set;   /* weight set used for the current position */
    float scale;    /* s(H) of the current position */
    float *bias;    /* Vp */
    float match_w[SMX_MATCH_BUCKETS]; /* bonus of the match model's token, by match length */
    int64_t match_tok;               /* token the match model predicts here, or -1 */
    uint32_t match_bucket;
    /* mix_ssm_prior: the features at the current position (n_orders x Vp, an
     * order's row in its list's order, for learn) and per order 1 / (alpha V) */
    int ssm_prior;
    float *feat;
    float inv_alpha_v[SMX_MAX_ORDERS];
    float p_floor;  /* the least SSM probability a feature divides by */
} smx_tokenmix;

int smx_tokenmix_init(smx_tokenmix *x, const smx_params *p);
/* Bytes smx_tokenmix_init allocates for p. */
uint64_t smx_tokenmix_memory(const smx_params *p);
void smx_tokenmix_free(smx_tokenmix *x);

/* out = mixed logits (Vp entries; padding copied from ssm). */
void smx_tokenmix_mix(smx_tokenmix *x, const smx_ngram *g, const smx_match *mm, const float *hidden,
                   const float *ssm, const float *ssm_probs, float entropy, float *out);

/* One SGD step on the weights used for this position. ex[j] / sum is the
 * mixed probability of token j; tok is the token that came. */
void smx_tokenmix_learn(smx_tokenmix *x, const smx_ngram *g, const float *ex, float sum, uint32_t tok);

/* d logit[j] / d ssm[j] at the current position: the SSM's weight in force. */
float smx_tokenmix_ssm_weight(const smx_tokenmix *x);

#endif
