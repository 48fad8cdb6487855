/* Bit histories and the maps that read them.
 *
 * A context slot keeps one byte per tree node: a state summarising the bits
 * seen there, as a pair of counts (n0, n1) plus, once both bits have been
 * seen, which came last. The counts are nonstationary: when a bit comes, the
 * other bit's count is cut down (to about half above 2), so a context that
 * changes its mind is soon read as changed, and each count is capped (the
 * smaller the other count, the higher the cap), so 256 states suffice.
 *
 * A state is not a probability: what (n0=3, n1=0) means for the next bit
 * depends on the data. An adaptive map (smx_statemap) learns, per context
 * kind, the probability that follows each state, starting from the counts'
 * own estimate. The same map type also serves small direct contexts (run
 * lengths, match lengths), which is why its size is a parameter.
 *
 * Everything here is integer arithmetic, so every machine computes the
 * same values; only the stretch table is float, built once with smx_log. */
#ifndef SMX_BITSTATE_H
#define SMX_BITSTATE_H

#include <stdint.h>

#define SMX_STATES 256
#define SMX_P_BITS 22                /* map probabilities: 22-bit fractions */
#define SMX_STRETCH_BITS 12          /* stretch is tabulated at 12-bit resolution */
#define SMX_STRETCH_MAX 8.0f         /* stretched inputs lie in [-8, 8] */

typedef struct smx_states {
    uint8_t next[SMX_STATES][2];     /* state after a 0 / a 1 */
    uint8_t n0[SMX_STATES], n1[SMX_STATES];
    uint8_t total[SMX_STATES];       /* n0 + n1 (capped at 255): how much a slot has seen */
    uint32_t count;                  /* states in use (state 0: nothing seen yet) */
    float stretch[1u << SMX_STRETCH_BITS]; /* ln(p / (1 - p)) at the middle of each 12-bit cell */
} smx_states;

/* Builds the state machine (the same on every machine) and the stretch table. */
void smx_states_init(smx_states *s);

/* Log-odds of a 22-bit probability, clamped to [-SMX_STRETCH_MAX, SMX_STRETCH_MAX]. */
static inline float smx_stretch22(const smx_states *s, uint32_t p22) {
    return s->stretch[p22 >> (SMX_P_BITS - SMX_STRETCH_BITS)];
}

/* An adaptive probability per context: p << 10 | n, where n counts the
 * updates (up to a limit) and sets the step 1/(n + 1.5): fast at first,
 * then averaging over about `limit` observations. */
typedef struct smx_statemap {
    uint32_t *t;
    uint32_t size;
    uint32_t limit;
} smx_statemap;

/* Every entry starts at p = 1/2. Returns -1 if memory is short. */
int smx_statemap_init(smx_statemap *m, uint32_t size, uint32_t limit);
/* Entries are states of s: each starts at the probability its counts suggest. */
int smx_statemap_init_states(smx_statemap *m, const smx_states *s, uint32_t n_sets, uint32_t limit);
void smx_statemap_free(smx_statemap *m);
/* Bytes smx_statemap_init(_states) allocates. */
uint64_t smx_statemap_memory(uint32_t size);

static inline uint32_t smx_statemap_p(const smx_statemap *m, uint32_t i) { return m->t[i] >> 10; }

/* 2^16 * 2 / (2n + 3): the step for an entry updated n times before. */
extern const uint16_t smx_statemap_rate[1024];

static inline void smx_statemap_update(smx_statemap *m, uint32_t i, uint32_t bit) {
    uint32_t e = m->t[i];
    uint32_t n = e & 1023u;
    int32_t p = (int32_t)(e >> 10);
    int32_t target = bit ? (1 << SMX_P_BITS) - 1 : 0;
    p += (int32_t)(((int64_t)(target - p) * smx_statemap_rate[n]) >> 16);
    if (n < m->limit) n++;
    m->t[i] = ((uint32_t)p << 10) | n;
}

#endif
