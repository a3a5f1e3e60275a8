/*
 * div: y = a / b, broadcasting.              da = sum_broadcast(dy / b),
 *                                            db = sum_broadcast(-dy * y / b)
 *
 * IEEE semantics as in C and PyTorch: x / 0 is +-inf, 0 / 0 is NaN, and so are the
 * gradients there. db uses y / b (= a / b^2) as PyTorch does.
 */
#include "nabla/op.h"
#include "nabla/ops.h"
#include "nabla/parallel.h"
#include "nabla/kernels.h"

static void div_run(float *y, const float *a, int64_t sa, const float *b, int64_t sb,
                    int64_t n, const void *ud)
{
    (void)ud;
    for (int64_t k = 0; k < n; k++)
        y[k] = a[k * sa] / b[k * sb];
}

/* out = -(a / b): with a = dy * y this is the full-shape gradient of b. */
static void neg_div_run(float *y, const float *a, int64_t sa, const float *b, int64_t sb,
                        int64_t n, const void *ud)
{
    (void)ud;
    for (int64_t k = 0; k < n; k++)
        y[k] = -(a[k * sa] / b[k * sb]);
}

static nb_status div_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    return nb_op_shape_broadcast(ctx, 0, 1, ndim, shape);
}

static nb_status div_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    nb_kernel_broadcast(y, nb_op_input(ctx, 0), nb_op_input(ctx, 1), div_run, NULL);
    return NB_OK;
}

static nb_status div_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    nb_tensor *da = nb_op_grad(ctx, 0), *db = nb_op_grad(ctx, 1);
    const nb_tensor *b = nb_op_input(ctx, 1);
    const float *g = dy->data, *yd = y->data, *bd = b->data;
    int64_t n = dy->size;

    if (b->size == n && (!da || da->size == n) && (!db || db->size == n)) {
        /* No broadcasting at all: one pass, straight into the gradients. */
        float *pa = da ? da->data : NULL, *pb = db ? db->data : NULL;
        NB_PARALLEL_FOR(i, n, {
            if (pa)
                pa[i] += g[i] / bd[i];
            if (pb)
                pb[i] -= g[i] * yd[i] / bd[i];
        });
        return NB_OK;
    }

    nb_step_mark mark = nb_step_mark_get();
    nb_tensor *t = nb_tensor_step(dy->ndim, dy->shape);
    if (!t)
        return NB_ERR_NOMEM;
    if (da) {
        nb_kernel_broadcast(t, dy, b, div_run, NULL);
        nb_kernel_unbroadcast_add(da, t);
    }
    if (db) {
        float *td = t->data;
        NB_PARALLEL_FOR(i, n, {
            td[i] = g[i] * yd[i];
        });
        nb_kernel_broadcast(t, t, b, neg_div_run, NULL); /* in place: run k reads then writes k */
        nb_kernel_unbroadcast_add(db, t);
    }
    nb_step_rewind(mark);
    return NB_OK;
}

static const nb_op div_op = {
    .name = "div",
    .n_inputs = 2,
    .shape = div_shape,
    .forward = div_forward,
    .backward = div_backward,
};

nb_tensor *nb_div(nb_tensor *a, nb_tensor *b)
{
    nb_tensor *in[2] = {a, b};
    return nb_op_apply(&div_op, in, 2, NULL);
}
