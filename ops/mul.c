/*
 * mul: y = a * b, broadcasting.   da = sum_broadcast(dy * b), db = sum_broadcast(dy * a)
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"
#include "nabla/kernels.h"

static void mul_run(float *y, const float *a, int64_t sa, const float *b, int64_t sb,
                    int64_t n, const void *ud)
{
    (void)ud;
    for (int64_t k = 0; k < n; k++)
        y[k] = a[k * sa] * b[k * sb];
}

static nb_status mul_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    return nb_op_shape_broadcast(ctx, 0, 1, ndim, shape);
}

static nb_status mul_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    nb_kernel_broadcast(y, nb_op_input(ctx, 0), nb_op_input(ctx, 1), mul_run, NULL);
    return NB_OK;
}

/* dx += sum_broadcast(dy * other), where other is the second factor of y. */
static nb_status mul_grad(nb_tensor *dx, const nb_tensor *dy, const nb_tensor *other)
{
    int64_t n = dy->size;
    if (dx->size == n && other->size == n) { /* no broadcasting at all */
        float *d = dx->data;
        const float *g = dy->data, *o = other->data;
        NB_PARALLEL_FOR(i, n, {
            d[i] += g[i] * o[i];
        });
        return NB_OK;
    }
    nb_step_mark mark = nb_step_mark_get();
    nb_tensor *t = nb_tensor_step(dy->ndim, dy->shape);
    if (!t)
        return NB_ERR_NOMEM;
    nb_kernel_broadcast(t, dy, other, mul_run, NULL);
    nb_kernel_unbroadcast_add(dx, t);
    nb_step_rewind(mark);
    return NB_OK;
}

static nb_status mul_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    (void)y;
    nb_tensor *da = nb_op_grad(ctx, 0), *db = nb_op_grad(ctx, 1);
    nb_status s = NB_OK;
    if (da)
        s = mul_grad(da, dy, nb_op_input(ctx, 1));
    if (db && s == NB_OK)
        s = mul_grad(db, dy, nb_op_input(ctx, 0));
    return s;
}

static const nb_op mul_op = {
    .name = "mul",
    .n_inputs = 2,
    .shape = mul_shape,
    .forward = mul_forward,
    .backward = mul_backward,
};

nb_tensor *nb_mul(nb_tensor *a, nb_tensor *b)
{
    nb_tensor *in[2] = {a, b};
    return nb_op_apply(&mul_op, in, 2, NULL);
}
