/* Adam with global-norm gradient clipping over the model's flat parameters. */
#ifndef SMX_OPTIM_H
#define SMX_OPTIM_H

#include "model.h"

/* One Adam step from m->grad; also refreshes the values derived from the
 * parameters (A = -exp(A_log)). */
void smx_adam_step(smx_model *m, const smx_params *p);

/* Recomputes m->a_neg from the A_log parameters. */
void smx_refresh_derived(smx_model *m);

#endif
