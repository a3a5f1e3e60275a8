/*
 * nabla/tensor.h - the tensor: float32, 0-D to NB_MAX_DIMS-D, contiguous row-major.
 *
 * Two lifetimes:
 *   - persistent tensors come from the nb_tensor_* constructors below and live until
 *     nb_tensor_free (parameters, data sets, anything kept across steps);
 *   - step tensors are what ops return (and nb_tensor_step); they live in step memory
 *     until nb_step_reset.
 * Tensors nabla allocates have 64-byte aligned data. A tensor can also view storage
 * that its caller owns (nb_tensor_wrap, nb_tensor_view_init): a parameter store's
 * entries view its arenas that way.
 *
 * Shapes are passed as (ndim, const int64_t *shape). NB_SHAPE(2, 3) expands to both
 * arguments: nb_tensor_zeros(NB_SHAPE(2, 3)).
 */
#ifndef NABLA_TENSOR_H
#define NABLA_TENSOR_H

#include <stdio.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NB_MAX_DIMS 6

/* The most elements a tensor may have: 2^48 (a petabyte of floats). The product of a
 * shape's non-zero dimensions is bounded by it too, so an op that multiplies some
 * dimensions of an empty tensor (or a few of them by its kernel sizes) cannot
 * overflow 64-bit arithmetic. */
#define NB_SIZE_MAX_LOG2 48
#define NB_SIZE_MAX ((int64_t)1 << NB_SIZE_MAX_LOG2)

/* Expands to `ndim, shape` for a literal shape: NB_SHAPE(4, 3) -> 2, (int64_t[]){4, 3}. */
#define NB_SHAPE(...) \
    (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]){__VA_ARGS__}

typedef struct nb_node nb_node;
typedef struct nb_tensor nb_tensor;

/* Who owns a tensor's header and data (what nb_tensor_free releases). */
typedef enum nb_storage {
    NB_STORAGE_STEP = 0,   /* step memory: released by nb_step_reset */
    NB_STORAGE_OWNED,      /* header and data from one nabla allocation */
    NB_STORAGE_WRAPPED,    /* header from nabla, data the caller's (nb_tensor_wrap) */
    NB_STORAGE_VIEW,       /* header and data the caller's (nb_tensor_view_init) */
} nb_storage;

/* Fields are public to read; change them only through the functions in this header. */
struct nb_tensor {
    float *data;                  /* `size` floats, row-major */
    int64_t shape[NB_MAX_DIMS];   /* shape[0..ndim-1]; the rest are 1 */
    int64_t size;                 /* product of the shape (1 for 0-D) */
    int ndim;
    bool requires_grad;           /* gradients flow to / through this tensor */
    bool persistent;              /* outlives the step (any storage but NB_STORAGE_STEP) */
    nb_tensor *grad;              /* gradient, same shape; set on tensors that require grad */
    nb_node *node;                /* the op that made this tensor, if it was recorded */
    /* Bookkeeping, read-only: */
    nb_storage storage;
    bool free_pending;            /* freed while a recorded graph used it (see nb_tensor_free) */
    uint64_t step;                /* step tensors: the step (nb_step_id) that made it;
                                     persistent: the last step whose graph recorded it */
};

/* "This optional input is absent." Pass it where an op takes an optional tensor (one
 * its descriptor marks NB_INPUT_OPTIONAL, nabla/op.h), e.g. nb_conv2d(x, w, NB_NONE,
 * &opts) for a convolution without bias. It is not a tensor: use it only as an argument.
 * (NULL is never "absent": it is the result of a failed op, and an error.) */
extern nb_tensor nb_none_tensor_;
#define NB_NONE (&nb_none_tensor_)

/* ---- constructors: each returns a persistent tensor, or NULL and an error
 * (NB_ERR_SHAPE for ndim outside [0, NB_MAX_DIMS] or a negative dimension, NB_ERR_NOMEM).
 * The caller owns it and releases it with nb_tensor_free. ---- */

nb_tensor *nb_tensor_zeros(int ndim, const int64_t *shape);
nb_tensor *nb_tensor_ones(int ndim, const int64_t *shape);
nb_tensor *nb_tensor_full(int ndim, const int64_t *shape, float value);
/* Copies shape-product floats from `data`. */
nb_tensor *nb_tensor_from(int ndim, const int64_t *shape, const float *data);
/* A 0-D tensor holding `value`. */
nb_tensor *nb_tensor_scalar(float value);
/* 1-D: start, start+step, ... while < stop (> stop for a negative step). step == 0 is
 * NB_ERR_ARG. */
nb_tensor *nb_tensor_arange(float start, float stop, float step);
/* Uniform in [lo, hi) and normal(mean, std). Element i depends only on (seed, i): the
 * same seed gives the same numbers on every run and every thread count. */
nb_tensor *nb_tensor_rand(int ndim, const int64_t *shape, float lo, float hi, uint64_t seed);
nb_tensor *nb_tensor_randn(int ndim, const int64_t *shape, float mean, float std, uint64_t seed);
/* A persistent copy of t's values (not its graph, not its grad). */
nb_tensor *nb_tensor_clone(const nb_tensor *t);

/* A persistent tensor whose data is the caller's `data` (at least the shape's product
 * of floats, any alignment): nabla allocates only the header. nb_tensor_free releases
 * the header (and a grad made by nb_tensor_set_requires_grad), never `data`. NULL and
 * NB_ERR_NULL for NULL data with a non-empty shape; shape errors and NB_ERR_NOMEM as
 * for the constructors above. */
nb_tensor *nb_tensor_wrap(int ndim, const int64_t *shape, float *data);

/* Makes *t a persistent tensor over the caller's `data`, with a header the caller owns
 * too (embedded in a struct of theirs): nothing is allocated, and nb_tensor_free(t) is
 * a no-op. Its grad, if any, is set by the owner (t->grad = another view) -- marking it
 * with nb_tensor_set_requires_grad allocates none. Errors as for nb_tensor_wrap. */
nb_status nb_tensor_view_init(nb_tensor *t, int ndim, const int64_t *shape, float *data);

/* A step tensor (lives until nb_step_reset) with no graph and unspecified contents, for
 * scratch space. NULL on NB_ERR_NOMEM or a bad shape. */
nb_tensor *nb_tensor_step(int ndim, const int64_t *shape);

/* Releases a persistent tensor and its grad. NULL is allowed; a step tensor or a view
 * is left to its owner (no-op). A tensor that an op recorded in the current step still
 * uses is released when the step ends instead (backward may still read it): freeing
 * the parameters before nb_backward is safe. Freeing a tensor twice is not. */
void nb_tensor_free(nb_tensor *t);

/* True if an op recorded in the current step uses t as an input, so backward may
 * still read it or write its grad. */
bool nb_tensor_in_graph(const nb_tensor *t);

/* ---- gradients ---- */

/* Marks a leaf tensor as a parameter: backward accumulates into t->grad, which is
 * allocated here (zeros) with t's lifetime unless t already has one. Unmarking keeps
 * the grad (marking again reuses it). Changes apply to ops recorded afterwards: a graph
 * already recorded keeps the flags it was recorded with. Fails with NB_ERR_STATE on a
 * tensor that an op produced (it already has a graph) or a view without a grad (its
 * owner provides the grad), and NB_ERR_NOMEM. */
nb_status nb_tensor_set_requires_grad(nb_tensor *t, bool requires_grad);

/* Sets t->grad to zeros (no-op if t has no grad). */
void nb_tensor_zero_grad(nb_tensor *t);

/* ---- queries ---- */

int nb_tensor_ndim(const nb_tensor *t);
int64_t nb_tensor_size(const nb_tensor *t);
/* Size of dimension `dim`; negative counts from the end. -1 if out of range. */
int64_t nb_tensor_dim(const nb_tensor *t, int dim);
/* True if a and b have the same shape. */
bool nb_tensor_same_shape(const nb_tensor *a, const nb_tensor *b);
/* The single value of a tensor with size 1 (NAN and NB_ERR_SHAPE otherwise). */
float nb_tensor_item(const nb_tensor *t);
/* Writes the shape as "[4,3]" into buf (always NUL-terminated); returns buf. */
char *nb_tensor_shape_str(const nb_tensor *t, char *buf, size_t n);
char *nb_shape_str(int ndim, const int64_t *shape, char *buf, size_t n);

/* ---- data in and out (no graph is recorded) ---- */

/* Copies t's values to dst (t->size floats). */
void nb_tensor_copy_to(const nb_tensor *t, float *dst);
/* Copies t->size floats from src into t. */
void nb_tensor_copy_from(nb_tensor *t, const float *src);
/* Copies src's values into dst; NB_ERR_SHAPE if sizes differ. */
nb_status nb_tensor_assign(nb_tensor *dst, const nb_tensor *src);
void nb_tensor_fill(nb_tensor *t, float value);
/* In-place y += alpha * x (same size), e.g. a gradient-descent update
 * nb_tensor_axpy(w, -lr, w->grad). NB_ERR_SHAPE if sizes differ. */
nb_status nb_tensor_axpy(nb_tensor *y, float alpha, const nb_tensor *x);

/* Prints shape and values (at most `max_per_dim` per dimension, 0 for all). */
void nb_tensor_print(const nb_tensor *t, FILE *f, int max_per_dim);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_TENSOR_H */
