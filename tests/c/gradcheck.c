/* Numerical gradient check of the Mamba backward pass (run by tests/test_gradients.py).
 * Prints one line per parameter group: name and worst relative error; exits 1 if any
 * group is off by more than 5%. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "model.h"
#include "optim.h"
#include "smx_math.h"
/* loss over chunk from chunk-start state, smoothing eps */
static double chunk_loss(smx_model *m, uint32_t n, float eps, float *logits) {
  size_t ns = (size_t)m->NL*m->DI*m->DS;
  memcpy(m->h_live, m->cur->h_start, ns*4);
  double L = 0;
  for (uint32_t t=0;t<n;t++){
    smx_model_forward(m, t, m->cur->in_rows + (size_t)t*m->NIN, logits);
    float *p = m->cur->probs + (size_t)t*m->Vp;
    smx_softmax(m->k, logits, p, m->Vp, NULL);
    for (uint32_t v=0; v<m->V; v++){ double tv = eps/m->V + (v==m->cur->target[t] ? 1-eps : 0); L -= tv*log((double)p[v]); }
  }
  return L/n;
}
int main(void){
  smx_params p; memset(&p,0,sizeof p);
  p.vocab=40; p.d_model=8; p.d_inner=16; p.d_state=4; p.d_conv=4; p.n_layers=2; p.chunk=12;
  p.lr=0.002f; p.beta1=.9f; p.beta2=.999f; p.eps=1e-8f; p.clip=5; p.label_smoothing=0.1f; p.head_bias=1;
  /* inputs of several rows: a cost bucket, both guesses and both hashed contexts (model.h) */
  p.ssm_cost_input=3; p.ssm_guess_input=1; p.n_orders=2; p.ssm_context_bits=4;
  smx_model m; smx_model_init(&m,&p,&smx_kernels_scalar);
  srand(3);
  for (size_t i=0;i<m.n_params;i++) m.theta[i] += 0.3f*((rand()/(float)RAND_MAX)-0.5f);
  smx_refresh_derived(&m);
  for (size_t i=0;i<(size_t)m.NL*m.DI*m.DS;i++) m.h_live[i] = 0.2f*((rand()/(float)RAND_MAX)-0.5f);
  for (size_t i=0;i<(size_t)m.NL*(m.DC-1)*m.DI;i++) m.cur->conv_start[i] = ((rand()/(float)RAND_MAX)-0.5f);
  smx_model_begin_chunk(&m);
  uint32_t n=12; float logits[64]; int bad = 0;
  for (uint32_t t=0;t<n;t++){
    uint32_t *in = m.cur->in_rows + (size_t)t*m.NIN;
    in[SMX_SLOT_TOKEN]=rand()%40; m.cur->target[t]=rand()%40;
    in[SMX_SLOT_COST] = t%4==3 ? SMX_ROW_NONE : smx_row_cost(&m, rand()%3);
    in[SMX_SLOT_MATCH] = t%3==2 ? SMX_ROW_NONE : smx_row_match_guess(&m, rand()%40);
    in[SMX_SLOT_NGRAM] = smx_row_ngram_guess(&m, rand()%2, rand()%40);
    in[SMX_SLOT_PAIR] = t%5==4 ? SMX_ROW_NONE : smx_row_context(&m, rand()%16);
    in[SMX_SLOT_WORD] = smx_row_context(&m, rand()%16);
  }
  chunk_loss(&m,n,0.1f,logits);
  /* dlogits */
  for (uint32_t t=0;t<n;t++){ float *pp=m.cur->probs+(size_t)t*m.Vp; for(uint32_t v=0;v<m.V;v++) pp[v]=(pp[v]-0.1f/m.V)/n; pp[m.cur->target[t]] -= 0.9f/n; }
  memset(m.grad,0,m.n_params*4);
  smx_model_backward(&m,m.cur,n);
  const char *names[]={"emb","ln_w","ln_b","w_in","conv_w","conv_b","w_x","dt_w","dt_b","a_log","d_skip","w_out","lnf_w","lnf_b","head","head_b"};
  size_t offs[16]={m.emb,m.L[0].ln_w,m.L[0].ln_b,m.L[0].w_in,m.L[0].conv_w,m.L[0].conv_b,m.L[0].w_x,m.L[0].dt_w,m.L[0].dt_b,m.L[0].a_log,m.L[0].d_skip,m.L[0].w_out,m.lnf_w,m.lnf_b,m.head,m.head_b};
  size_t lens[16]={m.n_rows*m.DM, m.DM,m.DM,m.DM*2*m.DI,m.DC*m.DI,m.DI,m.DI*m.NBCS,m.DI,m.DI,m.DS*m.DI,m.DI,m.DI*m.DM,m.DM,m.DM,m.DM*m.Vp,m.V};
  for (int g=0; g<16; g++){
    double maxrel=0; 
    for (int r=0;r<6;r++){
      size_t i = offs[g] + (size_t)(rand()% (int)lens[g]);
      if (g==0) { /* a row some input read: each slot in turn */
        uint32_t row = SMX_ROW_NONE;
        for (uint32_t t=(uint32_t)r; row==SMX_ROW_NONE; t=(t+1)%n) row = m.cur->in_rows[(size_t)t*m.NIN + r%m.NIN];
        i = offs[0] + (size_t)row*m.DM + rand()%m.DM;
      }
      float save=m.theta[i]; float h=1e-2f;
      m.theta[i]=save+h; smx_refresh_derived(&m); double lp=chunk_loss(&m,n,0.1f,logits);
      m.theta[i]=save-h; smx_refresh_derived(&m); double lm=chunk_loss(&m,n,0.1f,logits);
      m.theta[i]=save; smx_refresh_derived(&m);
      double num=(lp-lm)/(2*h), an=m.grad[i];
      double rel=fabs(num-an)/(fabs(num)+fabs(an)+1e-4);
      if (rel>maxrel) maxrel=rel;
      if (rel>0.05) printf("  %s[%zu] num=%.6g an=%.6g\n",names[g],i-offs[g],num,an);
    }
    printf("%-7s maxrel %.4f\n",names[g],maxrel);
    if (maxrel > 0.05) bad = 1;
  }
  return bad;
}
