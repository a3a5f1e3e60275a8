/*
 * nabla/autograd.h - reverse-mode differentiation, grad mode and gradient checking.
 */
#ifndef NABLA_AUTOGRAD_H
#define NABLA_AUTOGRAD_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Backpropagates from a tensor of size 1 (seed 1): runs the backward rule of every op
 * between the leaves and `loss` once, in reverse topological order, and accumulates
 * (+=) into the grad of every leaf that requires grad. Intermediates on the path hold
 * their gradient in ->grad until the step is reset. Calling it twice accumulates twice.
 * Errors: NB_ERR_NULL (loss NULL), NB_ERR_SHAPE (loss has more than one element),
 * NB_ERR_STATE (loss does not depend on anything that requires grad), NB_ERR_NOMEM. */
nb_status nb_backward(nb_tensor *out);

/* Like nb_backward for an output of any shape: `seed` (same shape as out) is d(loss)/d(out). */
nb_status nb_backward_seed(nb_tensor *out, const nb_tensor *seed);

/* Grad mode: while disabled, ops record nothing (inference, parameter updates).
 * nb_set_grad_enabled returns the previous mode so calls nest:
 *     bool prev = nb_set_grad_enabled(false); ...; nb_set_grad_enabled(prev); */
bool nb_grad_enabled(void);
bool nb_set_grad_enabled(bool enabled);

/* Anomaly mode (PyTorch's detect_anomaly): while on, every op's output is checked for
 * NaN and infinity after its forward, and every gradient an op adds into after its
 * backward. The first one found makes the op (or nb_backward) fail with NB_ERR_NUMERIC
 * and a message naming the op, its input shapes, forward or backward, and the scope it
 * ran in (the layer, see nb_set_scope), e.g.
 *     "anomaly: forward of log in dense_2 (inputs [4,3]) produced -inf at output element 5"
 * or saying which input already held the bad value. Off by default; off, it costs
 * nothing. Returns the previous mode. */
bool nb_set_anomaly_check(bool enabled);
bool nb_anomaly_check_enabled(void);

/* ---- gradient checking ---- */

/* The function under test: builds its output from `inputs` with ops (and any state in ud). */
typedef nb_tensor *(*nb_gradcheck_fn)(nb_tensor *const *inputs, void *ud);

typedef struct nb_gradcheck_opts {
    float eps;      /* finite-difference step (default 1e-3), finite and > 0 */
    float atol;     /* pass if |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|) */
    float rtol;     /* defaults 1e-3 and 1e-2; finite and >= 0 */
    uint64_t seed;  /* seed of the random weights that reduce the output to a scalar */
} nb_gradcheck_opts;

typedef struct nb_gradcheck_result {
    bool passed;          /* every checked element within tolerance */
    int64_t checked;      /* elements compared */
    double max_abs_err;   /* worst |analytic - numeric| */
    double max_rel_err;   /* worst |analytic - numeric| / max(|analytic|, |numeric|, 1e-12) */
    int worst_input;      /* where the worst excess over tolerance was (-1 if none) */
    int64_t worst_index;  /* flat index in that input */
    double worst_analytic, worst_numeric;
    double max_abs_grad;  /* largest |analytic| seen: 0 means the gradient is trivially zero */
} nb_gradcheck_result;

/* Compares analytic gradients with central finite differences. The output y = f(inputs)
 * is reduced to L = sum(r * y) with fixed random weights r, so every output element is
 * checked. Inputs must exist before the call (persistent tensors, or step tensors made
 * earlier); the values of each input that requires grad are perturbed and restored, and
 * its grad is overwritten. opts may be NULL for the defaults.
 *
 * An element fails when the analytic or the numeric derivative is NaN or infinite, or
 * when they differ by more than the tolerance. The state inputs of the ops f runs
 * (NB_INPUT_STATE, e.g. batch norm's running statistics) are restored after every
 * evaluation of f, so they neither drift nor change the result.
 *
 * Returns NB_OK when every evaluation ran (see res->passed for the verdict), or the
 * error of a failed evaluation; res is always written when not NULL (passed = false on
 * an error). Argument errors (NB_ERR_ARG): f or res NULL, a bad n_inputs, an eps that is
 * not finite and positive, a NaN, infinite or negative tolerance, an eps too small to
 * change an input's value. Step memory used by the check is given back. */
nb_status nb_gradcheck(nb_gradcheck_fn f, nb_tensor *const *inputs, int n_inputs, void *ud,
                       const nb_gradcheck_opts *opts, nb_gradcheck_result *res);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_AUTOGRAD_H */
