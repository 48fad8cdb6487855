/* The mixer turns the SSM's logits and the n-gram statistics into the
 * distribution the coder uses:
 *
 *   logit[j] = ssm[j] + s(H) * ( sum_k w_k * log(1 + count_k[j] / alpha_k)
 *                                + w_u * log(1 + unigram[j]) )
 *
 * s(H) = clip(0.4 + 0.6 H / 5.5, 0.2, 2.5) grows with the SSM's entropy H, so
 * the counts speak louder when the SSM is unsure. The weights w start at the
 * published lambdas and are learned online from the coding loss by SGD, one
 * weight set per "highest order whose context has been seen". */
#ifndef SMX_MIXER_H
#define SMX_MIXER_H

#include <stdint.h>

#include "ngram.h"

typedef struct smx_mixer {
    uint32_t V, Vp, n_orders, n_sets, n_weights;
    float *w;       /* n_sets x n_weights: one per order, then the unigram weight */
    float lr;
    uint32_t set;   /* weight set used for the current position */
    float scale;    /* s(H) of the current position */
    float *bias;    /* Vp */
} smx_mixer;

int smx_mixer_init(smx_mixer *x, const smx_params *p);
void smx_mixer_free(smx_mixer *x);

/* out = mixed logits (Vp entries; padding copied from ssm). */
void smx_mixer_mix(smx_mixer *x, const smx_ngram *g, const float *ssm, float entropy, float *out);

/* One SGD step on the weights used for this position. ex[j] / sum is the
 * mixed probability of token j; tok is the token that came. */
void smx_mixer_learn(smx_mixer *x, const smx_ngram *g, const float *ex, float sum, uint32_t tok);

#endif
