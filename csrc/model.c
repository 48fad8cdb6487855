/* The Mamba model of the published method: embedding -> NL x [layernorm ->
 * in-projection (SSM branch, gate) -> causal depthwise conv + SiLU ->
 * projection to (B, C, s) -> selective scan -> y * SiLU(gate) ->
 * out-projection -> residual] -> final layernorm -> head.
 *
 * Forward runs one token at a time (prediction must), writing every
 * activation of the current chunk into the cache; training backpropagates
 * through the whole chunk from that cache (truncated BPTT: the state at the
 * chunk start is treated as a constant).
 *
 * All small reductions are plain sequential loops: the compiler may not
 * reorder float sums (no -ffast-math), so they are deterministic on any
 * x86-64. The big loops over the vocabulary go through the kernels. */
#include "model.h"
#include "table_alloc.h"

#include <stdlib.h>
#include <string.h>

#include "optim.h"
#include "smx_math.h"

#define LN_EPS 1e-5f
#define PAD_LOGIT (-1.0e30f)
/* Vocabulary block of the head's backward pass: its partial sums are
 * combined in block order (part of the file format's arithmetic). */
#define HEAD_BLOCK 512
/* Scratch floats used by one position's forward or backward; logits go after. */
#define SCRATCH_FIXED(m) ((size_t)(m)->DI * (m)->DS + 3 * (size_t)(m)->DM + 7 * (size_t)(m)->DI + (m)->NBCS + 64)

/* ---- random numbers (initial weights, replay draws) -------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t splitmix64(rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- small dense helpers ---------------------------------------------- */

/* Weights of the small projections are stored input-major (row c holds the
 * weights from input c to every output), so out += x[c] * row_c runs along
 * the outputs and each output is summed over c in order: the same kernel as
 * the head. */
static void matvec(const smx_kernels *k, const float *Wt, const float *x, float *out,
                   uint32_t rows, uint32_t cols) {
    k->head_forward(Wt, rows, x, cols, out, 0, rows);
}

static void layernorm_forward(const float *x, const float *w, const float *b, float *out,
                              float *mean_out, float *rstd_out, uint32_t n) {
    float s = 0.0f;
    for (uint32_t i = 0; i < n; i++) s = s + x[i];
    float mean = s / (float)n;
    float v = 0.0f;
    for (uint32_t i = 0; i < n; i++) {
        float d = x[i] - mean;
        v = v + d * d;
    }
    float rstd = 1.0f / smx_sqrt(v / (float)n + LN_EPS);
    for (uint32_t i = 0; i < n; i++) out[i] = ((x[i] - mean) * rstd) * w[i] + b[i];
    *mean_out = mean;
    *rstd_out = rstd;
}

/* Accumulates into dw, db and dx. */
static void layernorm_backward(const float *x, float mean, float rstd, const float *w,
                               const float *dout, float *dw, float *db, float *dx, uint32_t n) {
    float s1 = 0.0f, s2 = 0.0f;
    for (uint32_t i = 0; i < n; i++) {
        float xhat = (x[i] - mean) * rstd;
        float dxhat = dout[i] * w[i];
        dw[i] = dw[i] + dout[i] * xhat;
        db[i] = db[i] + dout[i];
        s1 = s1 + dxhat;
        s2 = s2 + dxhat * xhat;
    }
    float m1 = s1 / (float)n, m2 = s2 / (float)n;
    for (uint32_t i = 0; i < n; i++) {
        float xhat = (x[i] - mean) * rstd;
        float dxhat = dout[i] * w[i];
        dx[i] = dx[i] + rstd * ((dxhat - m1) - xhat * m2);
    }
}

/* SSM-branch input (the first DI entries of xz) `lag` positions before pos:
 * inside the chunk it is cached, before the chunk it is in conv_start. */
static const float *conv_input(const smx_model *m, const smx_chunk *ch, uint32_t l, uint32_t pos,
                               uint32_t lag) {
    if (lag <= pos) return ch->c[l].xz + (size_t)(pos - lag) * 2 * m->DI;
    uint32_t idx = (m->DC - 1) - (lag - pos);
    return ch->conv_start + ((size_t)l * (m->DC - 1) + idx) * m->DI;
}

/* ---- softmax ----------------------------------------------------------- */

float smx_softmax(const smx_kernels *k, const float *z, float *probs, size_t n, float *sum_out) {
    float zmax = k->max(z, n);
    float sum, sum_ez;
    k->exp_sum(z, zmax, probs, n, &sum, &sum_ez);
    float inv = 1.0f / sum;
    for (size_t i = 0; i < n; i++) probs[i] = probs[i] * inv;
    if (sum_out) *sum_out = sum;
    /* H = log S - sum(e * z') / S, with z' = z - max */
    return smx_log(sum) - sum_ez / sum;
}

/* ---- elementwise helpers ----------------------------------------------- */

/* Loops over arrays the compiler cannot prove apart, written once with
 * unaliased arguments so that they vectorise: each element still takes the
 * same operations in the same order. */

/* y += x, elementwise. */
static void add_to(uint32_t n, float *restrict y, const float *restrict x) {
    for (uint32_t i = 0; i < n; i++) y[i] = y[i] + x[i];
}

/* y += a * b, elementwise. */
static void mul_add(uint32_t n, float *restrict y, const float *restrict a, const float *restrict b) {
    for (uint32_t i = 0; i < n; i++) y[i] = y[i] + a[i] * b[i];
}

/* ---- head -------------------------------------------------------------- */

static void head_forward(const smx_model *m, const float *th, const float *xf, float *logits) {
    const float *W = th + m->head;
    for (size_t b = 0; b < m->n_blocks; b++) {
        size_t v0 = b * HEAD_BLOCK;
        size_t v1 = v0 + HEAD_BLOCK < m->Vp ? v0 + HEAD_BLOCK : m->Vp;
        m->k->head_forward(W, m->Vp, xf, m->DM, logits, v0, v1);
    }
    if (m->has_head_bias) add_to(m->V, logits, th + m->head_b);
    for (size_t v = m->V; v < m->Vp; v++) logits[v] = PAD_LOGIT;
}

/* dlogits in ch->probs (n rows); writes dW_head and the gradient on xf into dxf. */
static void head_backward(smx_model *m, const smx_chunk *ch, uint32_t n, float *dxf) {
    const float *W = m->theta + m->head;
    float *dW = m->grad + m->head;
    const uint32_t DM = m->DM;
    const size_t Vp = m->Vp, nb = m->n_blocks;
    for (size_t b = 0; b < nb; b++) {
        size_t v0 = b * HEAD_BLOCK;
        size_t len = (v0 + HEAD_BLOCK < Vp ? v0 + HEAD_BLOCK : Vp) - v0;
        m->k->outer_acc(dW, Vp, ch->xf, DM, DM, ch->probs, (ptrdiff_t)Vp, n, v0, v0 + len);
        if (nb == 1) { /* one block: its dot added to 0, as the combination below would */
            memset(dxf, 0, (size_t)n * DM * sizeof(float));
            for (uint32_t t = 0; t < n; t++)
                m->k->matvec_backward_dx(W, ch->probs + (size_t)t * Vp, dxf + (size_t)t * DM, Vp, DM);
            return;
        }
        for (uint32_t t = 0; t < n; t++) {
            const float *dl = ch->probs + (size_t)t * Vp + v0;
            for (uint32_t d = 0; d < DM; d++)
                m->head_part[((size_t)t * DM + d) * nb + b] =
                    m->k->dot(W + (size_t)d * Vp + v0, dl, len);
        }
    }
    /* Block partials are combined in block order. */
    for (uint32_t t = 0; t < n; t++)
        for (uint32_t d = 0; d < DM; d++) {
            const float *part = m->head_part + ((size_t)t * DM + d) * nb;
            float acc = 0.0f;
            for (size_t b = 0; b < nb; b++) acc = acc + part[b];
            dxf[(size_t)t * DM + d] = acc;
        }
}

/* ---- forward ----------------------------------------------------------- */

static void layer_forward(const smx_model *m, const float *th, const float *a_neg_all, smx_chunk *ch, uint32_t l,
                          uint32_t pos, float *x, float *h_state, float *scratch) {
    const smx_kernels *k = m->k;
    const uint32_t DM = m->DM, DI = m->DI, DS = m->DS, DC = m->DC, NB = m->NBCS;
    const smx_layer_offsets *o = &m->L[l];
    smx_layer_cache *c = &ch->c[l];

    float *x_in = c->x_in + (size_t)pos * DM;
    memcpy(x_in, x, DM * sizeof(float));
    float *u = c->u + (size_t)pos * DM;
    layernorm_forward(x_in, th + o->ln_w, th + o->ln_b, u, &c->mean[pos], &c->rstd[pos], DM);

    float *xz = c->xz + (size_t)pos * 2 * DI;
    matvec(k, th + o->w_in, u, xz, 2 * DI, DM);
    const float *z = xz + DI;

    /* causal depthwise conv over the SSM branch; conv_w is DC x DI, tap DC-1 = now */
    float *xc = c->xc + (size_t)pos * DI, *a = c->a + (size_t)pos * DI;
    const float *cw = th + o->conv_w, *cb = th + o->conv_b;
    for (uint32_t i = 0; i < DI; i++) xc[i] = cb[i];
    for (uint32_t kk = 0; kk < DC; kk++) {
        const float *src = conv_input(m, ch, l, pos, DC - 1 - kk);
        const float *w = cw + (size_t)kk * DI;
        mul_add(DI, xc, w, src);
    }
    k->silu(xc, a, DI);

    float *bcs = c->bcs + (size_t)pos * NB;
    matvec(k, th + o->w_x, a, bcs, NB, DI);
    const float *B = bcs, *C = bcs + DS;
    const float s = bcs[2 * DS];

    float *dt_pre = c->dt_pre + (size_t)pos * DI, *dt = c->dt + (size_t)pos * DI;
    const float *dt_w = th + o->dt_w, *dt_b = th + o->dt_b;
    for (uint32_t i = 0; i < DI; i++) dt_pre[i] = s * dt_w[i] + dt_b[i];
    k->softplus(dt_pre, dt, DI);

    /* selective scan; state, decay and A are DS x DI so every loop runs along i */
    const size_t ns = (size_t)DI * DS;
    float *decay = c->decay + (size_t)pos * ns;
    const float *a_neg = a_neg_all + (size_t)l * ns;
    for (uint32_t j = 0; j < DS; j++) k->exp_mul(dt, a_neg + (size_t)j * DI, decay + (size_t)j * DI, DI);

    float *h_live = h_state + (size_t)l * ns;
    float *h = c->h + (size_t)pos * ns;
    float *y = c->y + (size_t)pos * DI, *gate = c->gate + (size_t)pos * DI,
          *g = c->g + (size_t)pos * DI;
    float *dta = scratch + DM; /* DI */
    for (uint32_t i = 0; i < DI; i++) {
        dta[i] = dt[i] * a[i];
        y[i] = 0.0f;
    }
    k->scan(decay, h_live, h, dta, B, C, y, DI, DS);
    const float *d_skip = th + o->d_skip;
    k->silu(z, gate, DI);
    for (uint32_t i = 0; i < DI; i++) {
        y[i] = y[i] + d_skip[i] * a[i];
        g[i] = y[i] * gate[i];
    }

    float *proj = dta; /* DM <= scratch room */
    matvec(k, th + o->w_out, g, proj, DM, DI);
    for (uint32_t d = 0; d < DM; d++) x[d] = x_in[d] + proj[d];
}

/* The input vector: the sum of the input's rows of the embedding, in slot
 * order. */
static void embed_forward(const smx_model *m, const float *th, const uint32_t *rows, float *x) {
    const uint32_t DM = m->DM;
    memcpy(x, th + m->emb + (size_t)rows[SMX_SLOT_TOKEN] * DM, DM * sizeof(float));
    for (uint32_t i = 1; i < m->NIN; i++) {
        if (rows[i] == SMX_ROW_NONE) continue;
        const float *row = th + m->emb + (size_t)rows[i] * DM;
        for (uint32_t d = 0; d < DM; d++) x[d] = x[d] + row[d];
    }
}

/* Every row embed_forward added takes the input's gradient dx; the sparse
 * rows (guesses, contexts) it touches are listed for the sparse Adam step. */
static void embed_backward(smx_model *m, const uint32_t *rows, const float *dx) {
    const uint32_t DM = m->DM, first_sparse = m->V + m->NCOST;
    for (uint32_t i = 0; i < m->NIN; i++) {
        if (rows[i] == SMX_ROW_NONE) continue;
        if (rows[i] >= first_sparse && !m->is_touched[rows[i] - first_sparse]) {
            if (m->n_touched == m->touched_cap) {
                m->touched_overflow = 1; /* never with layout's bound: a check that it holds */
            } else {
                m->is_touched[rows[i] - first_sparse] = 1;
                m->touched[m->n_touched++] = rows[i] - first_sparse;
            }
        }
        add_to(DM, m->grad + m->emb + (size_t)rows[i] * DM, dx);
    }
}

/* With the parameters th (and a_neg, derived from them), as the model's
 * own (m->theta) or the next ones (m->theta_next, which the worker replays
 * with before they become current). h_state: the recurrent state, advanced
 * by one token; scratch: room for one position's temporaries (the worker
 * replays chunks with its own). Reads nothing else of m that changes. */
static void forward_into(const smx_model *m, const float *th, const float *a_neg, smx_chunk *ch, uint32_t pos,
                         const uint32_t *rows, float *logits, float *h_state, float *scratch) {
    const uint32_t DM = m->DM;
    float *x = scratch;
    uint32_t *in = ch->in_rows + (size_t)pos * m->NIN;
    if (in != rows) memcpy(in, rows, m->NIN * sizeof(uint32_t));
    embed_forward(m, th, in, x);
    for (uint32_t l = 0; l < m->NL; l++) layer_forward(m, th, a_neg, ch, l, pos, x, h_state, scratch);
    memcpy(ch->xf_in + (size_t)pos * DM, x, DM * sizeof(float));
    float *xf = ch->xf + (size_t)pos * DM;
    layernorm_forward(x, th + m->lnf_w, th + m->lnf_b, xf, &ch->fmean[pos], &ch->frstd[pos], DM);
    head_forward(m, th, xf, logits);
}

void smx_model_forward(smx_model *m, uint32_t pos, const uint32_t *rows, float *logits) {
    forward_into(m, m->theta, m->a_neg, m->cur, pos, rows, logits, m->h_live, m->scratch);
}

void smx_model_begin_chunk(smx_model *m) {
    memcpy(m->cur->h_start, m->h_live, (size_t)m->NL * m->DI * m->DS * sizeof(float));
}

/* ---- backward ---------------------------------------------------------- */

/* The elementwise steps of layer_backward (see the helpers above). */

/* g = y * SiLU(z), y = C . h + D a: dy enters as the gradient on g and
 * leaves as the one on y; the gradients on z, on the skip's input a and on
 * the skip weight D; dta = dt * a for the scan. */
static void gate_backward(uint32_t n, float *restrict dy, float *restrict dz, float *restrict da,
                          float *restrict g_skip, float *restrict dta, const float *restrict gate,
                          const float *restrict y, const float *restrict silu_z, const float *restrict d_skip,
                          const float *restrict a, const float *restrict dt) {
    for (uint32_t i = 0; i < n; i++) {
        float dg = dy[i];
        dy[i] = dg * gate[i];
        dz[i] = dg * y[i] * silu_z[i];
        da[i] = dy[i] * d_skip[i];
        g_skip[i] += dy[i] * a[i];
        dta[i] = dt[i] * a[i];
    }
}

/* From the scan's gradients on dt and on dt * a: those on dt, on a, and
 * through dt = softplus(pre) on pre (into d_dta), dt_w and dt_b. */
static void dt_backward(uint32_t n, float *restrict d_dt, float *restrict da, float *restrict d_dta,
                        float *restrict g_dt_w, float *restrict g_dt_b, const float *restrict a,
                        const float *restrict dt, const float *restrict sigmoid_pre, float s) {
    for (uint32_t i = 0; i < n; i++) {
        d_dt[i] = d_dt[i] + d_dta[i] * a[i];
        da[i] = da[i] + d_dta[i] * dt[i];
        d_dta[i] = d_dt[i] * sigmoid_pre[i];
        g_dt_w[i] += d_dta[i] * s;
        g_dt_b[i] += d_dta[i];
    }
}

/* xc = SiLU(conv): the gradient on the conv's output and its bias. */
static void conv_out_backward(uint32_t n, float *restrict dxc, float *restrict g_conv_b, const float *restrict da,
                              const float *restrict silu_grad) {
    for (uint32_t i = 0; i < n; i++) {
        dxc[i] = da[i] * silu_grad[i];
        g_conv_b[i] += dxc[i];
    }
}

/* On entry m->dres[t] holds the gradient on the layer's output at t; on
 * exit it holds the gradient on the layer's input. */
static void layer_backward(smx_model *m, const smx_chunk *ch, uint32_t l, uint32_t n) {
    const smx_kernels *k = m->k;
    const uint32_t DM = m->DM, DI = m->DI, DS = m->DS, DC = m->DC, NB = m->NBCS;
    const size_t ns = (size_t)DI * DS;
    const float *th = m->theta;
    float *gr = m->grad;
    const smx_layer_offsets *o = &m->L[l];
    const smx_layer_cache *c = &ch->c[l];
    const float *a_neg = m->a_neg + (size_t)l * ns;

    /* scratch layout */
    float *dh = m->bscratch;           /* ns: gradient on h carried backwards in time */
    float *dy = dh + ns;               /* DI */
    float *da = dy + DI;               /* DI */
    float *d_dt = da + DI;             /* DI */
    float *d_dta = d_dt + DI;          /* DI */
    float *du = d_dta + DI;            /* DM */
    float *dta = du + DM;              /* DI */
    float *dhij = dta + DI;            /* DI */
    float *act = dhij + DI;            /* DI: an activation's derivative, one at a time */
    float *dxz = m->dxz;               /* n x 2DI; first DI of row t collect conv grads */
    memset(dh, 0, ns * sizeof(float));
    memset(dxz, 0, (size_t)n * 2 * DI * sizeof(float));

    for (uint32_t tt = n; tt-- > 0;) {
        const float *y = c->y + (size_t)tt * DI;
        const float *gate = c->gate + (size_t)tt * DI;
        const float *xz = c->xz + (size_t)tt * 2 * DI, *z = xz + DI;
        const float *a = c->a + (size_t)tt * DI, *xc = c->xc + (size_t)tt * DI;
        const float *bcs = c->bcs + (size_t)tt * NB, *B = bcs, *C = bcs + DS;
        const float s = bcs[2 * DS];
        const float *dt = c->dt + (size_t)tt * DI, *dt_pre = c->dt_pre + (size_t)tt * DI;
        const float *decay = c->decay + (size_t)tt * ns, *h = c->h + (size_t)tt * ns;
        const float *h_prev = tt > 0 ? c->h + (size_t)(tt - 1) * ns : ch->h_start + (size_t)l * ns;
        float *dres = m->dres + (size_t)tt * DM;
        float *dxo = m->dxo_rows + (size_t)tt * DM, *dbcs = m->dbcs_rows + (size_t)tt * NB;

        memcpy(dxo, dres, DM * sizeof(float));
        /* out-projection: x_out = x_in + W_out g */
        memset(dy, 0, DI * sizeof(float));
        k->matvec_backward_dx(th + o->w_out, dxo, dy, DM, DI);

        /* g = y * SiLU(z); y = C . h + D a */
        float *dz = dxz + (size_t)tt * 2 * DI + DI;
        const float *d_skip = th + o->d_skip;
        k->silu_grad(z, act, DI);
        gate_backward(DI, dy, dz, da, gr + o->d_skip, dta, gate, y, act, d_skip, a, dt);
        memset(d_dt, 0, DI * sizeof(float));
        memset(d_dta, 0, DI * sizeof(float));

        /* selective scan: h_j = decay_j * h_prev_j + B_j * (dt a), decay = exp(dt A) */
        float *dB = dbcs, *dC = dbcs + DS;
        k->scan_backward(dy, h, h_prev, decay, a_neg, dt, dta, B, C, dh, d_dt, d_dta,
                         gr + o->a_log, dB, dC, dhij, DI, DS);
        const float *dt_w = th + o->dt_w;
        k->sigmoid(dt_pre, act, DI);
        dt_backward(DI, d_dt, da, d_dta, gr + o->dt_w, gr + o->dt_b, a, dt, act, s); /* d_dta: now d pre */
        dbcs[2 * DS] = k->dot(d_dta, dt_w, DI);
        k->matvec_backward_dx(th + o->w_x, dbcs, da, NB, DI);

        /* SiLU and the causal conv */
        float *dxc = dy; /* dy no longer needed */
        k->silu_grad(xc, act, DI);
        conv_out_backward(DI, dxc, gr + o->conv_b, da, act);
        const float *cw = th + o->conv_w;
        for (uint32_t kk = 0; kk < DC; kk++) {
            uint32_t lag = DC - 1 - kk;
            const float *src = conv_input(m, ch, l, tt, lag);
            float *gw = gr + o->conv_w + (size_t)kk * DI;
            const float *w = cw + (size_t)kk * DI;
            mul_add(DI, gw, dxc, src);
            if (lag <= tt) mul_add(DI, dxz + (size_t)(tt - lag) * 2 * DI, dxc, w);
        }
        /* Row tt of dxz is now complete (later positions were done first). */
        memset(du, 0, DM * sizeof(float));
        k->matvec_backward_dx(th + o->w_in, dxz + (size_t)tt * 2 * DI, du, 2 * DI, DM);
        layernorm_backward(c->x_in + (size_t)tt * DM, c->mean[tt], c->rstd[tt], th + o->ln_w,
                           du, gr + o->ln_w, gr + o->ln_b, dres, DM);
    }

    /* The projections' weight gradients, one pass over the chunk each, the
     * positions added last to first as the loop above met them: every weight
     * sums the same terms in the same order as when each position added its
     * own, while the weight stays in a register instead of a trip through
     * memory per position. */
    if (n == 0) return;
    const size_t last = n - 1;
    k->outer_acc(gr + o->w_out, DM, c->g + last * DI, -(ptrdiff_t)DI, DI, m->dxo_rows + last * DM,
                 -(ptrdiff_t)DM, n, 0, DM);
    k->outer_acc(gr + o->w_x, NB, c->a + last * DI, -(ptrdiff_t)DI, DI, m->dbcs_rows + last * NB,
                 -(ptrdiff_t)NB, n, 0, NB);
    k->outer_acc(gr + o->w_in, 2 * DI, c->u + last * DM, -(ptrdiff_t)DM, DM, dxz + last * 2 * DI,
                 -(ptrdiff_t)(2 * DI), n, 0, 2 * DI);
}

void smx_model_own_dlogits(const smx_model *m, const float *probs, uint32_t target, float smoothing,
                           float scale, float *out) {
    const float off = smoothing / (float)m->V;
    const float on = 1.0f - smoothing;
    for (uint32_t v = 0; v < m->V; v++) out[v] = (probs[v] - off) * scale;
    out[target] = out[target] - on * scale;
    for (size_t v = m->V; v < m->Vp; v++) out[v] = 0.0f;
}


/* Runs the forward pass over the first n positions of ch again (its in_rows,
 * from the state in h_state) and leaves scale x d(smoothed CE)/d logits of
 * each position in ch->probs: training on a chunk away from its prediction. */
static void recompute_dlogits(const smx_model *m, const float *th, const float *a_neg, smx_chunk *ch, uint32_t n,
                              float *h_state, float *scratch, float smoothing, float scale) {
    float *logits = scratch + SCRATCH_FIXED(m);
    for (uint32_t t = 0; t < n; t++) {
        float *probs = ch->probs + (size_t)t * m->Vp;
        forward_into(m, th, a_neg, ch, t, ch->in_rows + (size_t)t * m->NIN, logits, h_state, scratch);
        smx_softmax(m->k, logits, probs, m->Vp, NULL);
        smx_model_own_dlogits(m, probs, ch->target[t], smoothing, scale, probs);
    }
}

void smx_model_backward(smx_model *m, smx_chunk *ch, uint32_t n) {
    const uint32_t DM = m->DM;
    float *dxf = m->dxz; /* borrowed: n x DM fits in n x 2DI */
    head_backward(m, ch, n, dxf);
    if (m->has_head_bias) { /* summed over the chunk in position order */
        float *db = m->grad + m->head_b;
        for (uint32_t t = 0; t < n; t++) add_to(m->V, db, ch->probs + (size_t)t * m->Vp);
    }
    memset(m->dres, 0, (size_t)n * DM * sizeof(float));
    for (uint32_t t = 0; t < n; t++)
        layernorm_backward(ch->xf_in + (size_t)t * DM, ch->fmean[t], ch->frstd[t],
                           m->theta + m->lnf_w, dxf + (size_t)t * DM, m->grad + m->lnf_w,
                           m->grad + m->lnf_b, m->dres + (size_t)t * DM, DM);
    for (uint32_t l = m->NL; l-- > 0;) layer_backward(m, ch, l, n);
    for (uint32_t t = 0; t < n; t++) embed_backward(m, ch->in_rows + (size_t)t * m->NIN, m->dres + (size_t)t * DM);
}

void smx_model_chunk_gradient(smx_model *m, smx_chunk *ch, uint32_t n) {
    /* the sparse rows' gradient is zero but where the last step touched it
     * (without sparse rows the two spans are the whole gradient) */
    memset(m->grad, 0, m->sparse_off * sizeof(float));
    memset(m->grad + m->sparse_end, 0, (m->n_params - m->sparse_end) * sizeof(float));
    for (uint32_t i = 0; i < m->n_touched; i++) {
        memset(m->grad + m->sparse_off + (size_t)m->touched[i] * m->DM, 0, m->DM * sizeof(float));
        m->is_touched[m->touched[i]] = 0;
    }
    m->n_touched = 0;
    smx_model_backward(m, ch, n);
}

void smx_model_swap_params(smx_model *m) {
    float *t = m->theta;
    m->theta = m->theta_next;
    m->theta_next = t;
    t = m->a_neg;
    m->a_neg = m->a_neg_next;
    m->a_neg_next = t;
}

void smx_model_next_chunk(smx_model *m, uint32_t n) {
    const uint32_t DI = m->DI, DC = m->DC;
    smx_chunk *cur = m->cur, *next = m->prev;
    /* The next chunk's conv history: the last DC-1 SSM-branch inputs, some
     * possibly from before this chunk when it is shorter than DC-1. */
    for (uint32_t l = 0; l < m->NL; l++)
        for (uint32_t j = 0; j + 1 < DC; j++) {
            int64_t rel = (int64_t)n - (int64_t)(DC - 1) + (int64_t)j; /* relative to the chunk start */
            const float *src = rel >= 0 ? cur->c[l].xz + (size_t)rel * 2 * DI
                                        : cur->conv_start + ((size_t)l * (DC - 1) + (size_t)((int64_t)(DC - 1) + rel)) * DI;
            memcpy(next->conv_start + ((size_t)l * (DC - 1) + j) * DI, src, DI * sizeof(float));
        }
    m->prev = cur;
    m->cur = next;
}

void smx_model_train_chunk(smx_model *m, const smx_params *p, uint32_t n, uint32_t steps) {
    const size_t ns = (size_t)m->NL * m->DI * m->DS;
    smx_chunk *ch = m->prev;
    /* State after the prediction pass: where the next chunk starts. */
    memcpy(m->h_saved, m->h_live, ns * sizeof(float));
    for (uint32_t step = 0; step < steps; step++) {
        if (step > 0) {
            /* Later steps see the updated weights: recompute the chunk,
             * and train it on its own cross-entropy (the coded loss is
             * only known for the weights that coded it). */
            memcpy(m->h_live, ch->h_start, ns * sizeof(float));
            recompute_dlogits(m, m->theta, m->a_neg, ch, n, m->h_live, m->scratch, p->label_smoothing,
                              1.0f / (float)n);
        }
        smx_model_chunk_gradient(m, ch, n);
        smx_adam_step(m, p);
    }
    memcpy(m->h_live, m->h_saved, ns * sizeof(float));
}

/* ---- replay -------------------------------------------------------------- */

/* Online, each chunk is learnt once, with one Adam step; the SSM then sees
 * every token once while the context models count every one. Learning one
 * earlier chunk again beside each new one works like a second epoch over
 * the past. The replayed chunk starts from a zero state: that lost nothing
 * against storing each chunk's start state (bench/README.md), and keeps the
 * store to the tokens. */

void smx_model_replay_store(smx_model *m, const smx_chunk *ch, uint32_t n) {
    if (m->R == 0 || n != m->T) return;
    const size_t ni = (size_t)m->NIN * m->T;
    const uint64_t at = m->replay_stored % m->R;
    uint32_t *slot = m->replay_tokens + (size_t)at * (ni + m->T);
    memcpy(slot, ch->in_rows, ni * sizeof(uint32_t));
    memcpy(slot + ni, ch->target, m->T * sizeof(uint32_t));
    if (m->replay_miss) {
        /* ch->probs holds d loss / d logits by now: at a target, minus the
         * (weighted) probability the SSM failed to give it */
        float miss = 0.0f;
        for (uint32_t t = 0; t < n; t++) {
            const float d = ch->probs[(size_t)t * m->Vp + ch->target[t]];
            miss = miss + (d < 0.0f ? -d : d);
        }
        m->replay_miss[at] = miss;
    }
    m->replay_stored++;
}

/* The ring slot of a stored chunk 1 .. have-1 chunks back, uniformly, with
 * `stored` chunks stored: the newest was just learnt. */
static uint64_t draw_slot(const smx_model *m, rng *r, uint64_t have, uint64_t stored) {
    const uint64_t age = 1 + splitmix64(r) % (have - 1);
    return (stored - 1 - age) % m->R;
}

static uint64_t replay_have(const smx_model *m, uint64_t stored) { return stored < m->R ? stored : m->R; }

/* Recomputes the draw-th replayed chunk of the step `index`, with `stored`
 * chunks stored, from a zero state with the parameters th: its activations
 * and weight x its mean cross-entropy's gradient, into m->replay[draw]. Draw
 * 0 seeds with index itself, as format 8 did. With several candidates, the
 * chunk is the one the SSM missed most when it was coded (the first of
 * equals): what it got wrong is worth learning again more than what it
 * already knew. */
static void replay_forward(smx_model *m, const float *th, const float *a_neg, uint64_t index, uint32_t draw,
                           uint64_t stored, float weight) {
    const uint64_t have = replay_have(m, stored);
    rng draw_rng = {index ^ (0x9E3779B97F4A7C15ull * draw)};
    uint64_t pick = draw_slot(m, &draw_rng, have, stored);
    for (uint32_t c = 1; c < m->replay_candidates; c++) {
        const uint64_t other = draw_slot(m, &draw_rng, have, stored);
        if (m->replay_miss[other] > m->replay_miss[pick]) pick = other;
    }
    const uint32_t T = m->T;
    const size_t ni = (size_t)m->NIN * T;
    const uint32_t *slot = m->replay_tokens + (size_t)pick * (ni + T);
    smx_chunk *ch = &m->replay[draw];
    memcpy(ch->in_rows, slot, ni * sizeof(uint32_t));
    memcpy(ch->target, slot + ni, T * sizeof(uint32_t));
    memset(m->replay_h, 0, (size_t)m->NL * m->DI * m->DS * sizeof(float));
    recompute_dlogits(m, th, a_neg, ch, T, m->replay_h, m->replay_scratch, 0.0f, weight / (float)T);
}

void smx_model_replay_prepare(smx_model *m, const float *th, const float *a_neg, uint64_t index, uint64_t stored,
                              uint64_t adam_steps, float weight) {
    m->ahead.ready = 0;
    if (m->R == 0 || replay_have(m, stored) < 2 || weight == 0.0f) return;
    for (uint32_t draw = 0; draw < m->replay_draws; draw++) replay_forward(m, th, a_neg, index, draw, stored, weight);
    m->ahead = (struct smx_replay_ahead){1, index, stored, adam_steps, th, weight};
}

void smx_model_replay_gradient(smx_model *m, uint64_t index, float weight) {
    const uint64_t stored = m->replay_stored;
    /* the forward passes done ahead hold if they were for this step, with
     * these parameters: the same buffer, and no Adam step since */
    const int ahead = m->ahead.ready && m->ahead.index == index && m->ahead.stored == stored
                      && m->ahead.adam_steps == m->adam_steps && m->ahead.theta == m->theta
                      && m->ahead.weight == weight;
    m->ahead.ready = 0;
    if (replay_have(m, stored) < 2 || weight == 0.0f) return;
    /* Each draw's forward pass reads only the parameters, and each backward
     * pass only adds to the gradient: all forward passes first, then the
     * backward passes in draw order, give what one draw after the other
     * gave, to the bit. */
    if (!ahead)
        for (uint32_t draw = 0; draw < m->replay_draws; draw++)
            replay_forward(m, m->theta, m->a_neg, index, draw, stored, weight);
    for (uint32_t draw = 0; draw < m->replay_draws; draw++) smx_model_backward(m, &m->replay[draw], m->T);
}

/* ---- construction ------------------------------------------------------ */

/* uniform in [-a, a) */
static float uniform(rng *r, float a) {
    float u = (float)(splitmix64(r) >> 40) * (1.0f / 16777216.0f);
    return (2.0f * u - 1.0f) * a;
}

static void fill_uniform(float *x, size_t n, rng *r, float a) {
    for (size_t i = 0; i < n; i++) x[i] = uniform(r, a);
}

static void fill_const(float *x, size_t n, float v) {
    for (size_t i = 0; i < n; i++) x[i] = v;
}

/* Every array of the model lives in one block. The layout is computed
 * twice: first without a block, to learn its size (smx_model_memory), then
 * with it. */
typedef struct arena {
    float *base; /* NULL while measuring */
    size_t used; /* floats handed out so far */
} arena;

static float *take(arena *a, size_t n) {
    float *p = a->base ? a->base + a->used : NULL;
    a->used += (n + 15u) & ~(size_t)15u; /* 64-byte aligned arrays */
    return p;
}

static void set_dims(smx_model *m, const smx_params *p) {
    m->V = p->vocab;
    m->Vp = (p->vocab + 7u) & ~7u;
    m->DM = p->d_model;
    m->DI = p->d_inner;
    m->DS = p->d_state;
    m->DC = p->d_conv;
    m->NL = p->n_layers;
    m->T = p->chunk;
    m->NBCS = 2 * p->d_state + 1;
    m->has_head_bias = p->head_bias != 0;
    m->n_blocks = (m->Vp + HEAD_BLOCK - 1) / HEAD_BLOCK;
    m->R = p->replay > 0.0f ? p->replay_chunks : 0;
    m->replay_draws = 1 + p->replay_extra;
    m->replay_candidates = p->replay_candidates > 1 ? p->replay_candidates : 1;
    m->NCOST = p->ssm_cost_input;
    m->NGUESS = p->ssm_guess_input ? m->V * (1u + p->n_orders) : 0;
    m->NCTX = p->ssm_context_bits ? 1u << p->ssm_context_bits : 0;
    m->NSPARSE = m->NGUESS + m->NCTX;
    m->NIN = p->ssm_nest_context   ? SMX_SLOT_NEST + 1
             : p->ssm_context_bits ? SMX_SLOT_WORD + 1
             : p->ssm_guess_input  ? SMX_SLOT_NGRAM + 1
                                   : SMX_SLOT_COST + 1;
    m->n_rows = m->V + m->NCOST + m->NSPARSE;
}

/* Assigns one chunk's activation cache from a. */
static void layout_chunk(const smx_model *m, arena *a, smx_chunk *ch) {
    const size_t DM = m->DM, DI = m->DI, DS = m->DS, DC = m->DC, T = m->T, Vp = m->Vp, NL = m->NL,
                 NB = m->NBCS;
    ch->h_start = take(a, NL * DI * DS);
    ch->conv_start = take(a, NL * (DC - 1) * DI);
    for (size_t l = 0; l < NL; l++) {
        smx_layer_cache *c = &ch->c[l];
        c->x_in = take(a, T * DM);
        c->mean = take(a, T);
        c->rstd = take(a, T);
        c->u = take(a, T * DM);
        c->xz = take(a, T * 2 * DI);
        c->xc = take(a, T * DI);
        c->a = take(a, T * DI);
        c->bcs = take(a, T * NB);
        c->dt_pre = take(a, T * DI);
        c->dt = take(a, T * DI);
        c->decay = take(a, T * DI * DS);
        c->h = take(a, T * DI * DS);
        c->y = take(a, T * DI);
        c->gate = take(a, T * DI);
        c->g = take(a, T * DI);
    }
    ch->xf_in = take(a, T * DM);
    ch->fmean = take(a, T);
    ch->frstd = take(a, T);
    ch->xf = take(a, T * DM);
    ch->probs = take(a, T * Vp);
    ch->in_rows = (uint32_t *)take(a, T * m->NIN); /* uint32_t is float-sized */
    ch->target = (uint32_t *)take(a, T);
}

/* Assigns every array of m from a (m's dimensions must be set). */
static void layout(smx_model *m, arena *a) {
    const size_t DM = m->DM, DI = m->DI, DS = m->DS, DC = m->DC, T = m->T, V = m->V,
                 Vp = m->Vp, NL = m->NL, NB = m->NBCS;
    size_t off = 0;
    m->emb = off; off += (size_t)m->n_rows * DM;
    for (size_t l = 0; l < NL; l++) {
        smx_layer_offsets *o = &m->L[l];
        o->ln_w = off; off += DM;
        o->ln_b = off; off += DM;
        o->w_in = off; off += 2 * DI * DM;
        o->conv_w = off; off += DI * DC;
        o->conv_b = off; off += DI;
        o->w_x = off; off += NB * DI;
        o->dt_w = off; off += DI;
        o->dt_b = off; off += DI;
        o->a_log = off; off += DI * DS;
        o->d_skip = off; off += DI;
        o->w_out = off; off += DM * DI;
    }
    m->lnf_w = off; off += DM;
    m->lnf_b = off; off += DM;
    m->head = off; off += DM * Vp;
    m->head_b = off;
    if (m->has_head_bias) off += V;
    m->n_params = off;
    m->sparse_off = m->emb + (size_t)(V + m->NCOST) * DM;
    m->sparse_end = m->emb + (size_t)m->n_rows * DM;

    m->theta = take(a, off);
    m->grad = take(a, off);
    m->adam_m = take(a, off);
    m->adam_v = take(a, off);
    m->a_neg = take(a, NL * DI * DS);
    m->theta_next = take(a, off);
    m->a_neg_next = take(a, NL * DI * DS);
    if (m->NSPARSE) {
        /* a step's gradient touches at most a chunk's and the replayed ones'
         * positions, each through its slots after the cost's */
        const size_t most_touched = (1 + (size_t)m->replay_draws) * (m->NIN - (SMX_SLOT_COST + 1)) * T;
        m->touched = (uint32_t *)take(a, most_touched); /* uint32_t is float-sized */
        m->touched_cap = (uint32_t)most_touched;
        m->stale = (uint32_t *)take(a, most_touched);
        m->is_touched = (uint8_t *)take(a, (m->NSPARSE + 3) / 4);
        m->row_step = (uint64_t *)take(a, 2 * (size_t)m->NSPARSE); /* two floats a counter */
    }
    m->h_live = take(a, NL * DI * DS);
    m->h_saved = take(a, NL * DI * DS);
    layout_chunk(m, a, &m->chunks[0]);
    layout_chunk(m, a, &m->chunks[1]);
    if (m->R)
        for (uint32_t d = 0; d < m->replay_draws; d++) layout_chunk(m, a, &m->replay[d]);
    m->cur = &m->chunks[0];
    m->prev = &m->chunks[1];
    m->dres = take(a, T * DM);
    m->dxz = take(a, T * (2 * DI > DM ? 2 * DI : DM));
    m->dxo_rows = take(a, T * DM);
    m->dbcs_rows = take(a, T * NB);
    m->scratch = take(a, SCRATCH_FIXED(m) + Vp);
    m->bscratch = take(a, SCRATCH_FIXED(m));
    m->head_part = take(a, T * DM * m->n_blocks);
    if (m->R) {
        m->replay_tokens = (uint32_t *)take(a, (size_t)m->R * (m->NIN + 1) * T);
        m->replay_h = take(a, NL * DI * DS);
        m->replay_scratch = take(a, SCRATCH_FIXED(m) + Vp);
        if (m->replay_candidates > 1) m->replay_miss = take(a, m->R);
    }
}

uint64_t smx_model_memory(const smx_params *p) {
    smx_model m;
    memset(&m, 0, sizeof m);
    set_dims(&m, p);
    arena a = {NULL, 0};
    layout(&m, &a);
    return (uint64_t)a.used * sizeof(float);
}

int smx_model_init(smx_model *m, const smx_params *p, const smx_kernels *k) {
    memset(m, 0, sizeof *m);
    m->k = k;
    set_dims(m, p);
    arena a = {NULL, 0};
    layout(m, &a);
    /* the embedding's sparse rows are read at random, like a hashed table */
    m->block = smx_table_alloc(a.used * sizeof(float));
    if (!m->block) return -1;
    a = (arena){m->block, 0};
    layout(m, &a);
    const size_t DM = m->DM, DI = m->DI, DS = m->DS, DC = m->DC, V = m->V, NL = m->NL, NB = m->NBCS;

    rng r = {0x5eed0000ull ^ (uint64_t)p->seed};
    float *th = m->theta;
    fill_uniform(th + m->emb, V * DM, &r, 1.0f);
    /* the rows after the tokens' (cost buckets, guesses, contexts) start at zero:
     * until the SSM learns, they change nothing */
    for (size_t l = 0; l < NL; l++) {
        const smx_layer_offsets *o = &m->L[l];
        fill_const(th + o->ln_w, DM, 1.0f);
        fill_uniform(th + o->w_in, 2 * DI * DM, &r, 1.0f / smx_sqrt((float)DM));
        fill_uniform(th + o->conv_w, DI * DC, &r, 1.0f / smx_sqrt((float)DC));
        fill_uniform(th + o->conv_b, DI, &r, 1.0f / smx_sqrt((float)DC));
        fill_uniform(th + o->w_x, NB * DI, &r, 1.0f / smx_sqrt((float)DI));
        fill_uniform(th + o->dt_w, DI, &r, 1.0f);
        for (size_t i = 0; i < DI; i++) {
            /* dt log-uniform in [0.001, 0.1]; dt_b = softplus^-1(dt) = log(e^dt - 1) */
            float u01 = 0.5f * (uniform(&r, 1.0f) + 1.0f);
            float dt = smx_exp(smx_log(0.001f) + u01 * (smx_log(0.1f) - smx_log(0.001f)));
            th[o->dt_b + i] = smx_log(smx_exp(dt) - 1.0f);
            for (size_t j = 0; j < DS; j++) th[o->a_log + j * DI + i] = smx_log((float)(j + 1));
        }
        fill_const(th + o->d_skip, DI, 1.0f);
        fill_uniform(th + o->w_out, DM * DI, &r, 1.0f / smx_sqrt((float)DI));
    }
    fill_const(th + m->lnf_w, DM, 1.0f);
    /* head starts at zero: the first predictions are uniform */
    m->b1_pow = 1.0f;
    m->b2_pow = 1.0f;
    m->grad_sq_mean = 0.0f;
    smx_refresh_derived(m);
    return 0;
}

void smx_model_free(smx_model *m) {
    smx_table_free(m->block);
    memset(m, 0, sizeof *m);
}

void smx_model_tables(const smx_model *m, smx_table_list *l) { smx_table_list_add(l, m->block); }
