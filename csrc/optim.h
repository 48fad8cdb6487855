/* Adam with global-norm gradient clipping over the model's flat parameters. */
#ifndef SMX_OPTIM_H
#define SMX_OPTIM_H

#include "model.h"

/* One Adam step from m->grad, in place; also refreshes the values derived
 * from the parameters (A = -exp(A_log)). */
void smx_adam_step(smx_model *m, const smx_params *p);

/* The same step written to m->theta_next and m->a_neg_next, leaving the
 * current parameters untouched: the training pipeline's worker runs it
 * while the forward pass reads theta, and smx_model_swap_params installs
 * the result at the next chunk boundary. The numbers are those of
 * smx_adam_step. */
void smx_adam_step_aside(smx_model *m, const smx_params *p);

/* Recomputes m->a_neg from the A_log parameters. */
void smx_refresh_derived(smx_model *m);

#endif
