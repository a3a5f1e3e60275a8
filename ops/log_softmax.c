/*
 * log_softmax along axis a: with x viewed as [O, L, I] around a, each lane x[o,:,i] maps to
 *     y_l = x_l - m - log sum_k e^(x_k - m),   m = max_k x_k            (m keeps e^ finite)
 *     dx_l += dy_l - e^(y_l) sum_k dy_k
 *
 * Lane sums run in order k = 0, 1, ... in double, one thread per lane.
 */
#include <math.h>

#include "nabla/op.h"
#include "nabla/ops.h"

typedef struct log_softmax_params {
    int axis;  /* negative counts from the end */
} log_softmax_params;

/* x's shape as [O, L, I] around the (checked) axis. */
static void log_softmax_split(const nb_op_ctx *ctx, int64_t *O, int64_t *L, int64_t *I)
{
    const nb_tensor *x = nb_op_input(ctx, 0);
    const log_softmax_params *p = nb_op_params(ctx);
    int axis = p->axis < 0 ? p->axis + x->ndim : p->axis;
    *O = 1;
    *I = 1;
    for (int d = 0; d < axis; d++)
        *O *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++)
        *I *= x->shape[d];
    *L = x->shape[axis];
}

static nb_status log_softmax_shape(nb_op_ctx *ctx, int *ndim, int64_t *shape)
{
    const nb_tensor *x = nb_op_input(ctx, 0);
    const log_softmax_params *p = nb_op_params(ctx);
    if (p->axis < -x->ndim || p->axis >= x->ndim) {
        char s[128];
        return nb_op_error(ctx, NB_ERR_ARG, "axis %d is out of range for shape %s", p->axis,
                           nb_tensor_shape_str(x, s, sizeof s));
    }
    return nb_op_same_shape(ctx, 0, ndim, shape);
}

/* One lane of L elements S apart. */
static void log_softmax_lane(float *y, const float *x, int64_t L, int64_t S)
{
    float m = -INFINITY;
    for (int64_t l = 0; l < L; l++)
        m = fmaxf(m, x[l * S]);
    double sum = 0.0;
    for (int64_t l = 0; l < L; l++)
        sum += expf(x[l * S] - m);
    float log_sum = (float)log(sum);
    for (int64_t l = 0; l < L; l++)
        y[l * S] = x[l * S] - m - log_sum;
}

static nb_status log_softmax_forward(nb_op_ctx *ctx, nb_tensor *y)
{
    const float *x = nb_op_input(ctx, 0)->data;
    int64_t O, L, I;
    log_softmax_split(ctx, &O, &L, &I);
    NB_PARALLEL_FOR_IF(y->size >= NB_PAR_MIN, t, O * I, {
        int64_t base = t / I * L * I + t % I;
        log_softmax_lane(y->data + base, x + base, L, I);
    });
    return NB_OK;
}

static nb_status log_softmax_backward(nb_op_ctx *ctx, const nb_tensor *y, const nb_tensor *dy)
{
    float *dx = nb_op_grad(ctx, 0)->data;
    int64_t O, L, I;
    log_softmax_split(ctx, &O, &L, &I);
    NB_PARALLEL_FOR_IF(y->size >= NB_PAR_MIN, t, O * I, {
        int64_t base = t / I * L * I + t % I;
        const float *yl = y->data + base, *g = dy->data + base;
        float *d = dx + base;
        double sum = 0.0;
        for (int64_t l = 0; l < L; l++)
            sum += g[l * I];
        for (int64_t l = 0; l < L; l++)
            d[l * I] += g[l * I] - expf(yl[l * I]) * (float)sum;
    });
    return NB_OK;
}

static const nb_op log_softmax_op = {
    .name = "log_softmax",
    .n_inputs = 1,
    .params_size = sizeof(log_softmax_params),
    .shape = log_softmax_shape,
    .forward = log_softmax_forward,
    .backward = log_softmax_backward,
};

nb_tensor *nb_log_softmax(nb_tensor *x, int axis)
{
    log_softmax_params p = {.axis = axis};
    return nb_op_apply(&log_softmax_op, &x, 1, &p);
}
