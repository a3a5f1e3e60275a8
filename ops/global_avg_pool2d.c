/*
 * global_avg_pool2d: x [N,C,H,W] -> y [N,C], the mean of each image plane:
 *     y[n,c] = (1 / HW) sum_{h,w} x[n,c,h,w]               dx[n,c,h,w] += dy[n,c] / HW
 *
 * Each plane is summed by nb_kernel_sum (a fixed order, in double): the same bits for any
 * thread count. An empty plane (H or W of 0) has no mean and is an error.
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"
#include "nabla/kernels.h"

static nb_status global_avg_pool2d_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    const nb_tensor *x = nb_op_input(ctx, 0);
    char sx[128];
    nb_tensor_shape_str(x, sx, sizeof sx);
    if (x->ndim != 4)
        return nb_op_error(ctx, NB_ERR_SHAPE, "input must be 4-D [N,C,H,W], got %s", sx);
    if (x->shape[2] == 0 || x->shape[3] == 0)
        return nb_op_error(ctx, NB_ERR_SHAPE, "input %s has empty image planes (no mean)",
                           sx);
    *ndim = 2;
    shape[0] = x->shape[0];
    shape[1] = x->shape[1];
    return NB_OK;
}

static nb_status global_avg_pool2d_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const nb_tensor *x = nb_op_input(ctx, 0);
    int64_t P = y->size, HW = x->shape[2] * x->shape[3];
    const float *xd = x->data;
    float *yd = y->data;
    NB_PARALLEL_FOR_IF(x->size >= NB_PAR_MIN, p, P, {
        yd[p] = (float)(nb_kernel_sum(xd + p * HW, HW) / (double)HW);
    });
    return NB_OK;
}

static nb_status global_avg_pool2d_backward(nb_op_ctx *ctx, const nb_tensor *y,
                                            const nb_tensor *dy)
{
    nb_tensor *dx = nb_op_grad(ctx, 0);
    int64_t P = y->size, HW = dx->shape[2] * dx->shape[3];
    const float *g = dy->data;
    float *d = dx->data;
    NB_PARALLEL_FOR_IF(dx->size >= NB_PAR_MIN, p, P, {
        float v = (float)(g[p] / (double)HW);
        float *dp = d + p * HW;
        for (int64_t k = 0; k < HW; k++)
            dp[k] += v;
    });
    return NB_OK;
}

static const nb_op global_avg_pool2d_op = {
    .name = "global_avg_pool2d",
    .n_inputs = 1,
    .shape = global_avg_pool2d_shape,
    .forward = global_avg_pool2d_forward,
    .backward = global_avg_pool2d_backward,
};

nb_tensor *nb_global_avg_pool2d(nb_tensor *x)
{
    return nb_op_apply(&global_avg_pool2d_op, &x, 1, NULL);
}
