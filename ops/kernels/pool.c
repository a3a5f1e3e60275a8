/*
 * ops/kernels/pool.c - the option and geometry checks shared by the 2-D pooling ops.
 */
#include <inttypes.h>

#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/kernels.h"

nb_status nb_op_shape_pool2d(nb_op_ctx *ctx, int *ndim, int64_t shape[NB_MAX_DIMS])
{
    const nb_tensor *x = nb_op_input(ctx, 0);
    const nb_pool2d_opts *o = nb_op_params(ctx);
    char sx[128];
    nb_tensor_shape_str(x, sx, sizeof sx);
    if (x->ndim != 4)
        return nb_op_error(ctx, NB_ERR_SHAPE, "input must be 4-D [N,C,H,W], got %s", sx);
    if (o->kernel_h < 1 || o->kernel_w < 1)
        return nb_op_error(ctx, NB_ERR_ARG, "kernel %dx%d must be positive", o->kernel_h,
                           o->kernel_w);
    if (o->stride_h < 1 || o->stride_w < 1)
        return nb_op_error(ctx, NB_ERR_ARG, "stride %dx%d must be positive", o->stride_h,
                           o->stride_w);
    if (o->pad_top < 0 || o->pad_bottom < 0 || o->pad_left < 0 || o->pad_right < 0)
        return nb_op_error(ctx, NB_ERR_ARG, "padding (top %d, bottom %d, left %d, right %d) "
                           "must not be negative", o->pad_top, o->pad_bottom, o->pad_left,
                           o->pad_right);
    const int pads[4] = {o->pad_top, o->pad_bottom, o->pad_left, o->pad_right};
    for (int k = 0; k < 4; k++) {
        int kernel = k < 2 ? o->kernel_h : o->kernel_w;
        if (pads[k] > kernel / 2)
            return nb_op_error(ctx, NB_ERR_ARG, "padding %d must be at most half the kernel %d",
                               pads[k], kernel);
    }
    /* Padding alone would make windows with no input pixel: nothing to take a max or a
     * mean of (and avg_pool2d's count would be 0). */
    if (x->shape[2] == 0 || x->shape[3] == 0)
        return nb_op_error(ctx, NB_ERR_SHAPE, "input %s has empty image planes (H and W must "
                           "be at least 1)", sx);
    int64_t Hp = x->shape[2] + o->pad_top + o->pad_bottom;
    int64_t Wp = x->shape[3] + o->pad_left + o->pad_right;
    if (Hp < o->kernel_h || Wp < o->kernel_w)
        return nb_op_error(ctx, NB_ERR_SHAPE, "kernel %dx%d is larger than the padded input "
                           "%s (padded to %" PRId64 "x%" PRId64 ")", o->kernel_h, o->kernel_w,
                           sx, Hp, Wp);
    *ndim = 4;
    shape[0] = x->shape[0];
    shape[1] = x->shape[1];
    shape[2] = (Hp - o->kernel_h) / o->stride_h + 1;
    shape[3] = (Wp - o->kernel_w) / o->stride_w + 1;
    return NB_OK;
}
