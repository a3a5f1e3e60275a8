/*
 * reshape: y = x with a new shape of the same size (values copied in row-major order;
 * a view is future work)                                                    dx += dy
 *
 * One dimension may be -1: it is inferred from the size of x.
 */
#include <inttypes.h>
#include <string.h>

#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/kernels.h"

typedef struct reshape_params {
    int ndim;                     /* as given; checked by reshape_shape */
    int64_t shape[NB_MAX_DIMS];   /* as given, one entry may be -1 */
    bool no_shape;                /* the caller passed a NULL shape */
} reshape_params;

static nb_status reshape_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    const nb_tensor *x = nb_op_input(ctx, 0);
    const reshape_params *p = nb_op_params(ctx);
    char sx[128], sy[128];
    if (p->ndim < 0 || p->ndim > NB_MAX_DIMS)
        return nb_op_error(ctx, NB_ERR_ARG, "ndim %d is outside [0, %d]", p->ndim,
                           NB_MAX_DIMS);
    if (p->no_shape && p->ndim > 0)
        return nb_op_error(ctx, NB_ERR_ARG, "shape is NULL for ndim %d", p->ndim);
    nb_shape_str(p->ndim, p->shape, sy, sizeof sy);

    int infer = -1;
    bool zero = false;
    for (int d = 0; d < p->ndim; d++) {
        if (p->shape[d] == -1) {
            if (infer >= 0)
                return nb_op_error(ctx, NB_ERR_ARG, "more than one -1 dimension in %s", sy);
            infer = d;
        } else if (p->shape[d] < 0) {
            return nb_op_error(ctx, NB_ERR_ARG, "dimension %d of %s is negative (only one "
                               "-1, to be inferred, is allowed)", d, sy);
        }
        zero |= p->shape[d] == 0;
    }
    /* Product of the given dimensions, or -1 if it overflows (then it cannot match). */
    int64_t known = 1;
    for (int d = 0; d < p->ndim && !zero; d++)
        if (d != infer) {
            if (p->shape[d] > INT64_MAX / known) {
                known = -1;
                break;
            }
            known *= p->shape[d];
        }
    if (zero)
        known = 0;

    nb_tensor_shape_str(x, sx, sizeof sx);
    memcpy(shape, p->shape, (size_t)p->ndim * sizeof *shape);
    if (infer >= 0) {
        if (known == 0 && x->size == 0)
            return nb_op_error(ctx, NB_ERR_SHAPE, "cannot infer the -1 in %s for %s (%" PRId64
                               " elements): any size fits", sy, sx, x->size);
        if (known <= 0 || x->size % known != 0)
            return nb_op_error(ctx, NB_ERR_SHAPE, "cannot reshape %s (%" PRId64
                               " elements) to %s", sx, x->size, sy);
        shape[infer] = x->size / known;
    } else if (known != x->size) {
        if (known < 0)
            return nb_op_error(ctx, NB_ERR_SHAPE, "cannot reshape %s (%" PRId64
                               " elements) to %s (too many elements)", sx, x->size, sy);
        return nb_op_error(ctx, NB_ERR_SHAPE, "cannot reshape %s (%" PRId64 " elements) to %s "
                           "(%" PRId64 " elements)", sx, x->size, sy, known);
    }
    *ndim = p->ndim;
    return NB_OK;
}

static const nb_op reshape_op = {
    .name = "reshape",
    .n_inputs = 1,
    .params_size = sizeof(reshape_params),
    .shape = reshape_shape,
    .forward = nb_op_forward_copy,
    .backward = nb_op_backward_copy,
};

nb_tensor *nb_reshape(nb_tensor *x, int ndim, const int64_t *shape)
{
    reshape_params p = {.ndim = ndim, .no_shape = !shape};
    if (shape && ndim > 0 && ndim <= NB_MAX_DIMS)
        memcpy(p.shape, shape, (size_t)ndim * sizeof *shape);
    return nb_op_apply(&reshape_op, &x, 1, &p);
}
