/*
 * sub: y = a - b, broadcasting.        da = sum_broadcast(dy), db = -sum_broadcast(dy)
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"
#include "nabla/kernels.h"

static void sub_run(float *y, const float *a, int64_t sa, const float *b, int64_t sb,
                    int64_t n, const void *ud)
{
    (void)ud;
    for (int64_t k = 0; k < n; k++)
        y[k] = a[k * sa] - b[k * sb];
}

static nb_status sub_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    return nb_op_shape_broadcast(ctx, 0, 1, ndim, shape);
}

static nb_status sub_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    nb_kernel_broadcast(y, nb_op_input(ctx, 0), nb_op_input(ctx, 1), sub_run, NULL);
    return NB_OK;
}

static nb_status sub_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    (void)y;
    nb_tensor *da = nb_op_grad(ctx, 0), *db = nb_op_grad(ctx, 1);
    if (da)
        nb_kernel_unbroadcast_add(da, dy);
    if (!db)
        return NB_OK;
    const float *g = dy->data;
    int64_t n = dy->size;
    if (db->size == n) { /* not broadcast: subtract in place */
        float *d = db->data;
        NB_PARALLEL_FOR(i, n, {
            d[i] -= g[i];
        });
        return NB_OK;
    }
    /* Broadcast: sum -dy back to b's shape (negation is exact, so this is -sum(dy)). */
    nb_step_mark mark = nb_step_mark_get();
    nb_tensor *ndy = nb_tensor_step(dy->ndim, dy->shape);
    if (!ndy)
        return NB_ERR_NOMEM;
    float *s = ndy->data;
    NB_PARALLEL_FOR(i, n, {
        s[i] = -g[i];
    });
    nb_kernel_unbroadcast_add(db, ndy);
    nb_step_rewind(mark);
    return NB_OK;
}

static const nb_op sub_op = {
    .name = "sub",
    .n_inputs = 2,
    .shape = sub_shape,
    .forward = sub_forward,
    .backward = sub_backward,
};

nb_tensor *nb_sub(nb_tensor *a, nb_tensor *b)
{
    nb_tensor *in[2] = {a, b};
    return nb_op_apply(&sub_op, in, 2, NULL);
}
