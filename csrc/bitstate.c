#include "bitstate.h"

#include <stdlib.h>
#include <string.h>

#include "smx_math.h"

/* The step table, a compile-time constant: 2^17 / (2n + 3). */
#define RATE(n) (uint16_t)(131072u / (2u * (n) + 3u))
#define RATE4(n) RATE(n), RATE((n) + 1), RATE((n) + 2), RATE((n) + 3)
#define RATE16(n) RATE4(n), RATE4((n) + 4), RATE4((n) + 8), RATE4((n) + 12)
#define RATE64(n) RATE16(n), RATE16((n) + 16), RATE16((n) + 32), RATE16((n) + 48)
#define RATE256(n) RATE64(n), RATE64((n) + 64), RATE64((n) + 128), RATE64((n) + 192)
const uint16_t smx_statemap_rate[1024] = {RATE256(0), RATE256(256), RATE256(512), RATE256(768)};

/* Which count pairs are states: with the smaller count a, the larger may be
 * at most cap[a]. A context seen 40 times with one outcome is worth telling
 * apart from one seen 20 times, but once both outcomes have been seen, long
 * counts say little more than their ratio. */
static const uint8_t CAP[6] = {40, 24, 12, 8, 6, 5};
#define SMALLER_MAX 5u

/* What a count becomes when the other bit arrives. */
static uint32_t discount(uint32_t n) { return n <= 2 ? n : (n + 2) / 2; }

/* A state before numbering: counts and the last bit (-1 while only one kind was seen). */
typedef struct shape {
    uint8_t n0, n1;
    int8_t last;
} shape;

static shape after(shape s, uint32_t bit) {
    uint32_t n[2] = {s.n0, s.n1};
    n[bit] = n[bit] + 1;
    n[!bit] = discount(n[!bit]);
    /* back inside the set of states: the smaller count first, then the larger */
    uint32_t lo = n[0] <= n[1] ? 0 : 1, hi = !lo;
    if (n[lo] > SMALLER_MAX) n[lo] = SMALLER_MAX;
    if (n[hi] > CAP[n[lo]]) n[hi] = CAP[n[lo]];
    shape r = {(uint8_t)n[0], (uint8_t)n[1], (int8_t)(n[0] && n[1] ? (int)bit : -1)};
    return r;
}

static int same(shape a, shape b) { return a.n0 == b.n0 && a.n1 == b.n1 && a.last == b.last; }

void smx_states_init(smx_states *s) {
    memset(s, 0, sizeof *s);
    /* Number the reachable states breadth-first from "nothing seen", so a
     * state's number grows with how much its slot has seen. */
    shape found[SMX_STATES];
    uint32_t n = 1;
    found[0] = (shape){0, 0, -1};
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t bit = 0; bit < 2; bit++) {
            shape t = after(found[i], bit);
            uint32_t j = 0;
            while (j < n && !same(found[j], t)) j++;
            if (j == n) {
                if (n == SMX_STATES) abort(); /* the caps above are chosen so this cannot happen */
                found[n++] = t;
            }
            s->next[i][bit] = (uint8_t)j;
        }
    }
    s->count = n;
    for (uint32_t i = 0; i < n; i++) {
        s->n0[i] = found[i].n0;
        s->n1[i] = found[i].n1;
        uint32_t t = (uint32_t)found[i].n0 + found[i].n1;
        s->total[i] = (uint8_t)(t < 255 ? t : 255);
    }
    const uint32_t cells = 1u << SMX_STRETCH_BITS;
    for (uint32_t i = 0; i < cells; i++) {
        float p = ((float)i + 0.5f) / (float)cells;
        float v = smx_log(p) - smx_log(1.0f - p);
        s->stretch[i] = v < -SMX_STRETCH_MAX ? -SMX_STRETCH_MAX : (v > SMX_STRETCH_MAX ? SMX_STRETCH_MAX : v);
    }
}

uint64_t smx_statemap_memory(uint32_t size) { return (uint64_t)size * sizeof(uint32_t); }

int smx_statemap_init(smx_statemap *m, uint32_t size, uint32_t limit) {
    m->t = malloc(smx_statemap_memory(size));
    m->size = size;
    m->limit = limit < 1023 ? limit : 1023;
    if (!m->t) return -1;
    for (uint32_t i = 0; i < size; i++) m->t[i] = (1u << (SMX_P_BITS - 1)) << 10;
    return 0;
}

int smx_statemap_init_states(smx_statemap *m, const smx_states *s, uint32_t n_sets, uint32_t limit) {
    if (smx_statemap_init(m, n_sets * SMX_STATES, limit)) return -1;
    for (uint32_t i = 0; i < m->size; i++) {
        uint32_t st = i % SMX_STATES;
        /* (n1 + 1/4) / (n + 1/2), in 22 bits */
        uint64_t num = 4u * (uint64_t)s->n1[st] + 1u, den = 4u * ((uint64_t)s->n0[st] + s->n1[st]) + 2u;
        uint32_t p = (uint32_t)((num << SMX_P_BITS) / den);
        if (p >= (1u << SMX_P_BITS)) p = (1u << SMX_P_BITS) - 1;
        m->t[i] = p << 10;
    }
    return 0;
}

void smx_statemap_free(smx_statemap *m) {
    free(m->t);
    m->t = NULL;
}
