/*
 * bce: binary cross-entropy of probabilities p and targets y (same shape, no
 * broadcasting), with each log clamped at -100 as in PyTorch:
 *
 *     L(x) = max(ln x, -100)
 *     l_i = -(y_i L(p_i) + (1 - y_i) L(1 - p_i)),   out = mean(l) | sum(l) | l
 *
 *     dp_i = g_i (-y_i L'(p_i) + (1 - y_i) L'(1 - p_i))
 *     dy_i = g_i (L(1 - p_i) - L(p_i))
 *
 * with g_i = dout_i (NONE), dout (SUM) or dout / n (MEAN, n = number of elements), and
 *
 *     L'(x) = 1 / max(x, 1e-12)   where ln x > -100,
 *             0                   where the clamp holds (x <= e^-100, x = 0 included).
 *
 * L' is the derivative of the clamped log, except that 1/x is capped at 1e12 (PyTorch's
 * BCE epsilon) for 0 < x < 1e-12, so the gradient is finite for every p in [0, 1]:
 *     p = 0: dp = g (1 - y),  dy = 100 g;     p = 1: dp = -g y,  dy = -100 g.
 * Where no log is clamped and p (1 - p) >= 1e-12, dp is computed in the equal form
 * g (p - y) / (p (1 - p)), which does not cancel when p is close to a soft target y;
 * this is PyTorch's formula there. (PyTorch's g (p - y) / max(p (1 - p), 1e-12) used
 * everywhere gives 0 or about +-1e12 at p = 0 or 1 instead of the derivative of the
 * clamped expression.)
 * L(1 - p) is computed as log1p(-p). p outside [0, 1], or NaN, gives a NaN loss and
 * NaN gradients (the clamp is only for p in [0, 1]). The losses
 * are summed with nb_kernel_sum: the same bits for any thread count.
 */
#include <math.h>

#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"
#include "nabla/kernels.h"

#define LOG_MIN (-100.0f)
#define EPS 1e-12f

typedef struct bce_params {
    nb_reduction reduction;
} bce_params;

/* True for p in [0, 1] (false for NaN). */
static inline bool in_unit(float p) { return p >= 0.0f && p <= 1.0f; }

/* The clamped log L(x), L(1 - x) (by log1p, accurate for small x), and L'(x) as above.
 * The clamp applies only inside [0, 1]: NaN or a value outside gives NaN (fmaxf alone
 * would turn a NaN log into -100). */
static inline float clamped_log(float x) { return in_unit(x) ? fmaxf(logf(x), LOG_MIN) : NAN; }
static inline float clamped_log1m(float x)
{
    return in_unit(x) ? fmaxf(log1pf(-x), LOG_MIN) : NAN;
}

static inline float clamped_log_grad(float x, float lx)
{
    return lx > LOG_MIN ? 1.0f / fmaxf(x, EPS) : 0.0f;
}

static nb_status bce_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    const bce_params *prm = nb_op_params(ctx);
    return nb_op_shape_loss(ctx, prm->reduction, ndim, shape);
}

static nb_status bce_forward(nb_op_ctx *ctx, nb_tensor *out)
{
    const bce_params *prm = nb_op_params(ctx);
    const nb_tensor *p = nb_op_input(ctx, 0), *y = nb_op_input(ctx, 1);
    const float *pd = p->data, *yd = y->data;
    int64_t n = p->size;

    nb_step_mark mark;
    float *l = nb_op_loss_begin(out, prm->reduction, n, &mark);
    if (!l)
        return NB_ERR_NOMEM;
    NB_PARALLEL_FOR(i, n, {
        l[i] = -(yd[i] * clamped_log(pd[i]) + (1.0f - yd[i]) * clamped_log1m(pd[i]));
    });
    nb_op_loss_end(out, prm->reduction, l, n, mark);
    return NB_OK;
}

static nb_status bce_backward(nb_op_ctx *ctx, const nb_tensor *out, const nb_tensor *dout)
{
    (void)out;
    const bce_params *prm = nb_op_params(ctx);
    const nb_tensor *p = nb_op_input(ctx, 0), *y = nb_op_input(ctx, 1);
    nb_tensor *dp = nb_op_grad(ctx, 0), *dy = nb_op_grad(ctx, 1);
    const float *pd = p->data, *yd = y->data, *g = dout->data;
    float *dpd = dp ? dp->data : NULL, *dyd = dy ? dy->data : NULL;
    int64_t n = p->size;
    bool none = prm->reduction == NB_REDUCE_NONE;
    float scale = nb_op_loss_scale(prm->reduction, g, n);
    NB_PARALLEL_FOR(i, n, {
        float gi = none ? g[i] : scale, q = 1.0f - pd[i], pq = pd[i] * q;
        float lp = clamped_log(pd[i]), lq = clamped_log1m(pd[i]);
        if (dpd) {
            if (!in_unit(pd[i]))
                dpd[i] += NAN; /* NaN in, NaN out (dy gets NaN from lq - lp too) */
            else if (lp > LOG_MIN && lq > LOG_MIN && pq >= EPS)
                dpd[i] += gi * (pd[i] - yd[i]) / pq;
            else
                dpd[i] += gi * (-yd[i] * clamped_log_grad(pd[i], lp) +
                                (1.0f - yd[i]) * clamped_log_grad(q, lq));
        }
        if (dyd)
            dyd[i] += gi * (lq - lp);
    });
    return NB_OK;
}

static const nb_op bce_op = {
    .name = "bce",
    .n_inputs = 2,
    .params_size = sizeof(bce_params),
    .shape = bce_shape,
    .forward = bce_forward,
    .backward = bce_backward,
};

nb_tensor *nb_bce(nb_tensor *p, nb_tensor *y, nb_reduction reduction)
{
    nb_tensor *in[2] = {p, y};
    bce_params prm = {.reduction = reduction};
    return nb_op_apply(&bce_op, in, 2, &prm);
}
