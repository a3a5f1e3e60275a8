/*
 * ops/kernels/loss.c - what the loss ops share: checking the reduction, the shape of a
 * loss of two same-shape inputs, reducing the per-term losses in forward, and the
 * factor dout gives each term in backward.
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/kernels.h"

nb_status nb_op_check_reduction(nb_op_ctx *ctx, nb_reduction reduction)
{
    int r = (int)reduction;
    if (r < NB_REDUCE_MEAN || r > NB_REDUCE_NONE)
        return nb_op_error(ctx, NB_ERR_ARG, "invalid reduction %d (expected NB_REDUCE_MEAN, "
                                            "NB_REDUCE_SUM or NB_REDUCE_NONE)", r);
    return NB_OK;
}

nb_status nb_op_shape_loss(nb_op_ctx *ctx, nb_reduction reduction, int *ndim,
                           int64_t shape[NB_MAX_DIMS])
{
    const nb_tensor *a = nb_op_input(ctx, 0), *b = nb_op_input(ctx, 1);
    nb_status s = nb_op_check_reduction(ctx, reduction);
    if (s != NB_OK)
        return s;
    if (!nb_tensor_same_shape(a, b)) {
        char sa[128], sb[128];
        return nb_op_error(ctx, NB_ERR_SHAPE, "shapes differ: %s and %s",
                           nb_tensor_shape_str(a, sa, sizeof sa),
                           nb_tensor_shape_str(b, sb, sizeof sb));
    }
    if (reduction == NB_REDUCE_NONE)
        return nb_op_shape_same(ctx, ndim, shape);
    *ndim = 0;
    return NB_OK;
}

float *nb_op_loss_begin(nb_tensor *out, nb_reduction reduction, int64_t n,
                        nb_step_mark *mark)
{
    *mark = nb_step_mark_get();
    if (reduction == NB_REDUCE_NONE)
        return out->data;
    return nb_step_alloc((size_t)n * sizeof(float));
}

void nb_op_loss_end(nb_tensor *out, nb_reduction reduction, const float *l, int64_t n,
                    nb_step_mark mark)
{
    if (reduction == NB_REDUCE_NONE)
        return;
    double s = nb_kernel_sum(l, n);
    out->data[0] = (float)(reduction == NB_REDUCE_MEAN ? s / (double)n : s);
    nb_step_rewind(mark);
}

float nb_op_loss_scale(nb_reduction reduction, const float *dout, int64_t n)
{
    switch (reduction) {
    case NB_REDUCE_SUM:
        return dout[0];
    case NB_REDUCE_MEAN:
        return (float)(dout[0] / (double)n);
    default:
        return 0.0f;
    }
}
