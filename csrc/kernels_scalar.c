/* Portable scalar kernels. They define the results: kernels_avx2.c must match
 * them bit for bit (see kernels.h for the summation order). */
#include "kernels.h"
#include "smx_math.h"

static void head_forward_scalar(const float *W, size_t stride, const float *x, size_t dm,
                                float *out, size_t v0, size_t v1) {
    for (size_t v = v0; v < v1; v++) out[v] = 0.0f;
    for (size_t d = 0; d < dm; d++) {
        const float *row = W + d * stride;
        float xd = x[d];
        for (size_t v = v0; v < v1; v++) out[v] = out[v] + row[v] * xd;
    }
}

static void exp_sum_scalar(const float *z, float zmax, float *ex, size_t n,
                           float *sum_ex, float *sum_ex_z) {
    float s[8] = {0}, sz[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int l = 0; l < 8; l++) {
            float d = z[i + l] - zmax;
            float e = smx_exp(d);
            ex[i + l] = e;
            s[l] = s[l] + e;
            sz[l] = sz[l] + e * d;
        }
    }
    float a = smx_lane_combine(s), b = smx_lane_combine(sz);
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

static void exp_array_scalar(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = smx_exp(x[i]);
}

static void exp_mul_scalar(const float *x, const float *w, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = smx_exp(x[i] * w[i]);
}

static void silu_scalar(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = smx_silu(x[i]);
}

static void softplus_scalar(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = smx_softplus(x[i]);
}

static void sigmoid_scalar(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = smx_sigmoid(x[i]);
}

static void silu_grad_scalar(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = smx_silu_grad(x[i]);
}

static void scan_scalar(const float *decay, float *h_live, float *h_out, const float *u, const float *B,
                        const float *C, float *y, size_t n, size_t states) {
    for (size_t j = 0; j < states; j++) {
        const float *d = decay + j * n;
        float *hl = h_live + j * n, *ho = h_out + j * n;
        const float bj = B[j], cj = C[j];
        for (size_t i = 0; i < n; i++) {
            float h = d[i] * hl[i] + bj * u[i];
            hl[i] = h;
            ho[i] = h;
            y[i] = y[i] + cj * h;
        }
    }
}

static float max_scalar(const float *x, size_t n) {
    float m = -3.0e38f;
    for (size_t i = 0; i < n; i++) m = (x[i] > m) ? x[i] : m;
    return m;
}

static float dot_scalar(const float *a, const float *b, size_t n) {
    float p[32] = {0};
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int l = 0; l < 32; l++) p[l] = p[l] + a[i + l] * b[i + l];
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) p[l] = p[l] + a[i + l] * b[i + l];
    float r = smx_partials_combine(p);
    for (; i < n; i++) r = r + a[i] * b[i];
    return r;
}

static float sumsq_scalar(const float *x, size_t n) { return dot_scalar(x, x, n); }

static void dot2_scalar(const float *a0, const float *a1, const float *b, size_t n, float out[2]) {
    out[0] = dot_scalar(a0, b, n);
    out[1] = dot_scalar(a1, b, n);
}

static void axpy_scalar(float *y, float a, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = y[i] + a * x[i];
}

static void matvec_backward_dx_scalar(const float *Wt, const float *dout, float *dx, size_t rows,
                                      size_t cols) {
    for (size_t c = 0; c < cols; c++) dx[c] = dx[c] + dot_scalar(Wt + c * rows, dout, rows);
}

static void scan_backward_scalar(const float *dy, const float *h, const float *h_prev,
                                 const float *decay, const float *a_neg, const float *dt,
                                 const float *dta, const float *B, const float *C, float *dh,
                                 float *d_dt, float *d_dta, float *ga, float *dB, float *dC,
                                 float *dhij, size_t n, size_t states) {
    for (size_t j = 0; j < states; j++) {
        const size_t r = j * n;
        const float cj = C[j], bj = B[j];
        dC[j] = dot_scalar(dy, h + r, n);
        for (size_t i = 0; i < n; i++) {
            smx_scan_backward_one(dy, h_prev, decay, a_neg, dt, cj, bj, dh, d_dt, d_dta, ga, dhij, r, i);
        }
        dB[j] = dot_scalar(dhij, dta, n);
    }
}

static void outer_acc_scalar(float *dW, size_t stride, const float *X, ptrdiff_t xstride, size_t dm,
                             const float *G, ptrdiff_t gstride, size_t n, size_t v0, size_t v1) {
    for (size_t d = 0; d < dm; d++) {
        float *row = dW + d * stride;
        for (size_t t = 0; t < n; t++) {
            float x = X[(ptrdiff_t)t * xstride + (ptrdiff_t)d];
            const float *g = G + (ptrdiff_t)t * gstride;
            for (size_t v = v0; v < v1; v++) row[v] = row[v] + x * g[v];
        }
    }
}

static void adam_scalar(float *theta_out, const float *theta_in, const float *g, float *m, float *v,
                        size_t n, float lr, float b1, float b2, float eps, float gscale) {
    float c1 = 1.0f - b1, c2 = 1.0f - b2;
    if (!m) {
        for (size_t i = 0; i < n; i++) smx_adam_one_nomom(theta_out, theta_in, g, v, i, lr, b2, c2, eps, gscale);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * gscale;
        m[i] = b1 * m[i] + c1 * gi;
        v[i] = b2 * v[i] + c2 * (gi * gi);
        theta_out[i] = theta_in[i] - lr * m[i] / (smx_sqrt(v[i]) + eps);
    }
}

static void to_freq_scalar(const float *ex, float k, uint32_t *freq, size_t n) {
    for (size_t i = 0; i < n; i++) freq[i] = 1u + (uint32_t)(int32_t)(ex[i] * k);
}

const smx_kernels smx_kernels_scalar = {
    .name = "scalar",
    .head_forward = head_forward_scalar,
    .exp_sum = exp_sum_scalar,
    .exp_array = exp_array_scalar,
    .exp_mul = exp_mul_scalar,
    .silu = silu_scalar,
    .softplus = softplus_scalar,
    .sigmoid = sigmoid_scalar,
    .silu_grad = silu_grad_scalar,
    .scan = scan_scalar,
    .max = max_scalar,
    .dot = dot_scalar,
    .dot2 = dot2_scalar,
    .sumsq = sumsq_scalar,
    .axpy = axpy_scalar,
    .matvec_backward_dx = matvec_backward_dx_scalar,
    .scan_backward = scan_backward_scalar,
    .outer_acc = outer_acc_scalar,
    .adam = adam_scalar,
    .to_freq = to_freq_scalar,
};
