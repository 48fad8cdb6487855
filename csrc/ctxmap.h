/* Context maps: the statistics of hashed contexts, read bit by bit.
 *
 * A model sets a few contexts (64-bit hashes of whatever it looks at) at
 * each token boundary. For every context the map keeps, per group of four
 * levels of the id tree, a 16-byte slot: a check byte and the bit-history
 * states (bitstate.h) of the group's 15 nodes. Four slots share a 64-byte
 * bucket (one cache line); a context that finds no slot with its check byte
 * takes the one that has seen least. So a token costs one cache miss per
 * context per four bits, and those for the first group are prefetched
 * together at the token boundary.
 *
 * Besides the states, each context remembers the last token that followed
 * it and how many times in a row it did (a run): in a context where one
 * token always follows, that says more than the bit counts.
 *
 * Each context gives the mixer three inputs per bit: the stretched
 * probability its state maps to, the same probability on a linear scale
 * (which weighs confident states more), and the run's prediction when the
 * bits coded so far agree with the run's token (else 0). */
#ifndef SMX_CTXMAP_H
#define SMX_CTXMAP_H

#include <stdint.h>

#include "bitstate.h"
#include "table_alloc.h"

#define SMX_CTXMAP_MAX 16    /* contexts per map */
#define SMX_CTXMAP_INPUTS 3  /* mixer inputs per context */
#define SMX_RUN_CAP 15u      /* run lengths are counted up to this */

typedef struct smx_slot {
    uint8_t check;
    uint8_t state[15];       /* node k of the group's subtree (heap order, root 1) at state[k - 1] */
} smx_slot;

typedef struct smx_run {
    uint8_t check;
    uint8_t count;           /* times in a row tok followed (0: nothing yet) */
    uint16_t tok;
} smx_run;

typedef struct smx_ctxmap {
    const smx_states *states;
    uint32_t n;              /* contexts */
    uint32_t depth;          /* bits per token (tree depth) */
    smx_slot *slots;
    uint64_t bucket_mask;    /* buckets - 1; a bucket is 4 slots */
    smx_run *runs;
    uint64_t run_mask;
    smx_statemap sm;         /* n x 256: state -> p(1) */
    smx_statemap run_sm;     /* n x (SMX_RUN_CAP + 1) x 2: run length, predicted bit -> p(1) */
    /* the current token */
    uint64_t hash[SMX_CTXMAP_MAX];
    smx_run *run[SMX_CTXMAP_MAX];
    smx_slot *slot[SMX_CTXMAP_MAX];
    uint32_t group;          /* the group of tree levels slot[] belongs to */
    /* the current bit */
    uint32_t sm_i[SMX_CTXMAP_MAX];  /* state map entries read */
    uint32_t run_i[SMX_CTXMAP_MAX]; /* run map entries read, 0xffffffff: none */
    uint8_t *cell[SMX_CTXMAP_MAX];  /* the state byte read */
    uint32_t known;                 /* contexts whose state at this node is not empty */
    uint32_t pattern;               /* sum of 3^i * (0 empty, 1 one bit value seen, 2 both) */
} smx_ctxmap;

/* slot_bits: log2 of the slots (at least 2); run_bits: log2 of the run entries. */
int smx_ctxmap_init(smx_ctxmap *m, const smx_states *s, uint32_t n_contexts, uint32_t depth,
                    uint32_t slot_bits, uint32_t run_bits);
void smx_ctxmap_free(smx_ctxmap *m);
/* Adds the slot and run tables to l (table_alloc.h). */
void smx_ctxmap_tables(const smx_ctxmap *m, smx_table_list *l);
uint64_t smx_ctxmap_memory(uint32_t n_contexts, uint32_t slot_bits, uint32_t run_bits);

/* At a token boundary: context i of the next token is h. */
static inline void smx_ctxmap_set(smx_ctxmap *m, uint32_t i, uint64_t h) { m->hash[i] = h; }

/* After every context is set: asks for the buckets of the first group and
 * the runs. */
void smx_ctxmap_fetch(smx_ctxmap *m);
/* After smx_ctxmap_fetch: finds the slots of the first group and the runs.
 * A predictor with several maps fetches for all of them before it finds in
 * any, so that their cache misses overlap. */
void smx_ctxmap_begin(smx_ctxmap *m);

/* Adds the inputs for the bit at `node` (heap order, root 1) at tree depth
 * d to x (SMX_CTXMAP_INPUTS per context); sets m->known. */
void smx_ctxmap_predict(smx_ctxmap *m, uint32_t node, uint32_t d, float *x);

/* Learns the bit that came at the node of the last predict. */
void smx_ctxmap_update(smx_ctxmap *m, uint32_t bit);

/* The token is complete: updates the runs. */
void smx_ctxmap_end(smx_ctxmap *m, uint32_t tok);

#endif
