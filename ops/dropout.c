/*
 * dropout (inverted), training with probability p:
 *     m_i = [nb_rng_uniform(seed, i) >= p],   y_i = x_i m_i / (1 - p)
 *     dx_i += dy_i m_i / (1 - p)
 * Not training, or p = 0:  y = x,  dx += dy.
 *
 * The mask is a pure function of (seed, i): backward draws it again, so nothing is
 * saved, and it is the same for every run and thread count.
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"
#include "nabla/kernels.h"

typedef struct dropout_params {
    float p;          /* probability of zeroing an element, in [0, 1) */
    bool training;
    uint64_t seed;
} dropout_params;

/* True if the op is the identity (no mask). */
static bool dropout_is_identity(const dropout_params *p) { return !p->training || p->p == 0; }

static nb_status dropout_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    const dropout_params *p = nb_op_params(ctx);
    if (!(p->p >= 0 && p->p < 1))
        return nb_op_error(ctx, NB_ERR_ARG, "p must be in [0, 1), got %g", (double)p->p);
    return nb_op_shape_same(ctx, ndim, shape);
}

static nb_status dropout_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const dropout_params *p = nb_op_params(ctx);
    const float *x = nb_op_input(ctx, 0)->data;
    float *yd = y->data;
    int64_t n = y->size;
    if (dropout_is_identity(p)) {
        NB_PARALLEL_FOR(i, n, {
            yd[i] = x[i];
        });
        return NB_OK;
    }
    float scale = 1.0f / (1.0f - p->p);
    NB_PARALLEL_FOR(i, n, {
        yd[i] = nb_rng_uniform(p->seed, (uint64_t)i) >= p->p ? x[i] * scale : 0.0f;
    });
    return NB_OK;
}

static nb_status dropout_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    const dropout_params *p = nb_op_params(ctx);
    nb_tensor *dx = nb_op_grad(ctx, 0);
    const float *g = dy->data;
    float *d = dx->data;
    int64_t n = y->size;
    if (dropout_is_identity(p)) {
        NB_PARALLEL_FOR(i, n, {
            d[i] += g[i];
        });
        return NB_OK;
    }
    float scale = 1.0f / (1.0f - p->p);
    NB_PARALLEL_FOR(i, n, {
        if (nb_rng_uniform(p->seed, (uint64_t)i) >= p->p)
            d[i] += g[i] * scale;
    });
    return NB_OK;
}

static const nb_op dropout_op = {
    .name = "dropout",
    .n_inputs = 1,
    .params_size = sizeof(dropout_params),
    .shape = dropout_shape,
    .forward = dropout_forward,
    .backward = dropout_backward,
};

nb_tensor *nb_dropout(nb_tensor *x, float p, bool training, uint64_t seed)
{
    dropout_params params = {.p = p, .training = training, .seed = seed};
    return nb_op_apply(&dropout_op, &x, 1, &params);
}
