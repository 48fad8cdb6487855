/* AVX2 kernels, compiled with a per-function target attribute so the rest of
 * the build stays plain x86-64 and the choice is made at run time. Each one
 * mirrors its scalar twin in kernels_scalar.c operation for operation: no
 * FMA, same lane assignment, same lane-combine tree, same tails. */
#include <immintrin.h>

#include "kernels.h"
#include "smx_math.h"

#define AVX2 __attribute__((target("avx2")))

AVX2 static inline __m256 exp8(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(SMX_EXP_LO));
    x = _mm256_min_ps(x, _mm256_set1_ps(SMX_EXP_HI));
    const __m256 magic = _mm256_set1_ps(SMX_ROUND_MAGIC);
    __m256 n = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(SMX_LOG2E)), magic), magic);
    __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(SMX_LN2_HI)));
    r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(SMX_LN2_LO)));
    __m256 p = _mm256_set1_ps(SMX_EXP_C0);
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(SMX_EXP_C1));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(SMX_EXP_C2));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(SMX_EXP_C3));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(SMX_EXP_C4));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(SMX_EXP_C5));
    p = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(p, r), r), r), _mm256_set1_ps(1.0f));
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(ni, _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

/* smx_log, operation for operation. */
AVX2 static inline __m256 log8(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(1e-38f)); /* NaN and x <= 1e-38 become 1e-38 */
    const __m256i u = _mm256_castps_si256(x);
    __m256i e = _mm256_sub_epi32(_mm256_and_si256(_mm256_srli_epi32(u, 23), _mm256_set1_epi32(0xff)),
                                 _mm256_set1_epi32(127));
    __m256 m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(u, _mm256_set1_epi32(0x007fffff)),
                                                   _mm256_set1_epi32(0x3f800000)));
    const __m256 big = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
    m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
    e = _mm256_sub_epi32(e, _mm256_castps_si256(big)); /* the mask is -1 where e grows by one */
    const __m256 f = _mm256_sub_ps(m, _mm256_set1_ps(1.0f));
    const __m256 z = _mm256_mul_ps(f, f);
    __m256 p = _mm256_set1_ps(7.0376836292e-2f);
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(-1.1514610310e-1f));
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(1.1676998740e-1f));
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(-1.2420140846e-1f));
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(1.4249322787e-1f));
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(-1.6668057665e-1f));
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(2.0000714765e-1f));
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(-2.4999993993e-1f));
    p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(3.3333331174e-1f));
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, f), z);
    const __m256 ef = _mm256_cvtepi32_ps(e);
    y = _mm256_add_ps(y, _mm256_mul_ps(ef, _mm256_set1_ps(-2.12194440e-4f)));
    y = _mm256_add_ps(y, _mm256_mul_ps(_mm256_set1_ps(-0.5f), z));
    return _mm256_add_ps(_mm256_add_ps(f, y), _mm256_mul_ps(ef, _mm256_set1_ps(0.693359375f)));
}

/* smx_sigmoid: 1 / (1 + exp(-x)); the sign flip is exact. */
AVX2 static inline __m256 sigmoid8(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_xor_ps(x, _mm256_set1_ps(-0.0f)))));
}

/* smx_lane_combine in registers: (a0+a4, a1+a5, a2+a6, a3+a7), then
 * (t0+t2, t1+t3), then their sum; the same additions in the same order. */
AVX2 static inline float lanes_combine(__m256 acc) {
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    __m128 u = _mm_add_ps(t, _mm_movehl_ps(t, t));
    return _mm_cvtss_f32(_mm_add_ss(u, _mm_shuffle_ps(u, u, 1)));
}

/* Lanes [0, n) of a vector set, for the last, partial vector of a row. */
AVX2 static inline __m256i lane_mask(size_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Up to twelve vectors of outputs at once: each output is still one chain
 * of additions in order, but twelve chains run side by side, so the loop
 * waits on the adder's latency twelve times less often. Lanes past v1 are
 * masked, computed like the others and never stored. */
#define HEAD_VECS 12

/* Splits [v0, v1) into blocks of at most HEAD_VECS vectors and runs
 * BLOCK(v, end, nv) on each, with nv a literal, so that the block's
 * accumulator array (an always_inline function) is unrolled into registers. */
#define FOR_EACH_VECTOR_BLOCK(v0, v1, BLOCK)                      \
    for (size_t v_ = (v0), end_; v_ < (v1); v_ = end_) {          \
        size_t nv_ = ((v1) - v_ + 7) / 8;                         \
        if (nv_ > HEAD_VECS) nv_ = HEAD_VECS;                     \
        end_ = v_ + 8 * nv_ < (v1) ? v_ + 8 * nv_ : (v1);         \
        switch (nv_) {                                            \
        case 1: BLOCK(v_, end_, 1); break;                        \
        case 2: BLOCK(v_, end_, 2); break;                        \
        case 3: BLOCK(v_, end_, 3); break;                        \
        case 4: BLOCK(v_, end_, 4); break;                        \
        case 5: BLOCK(v_, end_, 5); break;                        \
        case 6: BLOCK(v_, end_, 6); break;                        \
        case 7: BLOCK(v_, end_, 7); break;                        \
        case 8: BLOCK(v_, end_, 8); break;                        \
        case 9: BLOCK(v_, end_, 9); break;                        \
        case 10: BLOCK(v_, end_, 10); break;                      \
        case 11: BLOCK(v_, end_, 11); break;                      \
        default: BLOCK(v_, end_, HEAD_VECS); break;               \
        }                                                         \
    }
AVX2 static inline __attribute__((always_inline)) void head_forward_block(
    const float *W, size_t stride, const float *x, size_t dm, float *out, size_t v, size_t v1,
    const int nv) {
    __m256 acc[HEAD_VECS];
    for (int q = 0; q < nv; q++) acc[q] = _mm256_setzero_ps();
    const __m256i last = lane_mask(v1 - (v + 8 * (size_t)(nv - 1)));
    for (size_t d = 0; d < dm; d++) {
        const float *w = W + d * stride + v;
        const __m256 xd = _mm256_set1_ps(x[d]);
        for (int q = 0; q + 1 < nv; q++)
            acc[q] = _mm256_add_ps(acc[q], _mm256_mul_ps(_mm256_loadu_ps(w + 8 * q), xd));
        acc[nv - 1] = _mm256_add_ps(acc[nv - 1], _mm256_mul_ps(_mm256_maskload_ps(w + 8 * (nv - 1), last), xd));
    }
    for (int q = 0; q + 1 < nv; q++) _mm256_storeu_ps(out + v + 8 * q, acc[q]);
    _mm256_maskstore_ps(out + v + 8 * (nv - 1), last, acc[nv - 1]);
}

AVX2 static void head_forward_avx2(const float *W, size_t stride, const float *x, size_t dm,
                                   float *out, size_t v0, size_t v1) {
#define HEAD_BLOCK(v, end, nv) head_forward_block(W, stride, x, dm, out, v, end, nv)
    FOR_EACH_VECTOR_BLOCK(v0, v1, HEAD_BLOCK)
#undef HEAD_BLOCK
}

AVX2 static void exp_sum_avx2(const float *z, float zmax, float *ex, size_t n,
                              float *sum_ex, float *sum_ex_z) {
    __m256 s = _mm256_setzero_ps(), sz = _mm256_setzero_ps();
    __m256 vmax = _mm256_set1_ps(zmax);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(z + i), vmax);
        __m256 e = exp8(d);
        _mm256_storeu_ps(ex + i, e);
        s = _mm256_add_ps(s, e);
        sz = _mm256_add_ps(sz, _mm256_mul_ps(e, d));
    }
    float a = lanes_combine(s), b = lanes_combine(sz);
    for (; i < n; i++) {
        float d = z[i] - zmax;
        float e = smx_exp(d);
        ex[i] = e;
        a = a + e;
        b = b + e * d;
    }
    *sum_ex = a;
    *sum_ex_z = b;
}

AVX2 static void exp_array_avx2(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp8(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) y[i] = smx_exp(x[i]);
}

AVX2 static void exp_mul_avx2(const float *x, const float *w, float *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, exp8(_mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(w + i))));
    for (; i < n; i++) y[i] = smx_exp(x[i] * w[i]);
}

AVX2 static void silu_avx2(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        _mm256_storeu_ps(y + i, _mm256_mul_ps(v, sigmoid8(v)));
    }
    for (; i < n; i++) y[i] = smx_silu(x[i]);
}

/* smx_softplus: x above 20, exp(x) below -20, log(1 + exp(x)) between. */
AVX2 static void softplus_avx2(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i), e = exp8(v);
        __m256 r = log8(_mm256_add_ps(_mm256_set1_ps(1.0f), e));
        r = _mm256_blendv_ps(r, e, _mm256_cmp_ps(v, _mm256_set1_ps(-20.0f), _CMP_LT_OQ));
        r = _mm256_blendv_ps(r, v, _mm256_cmp_ps(v, _mm256_set1_ps(20.0f), _CMP_GT_OQ));
        _mm256_storeu_ps(y + i, r);
    }
    for (; i < n; i++) y[i] = smx_softplus(x[i]);
}

AVX2 static void sigmoid_avx2(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, sigmoid8(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) y[i] = smx_sigmoid(x[i]);
}

/* smx_silu_grad: s * (1 + x * (1 - s)) with s the sigmoid of x. */
AVX2 static void silu_grad_avx2(const float *x, float *y, size_t n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i), s = sigmoid8(v);
        _mm256_storeu_ps(y + i, _mm256_mul_ps(s, _mm256_add_ps(one, _mm256_mul_ps(v, _mm256_sub_ps(one, s)))));
    }
    for (; i < n; i++) y[i] = smx_silu_grad(x[i]);
}

AVX2 static void scan_avx2(const float *decay, float *h_live, float *h_out, const float *u, const float *B,
                           const float *C, float *y, size_t n, size_t states) {
    for (size_t j = 0; j < states; j++) {
        const float *d = decay + j * n;
        float *hl = h_live + j * n, *ho = h_out + j * n;
        const __m256 bj = _mm256_set1_ps(B[j]), cj = _mm256_set1_ps(C[j]);
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            __m256 h = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(d + i), _mm256_loadu_ps(hl + i)),
                                     _mm256_mul_ps(bj, _mm256_loadu_ps(u + i)));
            _mm256_storeu_ps(hl + i, h);
            _mm256_storeu_ps(ho + i, h);
            _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(cj, h)));
        }
        for (; i < n; i++) {
            float h = d[i] * hl[i] + B[j] * u[i];
            hl[i] = h;
            ho[i] = h;
            y[i] = y[i] + C[j] * h;
        }
    }
}

AVX2 static float max_avx2(const float *x, size_t n) {
    /* max is exact, so any order gives the scalar answer. */
    __m256 m = _mm256_set1_ps(-3.0e38f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) m = _mm256_max_ps(_mm256_loadu_ps(x + i), m);
    float a[8];
    _mm256_storeu_ps(a, m);
    float r = -3.0e38f;
    for (int l = 0; l < 8; l++) r = (a[l] > r) ? a[l] : r;
    for (; i < n; i++) r = (x[i] > r) ? x[i] : r;
    return r;
}

AVX2 static float dot_avx2(const float *a, const float *b, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_add_ps(s0, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
        s1 = _mm256_add_ps(s1, _mm256_mul_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8)));
        s2 = _mm256_add_ps(s2, _mm256_mul_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16)));
        s3 = _mm256_add_ps(s3, _mm256_mul_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24)));
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_add_ps(s0, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    float r = lanes_combine(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) r = r + a[i] * b[i];
    return r;
}

AVX2 static float sumsq_avx2(const float *x, size_t n) { return dot_avx2(x, x, n); }

AVX2 static void axpy_avx2(float *y, float a, const float *x, size_t n) {
    __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i),
                                              _mm256_mul_ps(va, _mm256_loadu_ps(x + i))));
    for (; i < n; i++) y[i] = y[i] + a * x[i];
}

/* dot_avx2(a0, b, n) and dot_avx2(a1, b, n), each summed exactly as dot_avx2
 * sums, side by side: b is loaded once for both, and eight chains of
 * additions instead of four keep both adders busy. */
AVX2 static inline void dot_pair_avx2(const float *a0, const float *a1, const float *b, size_t n, float *r0,
                                      float *r1) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    __m256 t0 = s0, t1 = s0, t2 = s0, t3 = s0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m256 b0 = _mm256_loadu_ps(b + i), b1 = _mm256_loadu_ps(b + i + 8);
        const __m256 b2 = _mm256_loadu_ps(b + i + 16), b3 = _mm256_loadu_ps(b + i + 24);
        s0 = _mm256_add_ps(s0, _mm256_mul_ps(_mm256_loadu_ps(a0 + i), b0));
        t0 = _mm256_add_ps(t0, _mm256_mul_ps(_mm256_loadu_ps(a1 + i), b0));
        s1 = _mm256_add_ps(s1, _mm256_mul_ps(_mm256_loadu_ps(a0 + i + 8), b1));
        t1 = _mm256_add_ps(t1, _mm256_mul_ps(_mm256_loadu_ps(a1 + i + 8), b1));
        s2 = _mm256_add_ps(s2, _mm256_mul_ps(_mm256_loadu_ps(a0 + i + 16), b2));
        t2 = _mm256_add_ps(t2, _mm256_mul_ps(_mm256_loadu_ps(a1 + i + 16), b2));
        s3 = _mm256_add_ps(s3, _mm256_mul_ps(_mm256_loadu_ps(a0 + i + 24), b3));
        t3 = _mm256_add_ps(t3, _mm256_mul_ps(_mm256_loadu_ps(a1 + i + 24), b3));
    }
    for (; i + 8 <= n; i += 8) {
        const __m256 b0 = _mm256_loadu_ps(b + i);
        s0 = _mm256_add_ps(s0, _mm256_mul_ps(_mm256_loadu_ps(a0 + i), b0));
        t0 = _mm256_add_ps(t0, _mm256_mul_ps(_mm256_loadu_ps(a1 + i), b0));
    }
    float x0 = lanes_combine(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    float x1 = lanes_combine(_mm256_add_ps(_mm256_add_ps(t0, t1), _mm256_add_ps(t2, t3)));
    for (; i < n; i++) {
        x0 = x0 + a0[i] * b[i];
        x1 = x1 + a1[i] * b[i];
    }
    *r0 = x0;
    *r1 = x1;
}

AVX2 static void dot2_avx2(const float *a0, const float *a1, const float *b, size_t n, float out[2]) {
    dot_pair_avx2(a0, a1, b, n, &out[0], &out[1]);
}

/* The column loop the scalar kernel has, two columns at a time: every sum
 * is dot's by construction. */
AVX2 static void matvec_backward_dx_avx2(const float *Wt, const float *dout, float *dx, size_t rows,
                                         size_t cols) {
    size_t c = 0;
    for (; c + 2 <= cols; c += 2) {
        float r0, r1;
        dot_pair_avx2(Wt + c * rows, Wt + (c + 1) * rows, dout, rows, &r0, &r1);
        dx[c] = dx[c] + r0;
        dx[c + 1] = dx[c + 1] + r1;
    }
    for (; c < cols; c++) dx[c] = dx[c] + dot_avx2(Wt + c * rows, dout, rows);
}

AVX2 static void scan_backward_avx2(const float *dy, const float *h, const float *h_prev,
                                   const float *decay, const float *a_neg, const float *dt,
                                   const float *dta, const float *B, const float *C, float *dh,
                                   float *d_dt, float *d_dta, float *ga, float *dB, float *dC,
                                   float *dhij, size_t n, size_t states) {
    for (size_t j = 0; j < states; j++) {
        const size_t r = j * n;
        const float cj = C[j], bj = B[j];
        const __m256 vc = _mm256_set1_ps(cj), vb = _mm256_set1_ps(bj);
        dC[j] = dot_avx2(dy, h + r, n);
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            const __m256 dec = _mm256_loadu_ps(decay + r + i), an = _mm256_loadu_ps(a_neg + r + i);
            const __m256 dhv = _mm256_add_ps(_mm256_loadu_ps(dh + r + i), _mm256_mul_ps(_mm256_loadu_ps(dy + i), vc));
            const __m256 d_arg = _mm256_mul_ps(_mm256_mul_ps(dhv, _mm256_loadu_ps(h_prev + r + i)), dec);
            _mm256_storeu_ps(d_dt + i, _mm256_add_ps(_mm256_loadu_ps(d_dt + i), _mm256_mul_ps(d_arg, an)));
            _mm256_storeu_ps(ga + r + i, _mm256_add_ps(_mm256_loadu_ps(ga + r + i),
                                                       _mm256_mul_ps(_mm256_mul_ps(d_arg, _mm256_loadu_ps(dt + i)), an)));
            _mm256_storeu_ps(d_dta + i, _mm256_add_ps(_mm256_loadu_ps(d_dta + i), _mm256_mul_ps(dhv, vb)));
            _mm256_storeu_ps(dh + r + i, _mm256_mul_ps(dhv, dec));
            _mm256_storeu_ps(dhij + i, dhv);
        }
        for (; i < n; i++) {
            smx_scan_backward_one(dy, h_prev, decay, a_neg, dt, cj, bj, dh, d_dt, d_dta, ga, dhij, r, i);
        }
        dB[j] = dot_avx2(dhij, dta, n);
    }
}

/* Each dW entry stays in a register while t runs, in order, as in the
 * scalar loop; up to twelve vectors of entries at once (see head_forward). */
AVX2 static inline __attribute__((always_inline)) void outer_acc_block(
    float *row, const float *X, ptrdiff_t xstride, const float *G, ptrdiff_t gstride, size_t n, size_t v,
    size_t v1, const int nv) {
    __m256 acc[HEAD_VECS];
    const __m256i last = lane_mask(v1 - (v + 8 * (size_t)(nv - 1)));
    for (int q = 0; q + 1 < nv; q++) acc[q] = _mm256_loadu_ps(row + v + 8 * q);
    acc[nv - 1] = _mm256_maskload_ps(row + v + 8 * (nv - 1), last);
    for (size_t t = 0; t < n; t++) {
        const __m256 x = _mm256_set1_ps(X[(ptrdiff_t)t * xstride]);
        const float *g = G + (ptrdiff_t)t * gstride + v;
        for (int q = 0; q + 1 < nv; q++)
            acc[q] = _mm256_add_ps(acc[q], _mm256_mul_ps(x, _mm256_loadu_ps(g + 8 * q)));
        acc[nv - 1] = _mm256_add_ps(acc[nv - 1], _mm256_mul_ps(x, _mm256_maskload_ps(g + 8 * (nv - 1), last)));
    }
    for (int q = 0; q + 1 < nv; q++) _mm256_storeu_ps(row + v + 8 * q, acc[q]);
    _mm256_maskstore_ps(row + v + 8 * (nv - 1), last, acc[nv - 1]);
}

AVX2 static void outer_acc_avx2(float *dW, size_t stride, const float *X, ptrdiff_t xstride, size_t dm,
                                const float *G, ptrdiff_t gstride, size_t n, size_t v0, size_t v1) {
    for (size_t d = 0; d < dm; d++) {
        float *row = dW + d * stride;
        const float *Xd = X + d;
#define OUTER_BLOCK(v, end, nv) outer_acc_block(row, Xd, xstride, G, gstride, n, v, end, nv)
        FOR_EACH_VECTOR_BLOCK(v0, v1, OUTER_BLOCK)
#undef OUTER_BLOCK
    }
}

AVX2 static void adam_avx2(float *theta_out, const float *theta_in, const float *g, float *m, float *v,
                           size_t n, float lr, float b1, float b2, float eps, float gscale) {
    float c1 = 1.0f - b1, c2 = 1.0f - b2;
    __m256 vb1 = _mm256_set1_ps(b1), vb2 = _mm256_set1_ps(b2), vc1 = _mm256_set1_ps(c1),
           vc2 = _mm256_set1_ps(c2), vlr = _mm256_set1_ps(lr), veps = _mm256_set1_ps(eps),
           vgs = _mm256_set1_ps(gscale);
    size_t i = 0;
    if (!m) { /* without momentum (b1 = 0) the step is the gradient itself: smx_adam_one_nomom */
        for (; i + 8 <= n; i += 8) {
            __m256 gi = _mm256_mul_ps(_mm256_loadu_ps(g + i), vgs);
            __m256 vi = _mm256_add_ps(_mm256_mul_ps(vb2, _mm256_loadu_ps(v + i)),
                                      _mm256_mul_ps(vc2, _mm256_mul_ps(gi, gi)));
            _mm256_storeu_ps(v + i, vi);
            __m256 step = _mm256_div_ps(_mm256_mul_ps(vlr, gi), _mm256_add_ps(_mm256_sqrt_ps(vi), veps));
            _mm256_storeu_ps(theta_out + i, _mm256_sub_ps(_mm256_loadu_ps(theta_in + i), step));
        }
        for (; i < n; i++) smx_adam_one_nomom(theta_out, theta_in, g, v, i, lr, b2, c2, eps, gscale);
        return;
    }
    for (; i + 8 <= n; i += 8) {
        __m256 gi = _mm256_mul_ps(_mm256_loadu_ps(g + i), vgs);
        __m256 mi = _mm256_add_ps(_mm256_mul_ps(vb1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(vc1, gi));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(vb2, _mm256_loadu_ps(v + i)),
                                  _mm256_mul_ps(vc2, _mm256_mul_ps(gi, gi)));
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        __m256 step = _mm256_div_ps(_mm256_mul_ps(vlr, mi), _mm256_add_ps(_mm256_sqrt_ps(vi), veps));
        _mm256_storeu_ps(theta_out + i, _mm256_sub_ps(_mm256_loadu_ps(theta_in + i), step));
    }
    for (; i < n; i++) {
        float gi = g[i] * gscale;
        m[i] = b1 * m[i] + c1 * gi;
        v[i] = b2 * v[i] + c2 * (gi * gi);
        theta_out[i] = theta_in[i] - lr * m[i] / (smx_sqrt(v[i]) + eps);
    }
}

AVX2 static void to_freq_avx2(const float *ex, float k, uint32_t *freq, size_t n) {
    __m256 vk = _mm256_set1_ps(k);
    __m256i one = _mm256_set1_epi32(1);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i q = _mm256_cvttps_epi32(_mm256_mul_ps(_mm256_loadu_ps(ex + i), vk));
        _mm256_storeu_si256((__m256i *)(freq + i), _mm256_add_epi32(q, one));
    }
    for (; i < n; i++) freq[i] = 1u + (uint32_t)(int32_t)(ex[i] * k);
}

const smx_kernels smx_kernels_avx2 = {
    .name = "avx2",
    .head_forward = head_forward_avx2,
    .exp_sum = exp_sum_avx2,
    .exp_array = exp_array_avx2,
    .exp_mul = exp_mul_avx2,
    .silu = silu_avx2,
    .softplus = softplus_avx2,
    .sigmoid = sigmoid_avx2,
    .silu_grad = silu_grad_avx2,
    .scan = scan_avx2,
    .max = max_avx2,
    .dot = dot_avx2,
    .dot2 = dot2_avx2,
    .sumsq = sumsq_avx2,
    .axpy = axpy_avx2,
    .matvec_backward_dx = matvec_backward_dx_avx2,
    .scan_backward = scan_backward_avx2,
    .outer_acc = outer_acc_avx2,
    .adam = adam_avx2,
    .to_freq = to_freq_avx2,
};
