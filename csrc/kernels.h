/* The few loops that carry most of the arithmetic, in two implementations:
 * portable scalar C (kernels_scalar.c) and AVX2 (kernels_avx2.c).
 *
 * Both compute the same operations in the same order with the same
 * rounding, so they give bit-identical results:
 * - element-wise kernels (head_forward, outer_acc, axpy, adam, to_freq, the
 *   activations, scan) have no reduction across elements; each output is
 *   summed in a fixed order (AVX2 may run several outputs' sums side by
 *   side, never one output's sum in pieces);
 * - exp_sum keeps eight partial sums, element i going to lane i % 8, and
 *   combines the lanes in one fixed tree; elements past the last multiple
 *   of eight are then added one at a time;
 * - dot and sumsq keep 32 partial sums (four vectors of eight lanes, element
 *   i going to partial i % 32, so AVX2 has four independent add chains),
 *   then elements of a last incomplete group of 32 that fill whole lanes go
 *   to the first vector, the four vectors are added as (0+1)+(2+3), the
 *   lanes combined, and the final elements added one at a time;
 * - matvec_backward_dx and scan_backward are element-wise work plus dots,
 *   summed exactly as `dot` sums.
 * No kernel uses fused multiply-add. tests/test_kernels.py compares the two
 * implementations bit for bit. */
#ifndef SMX_KERNELS_H
#define SMX_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "smx_math.h"

typedef struct smx_kernels {
    const char *name;
    /* out[v] = sum_d W[d*stride + v] * x[d] for v in [v0, v1), d = 0..dm-1 in order. */
    void (*head_forward)(const float *W, size_t stride, const float *x, size_t dm,
                         float *out, size_t v0, size_t v1);
    /* ex[i] = smx_exp(z[i] - zmax); returns sum(ex) and sum(ex * (z - zmax)). */
    void (*exp_sum)(const float *z, float zmax, float *ex, size_t n,
                    float *sum_ex, float *sum_ex_z);
    /* y[i] = smx_exp(x[i]) */
    void (*exp_array)(const float *x, float *y, size_t n);
    /* y[i] = smx_exp(x[i] * w[i]) */
    void (*exp_mul)(const float *x, const float *w, float *y, size_t n);
    /* y[i] = smx_silu(x[i]) = x[i] * (1 / (1 + smx_exp(-x[i]))) */
    void (*silu)(const float *x, float *y, size_t n);
    /* y[i] = smx_softplus(x[i]), smx_sigmoid(x[i]), smx_silu_grad(x[i]) */
    void (*softplus)(const float *x, float *y, size_t n);
    void (*sigmoid)(const float *x, float *y, size_t n);
    void (*silu_grad)(const float *x, float *y, size_t n);
    /* The selective scan of one position: for each state j, in order, and
     * each channel i < n: h = decay[j][i] * h_live[j][i] + B[j] * u[i];
     * h_live[j][i] = h_out[j][i] = h; y[i] += C[j] * h. Rows are n apart. */
    void (*scan)(const float *decay, float *h_live, float *h_out, const float *u, const float *B,
                 const float *C, float *y, size_t n, size_t states);
    float (*max)(const float *x, size_t n);
    float (*dot)(const float *a, const float *b, size_t n);
    /* out[0] = dot(a0, b, n), out[1] = dot(a1, b, n): two rows against one
     * vector, each summed exactly as dot sums it */
    void (*dot2)(const float *a0, const float *a1, const float *b, size_t n, float out[2]);
    float (*sumsq)(const float *x, size_t n);
    /* y[i] += a * x[i] */
    void (*axpy)(float *y, float a, const float *x, size_t n);
    /* The input's gradient in the backward pass of out = Wt^T x for a small
     * input-major matrix Wt (cols rows of `rows` weights): for each c,
     * dx[c] = dx[c] + dot(Wt + c*rows, dout, rows). The weights' gradient is
     * outer_acc's, once per chunk. */
    void (*matvec_backward_dx)(const float *Wt, const float *dout, float *dx, size_t rows, size_t cols);
    /* The backward pass of one position of the selective scan (see `scan`),
     * for each state j in order, rows n apart, dhij scratch of n:
     *   dhv = dh[j][i] + dy[i] * C[j]
     *   d_arg = (dhv * h_prev[j][i]) * decay[j][i]
     *   d_dt[i] += d_arg * a_neg[j][i]
     *   ga[j][i] += (d_arg * dt[i]) * a_neg[j][i]
     *   d_dta[i] += dhv * B[j]
     *   dh[j][i] = dhv * decay[j][i];  dhij[i] = dhv
     * with dC[j] = dot(dy, h[j], n) before the loop over i and
     * dB[j] = dot(dhij, dta, n) after it. */
    void (*scan_backward)(const float *dy, const float *h, const float *h_prev, const float *decay,
                          const float *a_neg, const float *dt, const float *dta, const float *B,
                          const float *C, float *dh, float *d_dt, float *d_dta, float *ga,
                          float *dB, float *dC, float *dhij, size_t n, size_t states);
    /* dW[d*stride + v] = dW[d*stride + v] + X[t*xstride + d] * G[t*gstride + v]
     * for t = 0..n-1 in order, v in [v0, v1) and d = 0..dm-1: a weight
     * gradient summed over a chunk's positions. The row strides may be
     * negative: the layer's backward pass adds its positions last to first. */
    void (*outer_acc)(float *dW, size_t stride, const float *X, ptrdiff_t xstride, size_t dm,
                      const float *G, ptrdiff_t gstride, size_t n, size_t v0, size_t v1);
    /* One Adam step on n parameters with gradient g * gscale, from theta_in
     * into theta_out (the same array, or the other parameter buffer: the
     * step aside then needs no copy first); lr already carries the bias
     * correction. m NULL: no momentum (b1 = 0, every level's setting), so
     * the first moment is the gradient itself and is neither read nor kept
     * (smx_adam_one_nomom says why the bytes are the same). */
    void (*adam)(float *theta_out, const float *theta_in, const float *g, float *m, float *v, size_t n,
                 float lr, float b1, float b2, float eps, float gscale);
    /* freq[i] = 1 + (uint32_t)(ex[i] * k) */
    void (*to_freq)(const float *ex, float k, uint32_t *freq, size_t n);
} smx_kernels;

extern const smx_kernels smx_kernels_scalar;
extern const smx_kernels smx_kernels_avx2;

/* Adam at b1 = 0 for element i: the scalar kernel's body and the AVX2
 * kernel's tail. v never depended on m. With m kept, the first moment would
 * be 0 * m + 1 * g: g itself, except that a gradient of exactly -0 against a
 * non-negative m gave +0 where this gives -0. That zero step changes only a
 * parameter that is exactly -0 (-0 - -0 = +0), and no initial value is: a
 * parameter becomes -0 only when a step lands it in the negative subnormal
 * range, which the engine's flush-to-zero mode turns into -0 (|theta| below
 * 1.2e-38). Short of that, the parameters and v are bit for bit those of
 * the kept-m step (tests/c/kernelcheck.c compares them; 1 MB and 4.15 MB of
 * enwik8 wrote the same files). */
static inline void smx_adam_one_nomom(float *theta_out, const float *theta_in, const float *g, float *v,
                                      size_t i, float lr, float b2, float c2, float eps, float gscale) {
    float gi = g[i] * gscale;
    v[i] = b2 * v[i] + c2 * (gi * gi);
    theta_out[i] = theta_in[i] - lr * gi / (smx_sqrt(v[i]) + eps);
}

/* Combines eight lane sums in the one order both implementations use. */
static inline float smx_lane_combine(const float a[8]) {
    float t0 = a[0] + a[4], t1 = a[1] + a[5], t2 = a[2] + a[6], t3 = a[3] + a[7];
    float u0 = t0 + t2, u1 = t1 + t3;
    return u0 + u1;
}

/* One channel of scan_backward: the scalar kernel's body and the AVX2
 * kernel's tail, so both spell the arithmetic once. */
static inline void smx_scan_backward_one(const float *dy, const float *h_prev, const float *decay,
                                         const float *a_neg, const float *dt, float cj, float bj,
                                         float *dh, float *d_dt, float *d_dta, float *ga,
                                         float *dhij, size_t r, size_t i) {
    float dhv = dh[r + i] + dy[i] * cj;
    float d_arg = (dhv * h_prev[r + i]) * decay[r + i]; /* d(dt * A) */
    d_dt[i] = d_dt[i] + d_arg * a_neg[r + i];
    ga[r + i] = ga[r + i] + (d_arg * dt[i]) * a_neg[r + i];
    d_dta[i] = d_dta[i] + dhv * bj;
    dh[r + i] = dhv * decay[r + i];
    dhij[i] = dhv;
}

/* Combines the 32 partial sums of dot/sumsq in their fixed order. */
static inline float smx_partials_combine(const float p[32]) {
    float v[8];
    for (int l = 0; l < 8; l++) v[l] = (p[l] + p[8 + l]) + (p[16 + l] + p[24 + l]);
    return smx_lane_combine(v);
}

#endif
