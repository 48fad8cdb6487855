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

AVX2 static inline float lanes_combine(__m256 acc) {
    float a[8];
    _mm256_storeu_ps(a, acc);
    return smx_lane_combine(a);
}

AVX2 static void head_forward_avx2(const float *W, size_t stride, const float *x, size_t dm,
                                   float *out, size_t v0, size_t v1) {
    size_t v = v0;
    /* four independent accumulators; each output is still summed over d in order */
    for (; v + 32 <= v1; v += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (size_t d = 0; d < dm; d++) {
            const float *w = W + d * stride + v;
            __m256 xd = _mm256_set1_ps(x[d]);
            a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_loadu_ps(w), xd));
            a1 = _mm256_add_ps(a1, _mm256_mul_ps(_mm256_loadu_ps(w + 8), xd));
            a2 = _mm256_add_ps(a2, _mm256_mul_ps(_mm256_loadu_ps(w + 16), xd));
            a3 = _mm256_add_ps(a3, _mm256_mul_ps(_mm256_loadu_ps(w + 24), xd));
        }
        _mm256_storeu_ps(out + v, a0);
        _mm256_storeu_ps(out + v + 8, a1);
        _mm256_storeu_ps(out + v + 16, a2);
        _mm256_storeu_ps(out + v + 24, a3);
    }
    for (; v + 8 <= v1; v += 8) {
        __m256 acc = _mm256_setzero_ps();
        for (size_t d = 0; d < dm; d++) {
            __m256 w = _mm256_loadu_ps(W + d * stride + v);
            acc = _mm256_add_ps(acc, _mm256_mul_ps(w, _mm256_set1_ps(x[d])));
        }
        _mm256_storeu_ps(out + v, acc);
    }
    for (; v < v1; v++) {
        float acc = 0.0f;
        for (size_t d = 0; d < dm; d++) acc = acc + W[d * stride + v] * x[d];
        out[v] = acc;
    }
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
    const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 e = exp8(_mm256_xor_ps(v, sign)); /* exp(-x): the sign flip is exact */
        __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, e));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(v, s));
    }
    for (; i < n; i++) y[i] = smx_silu(x[i]);
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

AVX2 static void outer_acc_avx2(float *dW, size_t stride, const float *X, size_t dm,
                                const float *G, size_t gstride, size_t n, size_t v0, size_t v1) {
    /* Each dW entry stays in a register while t runs, in order, as in the scalar loop. */
    for (size_t d = 0; d < dm; d++) {
        float *row = dW + d * stride;
        size_t v = v0;
        for (; v + 32 <= v1; v += 32) {
            __m256 a0 = _mm256_loadu_ps(row + v), a1 = _mm256_loadu_ps(row + v + 8),
                   a2 = _mm256_loadu_ps(row + v + 16), a3 = _mm256_loadu_ps(row + v + 24);
            for (size_t t = 0; t < n; t++) {
                __m256 x = _mm256_set1_ps(X[t * dm + d]);
                const float *g = G + t * gstride + v;
                a0 = _mm256_add_ps(a0, _mm256_mul_ps(x, _mm256_loadu_ps(g)));
                a1 = _mm256_add_ps(a1, _mm256_mul_ps(x, _mm256_loadu_ps(g + 8)));
                a2 = _mm256_add_ps(a2, _mm256_mul_ps(x, _mm256_loadu_ps(g + 16)));
                a3 = _mm256_add_ps(a3, _mm256_mul_ps(x, _mm256_loadu_ps(g + 24)));
            }
            _mm256_storeu_ps(row + v, a0);
            _mm256_storeu_ps(row + v + 8, a1);
            _mm256_storeu_ps(row + v + 16, a2);
            _mm256_storeu_ps(row + v + 24, a3);
        }
        for (; v + 8 <= v1; v += 8) {
            __m256 acc = _mm256_loadu_ps(row + v);
            for (size_t t = 0; t < n; t++)
                acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(X[t * dm + d]),
                                                       _mm256_loadu_ps(G + t * gstride + v)));
            _mm256_storeu_ps(row + v, acc);
        }
        for (; v < v1; v++) {
            float acc = row[v];
            for (size_t t = 0; t < n; t++) acc = acc + X[t * dm + d] * G[t * gstride + v];
            row[v] = acc;
        }
    }
}

AVX2 static void adam_avx2(float *theta, const float *g, float *m, float *v, size_t n,
                           float lr, float b1, float b2, float eps, float gscale) {
    float c1 = 1.0f - b1, c2 = 1.0f - b2;
    __m256 vb1 = _mm256_set1_ps(b1), vb2 = _mm256_set1_ps(b2), vc1 = _mm256_set1_ps(c1),
           vc2 = _mm256_set1_ps(c2), vlr = _mm256_set1_ps(lr), veps = _mm256_set1_ps(eps),
           vgs = _mm256_set1_ps(gscale);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 gi = _mm256_mul_ps(_mm256_loadu_ps(g + i), vgs);
        __m256 mi = _mm256_add_ps(_mm256_mul_ps(vb1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(vc1, gi));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(vb2, _mm256_loadu_ps(v + i)),
                                  _mm256_mul_ps(vc2, _mm256_mul_ps(gi, gi)));
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        __m256 step = _mm256_div_ps(_mm256_mul_ps(vlr, mi), _mm256_add_ps(_mm256_sqrt_ps(vi), veps));
        _mm256_storeu_ps(theta + i, _mm256_sub_ps(_mm256_loadu_ps(theta + i), step));
    }
    for (; i < n; i++) {
        float gi = g[i] * gscale;
        m[i] = b1 * m[i] + c1 * gi;
        v[i] = b2 * v[i] + c2 * (gi * gi);
        theta[i] = theta[i] - lr * m[i] / (smx_sqrt(v[i]) + eps);
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
    .scan = scan_avx2,
    .max = max_avx2,
    .dot = dot_avx2,
    .sumsq = sumsq_avx2,
    .axpy = axpy_avx2,
    .outer_acc = outer_acc_avx2,
    .adam = adam_avx2,
    .to_freq = to_freq_avx2,
};
