/*
 * max_pool2d: x [N,C,H,W] -> y [N,C,H_out,W_out], the maximum over a kH x kW window of
 * the input padded with -inf:
 *     y[n,c,i,j] = max_{a<kH, b<kW} x[n,c, i sh - pt + a, j sw - pl + b]
 *     H_out = (H + pt + pb - kH) / sh + 1                (likewise W_out)
 * Backward sends each output's gradient to its window's arg-max (saved by forward):
 *     dx[n,c,argmax(n,c,i,j)] += dy[n,c,i,j]
 *
 * The arg-max is the first maximum in row-major window order (so a constant window sends
 * everything to its first pixel). A NaN beats every number, as in PyTorch: a window
 * holding NaN gives NaN, and its gradient goes to the window's first NaN. Each padding
 * must be at most half its kernel (as in PyTorch), so every window holds at least one
 * input pixel and no output is -inf from padding alone.
 *
 * Windows overlap when the stride is below the kernel, so backward is parallel over the
 * (n, c) planes only, each plane added up in a fixed order: the same bits for any
 * thread count.
 */
#include <stdint.h>
#include <string.h>

#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"
#include "nabla/kernels.h"

nb_pool2d_opts nb_pool2d_default(int kernel_h, int kernel_w)
{
    return (nb_pool2d_opts){
        .kernel_h = kernel_h, .kernel_w = kernel_w,
        .stride_h = kernel_h, .stride_w = kernel_w,
        .count_include_pad = true,
    };
}

static nb_status max_pool2d_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    nb_status s = nb_op_shape_pool2d(ctx, ndim, shape);
    if (s != NB_OK)
        return s;
    const nb_tensor *x = nb_op_input(ctx, 0);
    /* Arg-max offsets are int32 (an empty batch stores none). */
    if (x->size > 0 && x->shape[2] * x->shape[3] > INT32_MAX) {
        char sx[128];
        return nb_op_error(ctx, NB_ERR_SHAPE, "an image plane of %s has more than 2^31 - 1 "
                           "pixels", nb_tensor_shape_str(x, sx, sizeof sx));
    }
    return NB_OK;
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* True if v replaces the current maximum m: larger, or the first NaN. Bitwise, so the
 * compiler can select without branching. */
static inline bool beats(float v, float m) { return (v > m) | ((v != v) & (m == m)); }

/* Output rows [i0, i1) of one plane: y [Ho,Wo] and, if arg is not NULL, the flat offset
 * in x [H,W] of each output's first maximum. */
static void max_pool2d_plane_general(const float *x, float *y, int32_t *arg, int64_t H,
                                     int64_t W, int64_t Wo, const nb_pool2d_opts *o,
                                     int64_t i0, int64_t i1)
{
    for (int64_t i = i0; i < i1; i++) {
        int64_t h0 = i * o->stride_h - o->pad_top;
        int64_t h1 = min64(h0 + o->kernel_h, H);
        h0 = max64(h0, 0);
        for (int64_t j = 0; j < Wo; j++) {
            int64_t w0 = j * o->stride_w - o->pad_left;
            int64_t w1 = min64(w0 + o->kernel_w, W);
            w0 = max64(w0, 0);
            /* Padding is -inf: only input pixels compete (there is at least one). */
            int64_t best = h0 * W + w0;
            float m = x[best];
            for (int64_t h = h0; h < h1; h++)
                for (int64_t w = w0; w < w1; w++)
                    if (beats(x[h * W + w], m)) {
                        m = x[h * W + w];
                        best = h * W + w;
                    }
            y[i * Wo + j] = m;
            if (arg)
                arg[i * Wo + j] = (int32_t)best;
        }
    }
}

static inline uint32_t bits(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

/* The common 2x2 / stride 2 / no padding case of max_pool2d_plane. A row of outputs is
 * first computed as if it held no NaN, with branch-free selects (on random data every
 * branch would be a coin toss): the max, then the first window position holding it. A
 * row with a NaN is done again by the general loop. */
static void max_pool2d_plane_2x2(const float *x, float *y, int32_t *arg, int64_t H,
                                 int64_t W, int64_t Ho, int64_t Wo, const nb_pool2d_opts *o)
{
    const int32_t W32 = (int32_t)W;
    for (int64_t i = 0; i < Ho; i++) {
        const float *restrict r0 = x + 2 * i * W, *restrict r1 = r0 + W;
        float *restrict yi = y + i * Wo;
        int32_t *restrict ai = arg ? arg + i * Wo : NULL;
        int32_t k0 = (int32_t)(2 * i * W);
        int nan = 0;
        for (int64_t j = 0; j < Wo; j++) {
            float a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1];
            float m = a;
            m = b > m ? b : m;
            m = c > m ? c : m;
            m = d > m ? d : m;
            yi[j] = m;
            nan |= (a != a) | (b != b) | (c != c) | (d != d);
        }
        if (ai)
            for (int64_t j = 0; j < Wo; j++) {
                /* The first of a, b, c, d holding the max's bits (m is one of them, and
                 * those before it are smaller), by selects from the last. */
                uint32_t a = bits(r0[2 * j]), b = bits(r0[2 * j + 1]), c = bits(r1[2 * j]);
                uint32_t m = bits(yi[j]);
                int32_t at = W32 + 1;
                at = c == m ? W32 : at;
                at = b == m ? 1 : at;
                at = a == m ? 0 : at;
                ai[j] = k0 + (int32_t)(2 * j) + at;
            }
        if (nan)
            max_pool2d_plane_general(x, y, arg, H, W, Wo, o, i, i + 1);
    }
}

/* One plane: y [Ho,Wo] and, if arg is not NULL, the flat offset in x [H,W] of each
 * output's first maximum. */
static void max_pool2d_plane(const float *x, float *y, int32_t *arg, int64_t H, int64_t W,
                             int64_t Ho, int64_t Wo, const nb_pool2d_opts *o)
{
    if (o->kernel_h == 2 && o->kernel_w == 2 && o->stride_h == 2 && o->stride_w == 2 &&
        o->pad_top == 0 && o->pad_bottom == 0 && o->pad_left == 0 && o->pad_right == 0)
        max_pool2d_plane_2x2(x, y, arg, H, W, Ho, Wo, o);
    else
        max_pool2d_plane_general(x, y, arg, H, W, Wo, o, 0, Ho);
}

static nb_status max_pool2d_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const nb_tensor *x = nb_op_input(ctx, 0);
    const nb_pool2d_opts *o = nb_op_params(ctx);
    int64_t P = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t Ho = y->shape[2], Wo = y->shape[3];
    int32_t *arg = NULL;
    if (nb_op_needs_grad(ctx)) {
        arg = nb_op_save(ctx, (size_t)y->size * sizeof *arg);
        if (!arg)
            return NB_ERR_NOMEM;
    }
    const float *xd = x->data;
    float *yd = y->data;
    NB_PARALLEL_FOR_IF(x->size >= NB_PAR_MIN, p, P, {
        max_pool2d_plane(xd + p * H * W, yd + p * Ho * Wo, arg ? arg + p * Ho * Wo : NULL, H,
                         W, Ho, Wo, o);
    });
    return NB_OK;
}

static nb_status max_pool2d_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    nb_tensor *dx = nb_op_grad(ctx, 0);
    const int32_t *arg = nb_op_saved(ctx);
    int64_t P = dx->shape[0] * dx->shape[1], HW = dx->shape[2] * dx->shape[3];
    int64_t HWo = y->shape[2] * y->shape[3];
    const float *g = dy->data;
    float *d = dx->data;
    /* One plane per iteration, its outputs in order: overlapping windows add up in the
     * same order for any thread count. */
    NB_PARALLEL_FOR_IF(dx->size >= NB_PAR_MIN, p, P, {
        float *dp = d + p * HW;
        const float *gp = g + p * HWo;
        const int32_t *ap = arg + p * HWo;
        for (int64_t k = 0; k < HWo; k++)
            dp[ap[k]] += gp[k];
    });
    return NB_OK;
}

static const nb_op max_pool2d_op = {
    .name = "max_pool2d",
    .n_inputs = 1,
    .params_size = sizeof(nb_pool2d_opts),
    .shape = max_pool2d_shape,
    .forward = max_pool2d_forward,
    .backward = max_pool2d_backward,
};

nb_tensor *nb_max_pool2d(nb_tensor *x, const nb_pool2d_opts *opts)
{
    if (!opts && x) /* a NULL x carries an earlier failure: nb_op_apply reports it */
        return nb_op_fail(&max_pool2d_op, NB_ERR_ARG, "opts is NULL (use nb_pool2d_default(kH, kW))");
    return nb_op_apply(&max_pool2d_op, &x, 1, opts);
}
