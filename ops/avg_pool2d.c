/*
 * avg_pool2d: x [N,C,H,W] -> y [N,C,H_out,W_out], the mean over a kH x kW window of the
 * zero-padded input:
 *     y[n,c,i,j] = (1 / D) sum_{a<kH, b<kW} x[n,c, i sh - pt + a, j sw - pl + b]
 *     H_out = (H + pt + pb - kH) / sh + 1                (likewise W_out)
 * with the divisor D = kH kW (count_include_pad) or the number of input pixels in the
 * window (not count_include_pad). Backward spreads each output's gradient over its window:
 *     dx[n,c,h,w] += sum over windows (i,j) holding (h,w) of dy[n,c,i,j] / D(i,j)
 *
 * Each padding must be at most half its kernel (as in PyTorch), so every window holds at
 * least one input pixel and D > 0. Windows overlap when the stride is below the kernel,
 * so backward is parallel over the (n, c) planes only, each plane added up in a fixed
 * order: the same bits for any thread count.
 */
#include <inttypes.h>

#include "nabla/op.h"
#include "nabla/ops.h"

typedef struct avg_pool2d_params {
    nb_pool2d_opts o;
    bool no_opts;  /* the caller passed NULL */
} avg_pool2d_params;

static nb_status avg_pool2d_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    const nb_tensor *x = nb_op_input(ctx, 0);
    const avg_pool2d_params *p = nb_op_params(ctx);
    const nb_pool2d_opts *o = &p->o;
    char sx[128];
    nb_tensor_shape_str(x, sx, sizeof sx);
    if (p->no_opts)
        return nb_op_error(ctx, NB_ERR_ARG, "opts is NULL (use nb_pool2d_default(kH, kW))");
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

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* The input rows [h0, h1) and columns [w0, w1) of output (i, j), and its divisor. */
typedef struct avg_window {
    int64_t h0, h1, w0, w1;
    double D;
} avg_window;

static avg_window window_of(int64_t i, int64_t j, int64_t H, int64_t W,
                            const nb_pool2d_opts *o)
{
    avg_window r;
    r.h0 = i * o->stride_h - o->pad_top;
    r.w0 = j * o->stride_w - o->pad_left;
    r.h1 = min64(r.h0 + o->kernel_h, H);
    r.w1 = min64(r.w0 + o->kernel_w, W);
    r.h0 = max64(r.h0, 0);
    r.w0 = max64(r.w0, 0);
    r.D = o->count_include_pad ? (double)o->kernel_h * o->kernel_w
                               : (double)((r.h1 - r.h0) * (r.w1 - r.w0));
    return r;
}

static nb_status avg_pool2d_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const nb_tensor *x = nb_op_input(ctx, 0);
    const nb_pool2d_opts *o = &((const avg_pool2d_params *)nb_op_params(ctx))->o;
    int64_t P = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t Ho = y->shape[2], Wo = y->shape[3];
    const float *xd = x->data;
    float *yd = y->data;
    NB_PARALLEL_FOR_IF(x->size >= NB_PAR_MIN, p, P, {
        const float *xp = xd + p * H * W;
        float *yp = yd + p * Ho * Wo;
        for (int64_t i = 0; i < Ho; i++)
            for (int64_t j = 0; j < Wo; j++) {
                avg_window r = window_of(i, j, H, W, o);
                double s = 0;
                for (int64_t h = r.h0; h < r.h1; h++)
                    for (int64_t w = r.w0; w < r.w1; w++)
                        s += xp[h * W + w];
                yp[i * Wo + j] = (float)(s / r.D);
            }
    });
    return NB_OK;
}

static nb_status avg_pool2d_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    nb_tensor *dx = nb_op_grad(ctx, 0);
    const nb_pool2d_opts *o = &((const avg_pool2d_params *)nb_op_params(ctx))->o;
    int64_t P = dx->shape[0] * dx->shape[1], H = dx->shape[2], W = dx->shape[3];
    int64_t Ho = y->shape[2], Wo = y->shape[3];
    const float *g = dy->data;
    float *d = dx->data;
    /* One plane per iteration, its outputs in order: overlapping windows add up in the
     * same order for any thread count. */
    NB_PARALLEL_FOR_IF(dx->size >= NB_PAR_MIN, p, P, {
        float *dp = d + p * H * W;
        const float *gp = g + p * Ho * Wo;
        for (int64_t i = 0; i < Ho; i++)
            for (int64_t j = 0; j < Wo; j++) {
                avg_window r = window_of(i, j, H, W, o);
                float v = (float)(gp[i * Wo + j] / r.D);
                for (int64_t h = r.h0; h < r.h1; h++)
                    for (int64_t w = r.w0; w < r.w1; w++)
                        dp[h * W + w] += v;
            }
    });
    return NB_OK;
}

static const nb_op avg_pool2d_op = {
    .name = "avg_pool2d",
    .n_inputs = 1,
    .params_size = sizeof(avg_pool2d_params),
    .shape = avg_pool2d_shape,
    .forward = avg_pool2d_forward,
    .backward = avg_pool2d_backward,
};

nb_tensor *nb_avg_pool2d(nb_tensor *x, const nb_pool2d_opts *opts)
{
    avg_pool2d_params p = {.no_opts = !opts};
    if (opts)
        p.o = *opts;
    return nb_op_apply(&avg_pool2d_op, &x, 1, &p);
}
