/* The project's own transcendental functions.
 *
 * Why not libm: the decoder must reproduce the encoder's probabilities bit
 * for bit on any machine, and libm's expf/logf differ in their last bits
 * between library versions. These use only +, -, *, / and integer bit
 * manipulation, evaluated in a fixed order (the build uses
 * -ffp-contract=off, so no multiply-add is fused behind our back).
 * kernels_avx2.c mirrors smx_exp operation for operation. */
#ifndef SMX_MATH_H
#define SMX_MATH_H

#include <stdint.h>
#include <string.h>

#define SMX_EXP_LO (-87.0f)   /* exp(-87) ~ 1.6e-38: still a normal float */
#define SMX_EXP_HI (88.0f)
#define SMX_LOG2E 1.44269504088896341f
#define SMX_LN2_HI 0.693359375f      /* ln 2 split so n*LN2_HI is exact */
#define SMX_LN2_LO (-2.12194440e-4f)
#define SMX_ROUND_MAGIC 12582912.0f  /* 1.5 * 2^23: adding it rounds to an integer */

/* Cephes-style minimax coefficients for e^r on [-ln2/2, ln2/2]. */
#define SMX_EXP_C0 1.9875691500e-4f
#define SMX_EXP_C1 1.3981999507e-3f
#define SMX_EXP_C2 8.3334519073e-3f
#define SMX_EXP_C3 4.1665795894e-2f
#define SMX_EXP_C4 1.6666665459e-1f
#define SMX_EXP_C5 5.0000001201e-1f

static inline float smx_bits_to_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t smx_float_to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* e^x, relative error about 2e-7. Out-of-range inputs are clamped, so the
 * result is always a finite normal float (never 0, never inf). The clamps
 * are written so a NaN input becomes SMX_EXP_LO, like _mm256_max_ps. */
static inline float smx_exp(float x) {
    x = (x > SMX_EXP_LO) ? x : SMX_EXP_LO;
    x = (x < SMX_EXP_HI) ? x : SMX_EXP_HI;
    float n = (x * SMX_LOG2E + SMX_ROUND_MAGIC) - SMX_ROUND_MAGIC;
    float r = x - n * SMX_LN2_HI;
    r = r - n * SMX_LN2_LO;
    float p = SMX_EXP_C0;
    p = p * r + SMX_EXP_C1;
    p = p * r + SMX_EXP_C2;
    p = p * r + SMX_EXP_C3;
    p = p * r + SMX_EXP_C4;
    p = p * r + SMX_EXP_C5;
    p = p * r * r + r + 1.0f;
    int32_t ni = (int32_t)n;
    float scale = smx_bits_to_float((uint32_t)(ni + 127) << 23);
    return p * scale;
}

/* Natural log for x > 0 (x <= 0 returns a large negative number instead of
 * -inf/NaN: callers only pass positive values, and a finite answer keeps a
 * hostile stream from poisoning the model with NaNs). */
static inline float smx_log(float x) {
    if (!(x > 1e-38f)) x = 1e-38f;
    uint32_t u = smx_float_to_bits(x);
    int32_t e = (int32_t)((u >> 23) & 0xff) - 127;
    float m = smx_bits_to_float((u & 0x007fffffu) | 0x3f800000u); /* [1,2) */
    if (m > 1.41421356f) { m = m * 0.5f; e += 1; }
    float f = m - 1.0f;                                            /* [-0.29, 0.41] */
    float z = f * f;
    float p = 7.0376836292e-2f;
    p = p * f + -1.1514610310e-1f;
    p = p * f + 1.1676998740e-1f;
    p = p * f + -1.2420140846e-1f;
    p = p * f + 1.4249322787e-1f;
    p = p * f + -1.6668057665e-1f;
    p = p * f + 2.0000714765e-1f;
    p = p * f + -2.4999993993e-1f;
    p = p * f + 3.3333331174e-1f;
    float y = p * f * z;
    float ef = (float)e;
    y = y + ef * -2.12194440e-4f;
    y = y + -0.5f * z;
    return (f + y) + ef * 0.693359375f;
}

static inline float smx_sigmoid(float x) { return 1.0f / (1.0f + smx_exp(-x)); }

static inline float smx_silu(float x) { return x * smx_sigmoid(x); }

/* d silu / dx written in terms of the sigmoid s of x. */
static inline float smx_silu_grad(float x) {
    float s = smx_sigmoid(x);
    return s * (1.0f + x * (1.0f - s));
}

/* log(1 + e^x), exact enough at both tails without overflow. */
static inline float smx_softplus(float x) {
    if (x > 20.0f) return x;
    if (x < -20.0f) return smx_exp(x);
    return smx_log(1.0f + smx_exp(x));
}

static inline float smx_sqrt(float x) {
    /* IEEE square root is correctly rounded, so this is identical on every
     * x86-64 (sqrtss) and in the AVX2 path (vsqrtps). */
    return __builtin_sqrtf(x);
}

#endif
