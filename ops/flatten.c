/*
 * flatten: x [N, d1, ..., dk] -> y [N, d1 ... dk], the same values in row-major order
 * (copied, as nb_reshape does; a view is future work). A 1-D [N] becomes [N, 1].
 *                                                                             dx += dy
 */
#include <stdint.h>

#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/kernels.h"

static nb_status flatten_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    const nb_tensor *x = nb_op_input(ctx, 0);
    if (x->ndim < 1) {
        char sx[128];
        return nb_op_error(ctx, NB_ERR_SHAPE, "input must have a batch dimension [N,...], "
                           "got a 0-D tensor %s", nb_tensor_shape_str(x, sx, sizeof sx));
    }
    int64_t rest = 1;
    if (x->shape[0] > 0) {
        rest = x->size / x->shape[0];
    } else {
        /* [0, ...]: the rest is not bounded by the size, so check for overflow. */
        for (int d = 1; d < x->ndim; d++) {
            if (x->shape[d] > 0 && rest > INT64_MAX / x->shape[d]) {
                char sx[128];
                return nb_op_error(ctx, NB_ERR_SHAPE, "the product of the dimensions after "
                                   "the first of %s overflows",
                                   nb_tensor_shape_str(x, sx, sizeof sx));
            }
            rest *= x->shape[d];
        }
    }
    *ndim = 2;
    shape[0] = x->shape[0];
    shape[1] = rest;
    return NB_OK;
}

static const nb_op flatten_op = {
    .name = "flatten",
    .n_inputs = 1,
    .shape = flatten_shape,
    .forward = nb_op_forward_copy,
    .backward = nb_op_backward_copy,
};

nb_tensor *nb_flatten(nb_tensor *x) { return nb_op_apply(&flatten_op, &x, 1, NULL); }
