/*
 * nabla/params.h - the parameter store: named tensors on two flat arenas.
 *
 * A store holds entries of two kinds: parameters (trained: they have a gradient) and
 * buffers (state saved and loaded with the model that gets no gradient, such as batch
 * norm's running statistics -- PyTorch's register_buffer). Every value lives in one
 * contiguous value arena, every gradient in one contiguous grad arena, laid out as
 *
 *     values: [ parameters, in the order added | buffers, in the order added ]
 *     grads:  [ parameters, at the same offsets ]
 *
 * packed with no gaps, so an optimizer step is one loop over the parameters' values and
 * grads, zero-grad is one memset, an allreduce of every gradient is one call and a
 * checkpoint's data is one write. Each entry is a tensor that views the arenas and works
 * with every op; a parameter's grad is a view of the grad arena, and it requires grad.
 *
 *     nb_params *ps = nb_params_new();
 *     nb_tensor *w = nb_params_add(ps, "dense_1.kernel", NB_PARAM, NB_SHAPE(784, 256));
 *     nb_tensor *rm = nb_params_add(ps, "bn.running_mean", NB_BUFFER, NB_SHAPE(256));
 *     ...                          // initialise w->data, use w in ops
 *     nb_params_finalize(ps);      // the layout is fixed from here on
 *     ...  nb_backward(loss); update nb_params_values(ps) from nb_params_grads(ps);
 *     nb_params_zero_grad(ps);
 *     nb_params_free(ps);
 *
 * Layout rules. Entries can be added until nb_params_finalize (layers add theirs when
 * they first see an input). Until then adding an entry may move the arenas: every
 * entry's data and grad->data are re-pointed, so the nb_tensor pointers the store
 * returned stay valid for its whole life, but a float pointer into an entry's data (or
 * into nb_params_values) is valid only until the next nb_params_add. After
 * nb_params_finalize (optimizers, checkpoints and data-parallel training call it) the
 * arenas never move and adding is an error.
 *
 * Memory: the store owns its entries, their names and both arenas; nb_params_free
 * releases all of it (at the end of the step if a recorded graph still uses an entry).
 * Never pass an entry to nb_tensor_free (it is a view: that is a no-op).
 */
#ifndef NABLA_PARAMS_H
#define NABLA_PARAMS_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_params nb_params;

typedef enum nb_param_kind {
    NB_PARAM = 0,  /* trained: has a grad in the grad arena */
    NB_BUFFER,     /* saved and loaded, never trained: no grad */
} nb_param_kind;

/* Longest entry name, without the terminating NUL. */
#define NB_PARAM_NAME_MAX 200

/* An empty store, or NULL (NB_ERR_NOMEM). */
nb_params *nb_params_new(void);

/* Releases the store and everything in it. NULL is allowed. */
void nb_params_free(nb_params *ps);

/* Adds an entry of zeros named `name` and returns it (owned by the store), or NULL:
 * NB_ERR_NULL for a NULL store or name; NB_ERR_ARG for a name that is empty, longer than
 * NB_PARAM_NAME_MAX, already in the store, or holds a character outside
 * [A-Za-z0-9_.:/-], and for a bad kind; NB_ERR_STATE after nb_params_finalize;
 * shape errors as for nb_tensor_zeros; NB_ERR_NOMEM. On error the store is unchanged.
 * Names are hierarchical by convention: "dense_1.kernel", "conv2d.bias". */
nb_tensor *nb_params_add(nb_params *ps, const char *name, nb_param_kind kind, int ndim,
                         const int64_t *shape);

/* Fixes the layout: the arenas are trimmed to their exact size and never move again;
 * nb_params_add fails from then on. Calling it again does nothing. NB_ERR_NOMEM (the
 * store unchanged and not finalized) if the trimmed arenas cannot be had. */
nb_status nb_params_finalize(nb_params *ps);
bool nb_params_finalized(const nb_params *ps);

/* ---- entries, in the order they were added ---- */

int64_t nb_params_count(const nb_params *ps);
/* Entry i (0 <= i < count), or NULL. */
nb_tensor *nb_params_at(const nb_params *ps, int64_t i);
const char *nb_params_name(const nb_params *ps, int64_t i);
nb_param_kind nb_params_kind(const nb_params *ps, int64_t i);
/* Where entry i starts in the value arena (and, for a parameter, in the grad arena), in
 * floats; -1 for a bad index. Valid until the next nb_params_add. */
int64_t nb_params_offset(const nb_params *ps, int64_t i);
/* The entry named `name`, or NULL (no error is recorded: not found is an answer). */
nb_tensor *nb_params_find(const nb_params *ps, const char *name);
/* Its index, or -1. */
int64_t nb_params_index(const nb_params *ps, const char *name);

/* ---- the arenas ---- */

/* Floats held by the entries of `kind`. */
int64_t nb_params_numel(const nb_params *ps, nb_param_kind kind);
/* The value arena: numel(NB_PARAM) parameter floats, then numel(NB_BUFFER) buffer
 * floats. NULL for an empty store. */
float *nb_params_values(const nb_params *ps);
/* The grad arena: numel(NB_PARAM) floats. NULL if the store has no parameter. */
float *nb_params_grads(const nb_params *ps);

/* Sets every gradient to zero: one memset of the grad arena. */
void nb_params_zero_grad(nb_params *ps);

/* sqrt(sum of g^2) over the grad arena, summed in double in a fixed order (the same
 * bits for any thread count). 0 for a store without parameters. */
double nb_params_grad_norm(const nb_params *ps);

/* Clip by global norm (PyTorch's clip_grad_norm_): with n = nb_params_grad_norm, if
 * n > max_norm every gradient is scaled by max_norm / (n + 1e-6). Writes n to *norm if
 * norm is not NULL. NB_ERR_ARG for max_norm not finite and positive; NB_ERR_NUMERIC,
 * with the gradients left as they are, when n is NaN or infinite. */
nb_status nb_params_clip_grad_norm(nb_params *ps, double max_norm, double *norm);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_PARAMS_H */
