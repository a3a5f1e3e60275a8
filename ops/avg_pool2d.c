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
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"
#include "nabla/kernels.h"

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
    const nb_pool2d_opts *o = nb_op_params(ctx);
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
    const nb_pool2d_opts *o = nb_op_params(ctx);
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
    .params_size = sizeof(nb_pool2d_opts),
    .shape = nb_op_shape_pool2d,
    .forward = avg_pool2d_forward,
    .backward = avg_pool2d_backward,
};

nb_tensor *nb_avg_pool2d(nb_tensor *x, const nb_pool2d_opts *opts)
{
    if (!opts && x) /* a NULL x carries an earlier failure: nb_op_apply reports it */
        return nb_op_fail(&avg_pool2d_op, NB_ERR_ARG, "opts is NULL (use nb_pool2d_default(kH, kW))");
    return nb_op_apply(&avg_pool2d_op, &x, 1, opts);
}
