/* The AVX2 kernels against their scalar twins on random inputs of every
 * length from 1 to 100, so the tails past the last multiple of 8 and of 32
 * are covered (run by tests/test_kernels.py). Results must be identical bit
 * for bit; prints the first mismatch and exits 1, or prints "ok <checks>".
 * Exits 77 when the CPU has no AVX2. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#define MAXN 100
#define STATES 5

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static float rnd(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)(rng_state >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

static void fill(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = rnd();
}

static long checks = 0;

static void same(const char *kernel, size_t n, const float *a, const float *b, size_t len) {
    checks++;
    if (memcmp(a, b, len * sizeof(float)) == 0) return;
    for (size_t i = 0; i < len; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) {
            printf("%s n=%zu: element %zu scalar %.9g avx2 %.9g\n", kernel, n, i, a[i], b[i]);
            exit(1);
        }
}

/* Every input and output array, once per implementation. */
typedef struct arrays {
    float in[8][MAXN * STATES];
    float out[8][MAXN * STATES];
    float s[4];
} arrays;

static void check_length(const smx_kernels *S, const smx_kernels *A, size_t n) {
    static arrays x, y;
    for (int k = 0; k < 8; k++) fill(x.in[k], MAXN * STATES);
    for (int k = 0; k < 8; k++) fill(x.out[k], MAXN * STATES);
    memcpy(&y, &x, sizeof x);

    x.s[0] = S->dot(x.in[0], x.in[1], n);
    y.s[0] = A->dot(y.in[0], y.in[1], n);
    x.s[1] = S->sumsq(x.in[2], n);
    y.s[1] = A->sumsq(y.in[2], n);
    x.s[2] = S->max(x.in[3], n);
    y.s[2] = A->max(y.in[3], n);
    same("dot/sumsq/max", n, x.s, y.s, 3);
    float pair_s[2], pair_a[2], single[2];
    S->dot2(x.in[0], x.in[2], x.in[1], n, pair_s);
    A->dot2(y.in[0], y.in[2], y.in[1], n, pair_a);
    single[0] = S->dot(x.in[0], x.in[1], n);
    single[1] = S->dot(x.in[2], x.in[1], n);
    same("dot2", n, pair_s, pair_a, 2);
    same("dot2 against dot", n, single, pair_a, 2); /* each of its sums is dot's */

    S->axpy(x.out[0], 0.37f, x.in[0], n);
    A->axpy(y.out[0], 0.37f, y.in[0], n);
    same("axpy", n, x.out[0], y.out[0], n);

    S->head_forward(x.in[0], MAXN, x.in[1], STATES, x.out[1], 0, n);
    A->head_forward(y.in[0], MAXN, y.in[1], STATES, y.out[1], 0, n);
    same("head_forward", n, x.out[1], y.out[1], n);

    S->exp_sum(x.in[4], 0.5f, x.out[2], n, &x.s[0], &x.s[1]);
    A->exp_sum(y.in[4], 0.5f, y.out[2], n, &y.s[0], &y.s[1]);
    same("exp_sum", n, x.out[2], y.out[2], n);
    same("exp_sum sums", n, x.s, y.s, 2);

    S->exp_mul(x.in[4], x.in[5], x.out[3], n);
    A->exp_mul(y.in[4], y.in[5], y.out[3], n);
    same("exp_mul", n, x.out[3], y.out[3], n);
    S->silu(x.in[5], x.out[4], n);
    A->silu(y.in[5], y.out[4], n);
    same("silu", n, x.out[4], y.out[4], n);

    /* wide inputs, so softplus's three branches (below -20, above 20) are taken */
    for (size_t i = 0; i < n; i++) x.in[7][i] = y.in[7][i] = 30.0f * x.in[5][i];
    S->softplus(x.in[7], x.out[4], n);
    A->softplus(y.in[7], y.out[4], n);
    same("softplus", n, x.out[4], y.out[4], n);
    S->sigmoid(x.in[7], x.out[4], n);
    A->sigmoid(y.in[7], y.out[4], n);
    same("sigmoid", n, x.out[4], y.out[4], n);
    S->silu_grad(x.in[7], x.out[4], n);
    A->silu_grad(y.in[7], y.out[4], n);
    same("silu_grad", n, x.out[4], y.out[4], n);
    fill(x.in[7], MAXN * STATES);
    memcpy(y.in[7], x.in[7], sizeof x.in[7]);

    /* matvec_backward_dx: `cols` = STATES columns of n rows */
    S->matvec_backward_dx(x.in[0], x.in[2], x.out[6], n, STATES);
    A->matvec_backward_dx(y.in[0], y.in[2], y.out[6], n, STATES);
    same("matvec_backward_dx", n, x.out[6], y.out[6], STATES);

    /* outer_acc over 4 positions of 3 inputs, first to last and last to first */
    S->outer_acc(x.out[7], MAXN, x.in[0], 3, 3, x.in[1], MAXN, 4, 0, n);
    A->outer_acc(y.out[7], MAXN, y.in[0], 3, 3, y.in[1], MAXN, 4, 0, n);
    same("outer_acc", n, x.out[7], y.out[7], 3 * MAXN);
    S->outer_acc(x.out[5], MAXN, x.in[0] + 9, -3, 3, x.in[1] + 3 * MAXN, -MAXN, 4, 0, n);
    A->outer_acc(y.out[5], MAXN, y.in[0] + 9, -3, 3, y.in[1] + 3 * MAXN, -MAXN, 4, 0, n);
    same("outer_acc, last to first", n, x.out[5], y.out[5], 3 * MAXN);

    S->scan(x.in[3], x.out[0], x.out[1], x.in[4], x.in[5], x.in[6], x.out[2], n, STATES);
    A->scan(y.in[3], y.out[0], y.out[1], y.in[4], y.in[5], y.in[6], y.out[2], n, STATES);
    for (int k = 0; k < 3; k++) same("scan", n, x.out[k], y.out[k], n * STATES);

    /* scan_backward: inputs dy h h_prev decay a_neg dt dta B C; outputs dh d_dt d_dta ga dB dC dhij */
    float *xi[9] = {x.in[0], x.in[1], x.in[2], x.in[3], x.in[4], x.in[5], x.in[6], x.in[7], x.in[7] + STATES};
    float *yi[9] = {y.in[0], y.in[1], y.in[2], y.in[3], y.in[4], y.in[5], y.in[6], y.in[7], y.in[7] + STATES};
    S->scan_backward(xi[0], xi[1], xi[2], xi[3], xi[4], xi[5], xi[6], xi[7], xi[8], x.out[0], x.out[1],
                     x.out[2], x.out[3], x.out[4], x.out[4] + STATES, x.out[5], n, STATES);
    A->scan_backward(yi[0], yi[1], yi[2], yi[3], yi[4], yi[5], yi[6], yi[7], yi[8], y.out[0], y.out[1],
                     y.out[2], y.out[3], y.out[4], y.out[4] + STATES, y.out[5], n, STATES);
    same("scan_backward dh", n, x.out[0], y.out[0], n * STATES);
    same("scan_backward d_dt", n, x.out[1], y.out[1], n);
    same("scan_backward d_dta", n, x.out[2], y.out[2], n);
    same("scan_backward ga", n, x.out[3], y.out[3], n * STATES);
    same("scan_backward dB dC", n, x.out[4], y.out[4], 2 * STATES);
    same("scan_backward dhij", n, x.out[5], y.out[5], n);

    /* adam: theta, m and v; v (second moments) must be non-negative */
    for (size_t i = 0; i < n; i++) x.out[2][i] = x.out[2][i] * x.out[2][i];
    memcpy(y.out, x.out, 3 * sizeof x.out[0]);
    S->adam(x.out[0], x.out[0], x.in[0], x.out[1], x.out[2], n, 0.01f, 0.5f, 0.999f, 1e-8f, 0.5f);
    A->adam(y.out[0], y.out[0], y.in[0], y.out[1], y.out[2], n, 0.01f, 0.5f, 0.999f, 1e-8f, 0.5f);
    for (int k = 0; k < 3; k++) same("adam", n, x.out[k], y.out[k], n);
    /* and out of place, as the step aside runs: theta_in untouched */
    S->adam(x.out[3], x.out[0], x.in[0], x.out[1], x.out[2], n, 0.01f, 0.5f, 0.999f, 1e-8f, 0.5f);
    A->adam(y.out[3], y.out[0], y.in[0], y.out[1], y.out[2], n, 0.01f, 0.5f, 0.999f, 1e-8f, 0.5f);
    for (int k = 0; k < 4; k++) same("adam aside", n, x.out[k], y.out[k], n);

    /* without momentum (b1 = 0): with m NULL the parameters and v are those
     * of the step that keeps m, in both implementations */
    for (size_t i = 0; i < n; i++) {
        x.out[4][i] = x.out[0][i];
        x.out[5][i] = x.out[2][i];
    }
    memcpy(y.out, x.out, 6 * sizeof x.out[0]);
    S->adam(x.out[0], x.out[0], x.in[1], x.out[1], x.out[2], n, 0.01f, 0.0f, 0.999f, 1e-8f, 0.5f);
    S->adam(x.out[4], x.out[4], x.in[1], NULL, x.out[5], n, 0.01f, 0.0f, 0.999f, 1e-8f, 0.5f);
    same("adam without momentum, scalar: theta", n, x.out[0], x.out[4], n);
    same("adam without momentum, scalar: v", n, x.out[2], x.out[5], n);
    A->adam(y.out[4], y.out[4], y.in[1], NULL, y.out[5], n, 0.01f, 0.0f, 0.999f, 1e-8f, 0.5f);
    same("adam without momentum: theta", n, x.out[4], y.out[4], n);
    same("adam without momentum: v", n, x.out[5], y.out[5], n);
    A->adam(y.out[3], y.out[4], y.in[1], NULL, y.out[5], n, 0.01f, 0.0f, 0.999f, 1e-8f, 0.5f);
    S->adam(x.out[3], x.out[4], x.in[1], NULL, x.out[5], n, 0.01f, 0.0f, 0.999f, 1e-8f, 0.5f);
    same("adam without momentum, aside", n, x.out[3], y.out[3], n);
}

int main(void) {
    if (!__builtin_cpu_supports("avx2")) {
        printf("no avx2\n");
        return 77;
    }
    for (int round = 0; round < 20; round++)
        for (size_t n = 1; n <= MAXN; n++) check_length(&smx_kernels_scalar, &smx_kernels_avx2, n);
    printf("ok %ld\n", checks);
    return 0;
}
